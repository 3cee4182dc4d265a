#!/usr/bin/env node
// Non-executing endpoints of clinvk vs a bare Express 5 app answering the same JSON, side by side in
// one run. Usage: node scripts/bench/api.mjs [--rounds=5] [--seconds=3] [--connections=16]
//
// clinvk runs with every feature that stays on in production: an API key (auth on), rate limiting
// enabled (with a limit far above the load), metrics, request validation and one access-log line per
// request (level info, to a file). 100 sessions exist before `GET /api/v1/sessions` is measured.
// For each endpoint the two servers are driven alternately (bare, clinvk, bare, …) for `rounds`
// rounds of `seconds` each with autocannon at `connections` connections; the table prints the
// median req/s, the median p99 latency and the ratio clinvk / bare of the medians (target ≥ 0.50).
import { fork } from 'node:child_process';
import * as path from 'node:path';
import {
  BENCH_DIR,
  FAKE_BIN,
  ensureBuilt,
  fmt,
  makeScratch,
  parseArgs,
  pool,
  printFacts,
  runMain,
  startServerProcess,
  table,
} from './lib/common.mjs';

const opts = parseArgs(process.argv.slice(2), { rounds: 5, seconds: 3, connections: 16 });
const KEY = 'bench-key-0123456789';
const ENDPOINTS = ['/health', '/api/v1/backends', '/api/v1/sessions', '/openai/v1/models'];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function startBare(bodies) {
  const child = fork(path.join(BENCH_DIR, 'lib/bare-express.mjs'), [], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ready = new Promise((resolve) => child.once('message', resolve));
  child.send({ bodies });
  const { url } = await ready;
  return { url, stop: () => child.kill('SIGKILL') };
}

async function drive(url, pathName, headers) {
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({
    url: url + pathName,
    connections: opts.connections,
    duration: opts.seconds,
    headers,
  });
  if (r.non2xx > 0) throw new Error(`${url}${pathName}: ${r.non2xx} non-2xx answers`);
  return { rps: r.requests.average, p99: r.latency.p99 };
}

async function main() {
  ensureBuilt();
  printFacts('clinvk non-executing endpoints vs bare Express 5');
  const scratch = makeScratch('clinvk-bench-api-');
  const server = await startServerProcess(
    scratch,
    {
      server: {
        host: '127.0.0.1',
        port: 0,
        log_level: 'info',
        rate_limit_enabled: true,
        rate_limit_rps: 1000000,
        rate_limit_burst: 1000000,
        metrics_enabled: true,
      },
      backends: {
        claude: { command: path.join(FAKE_BIN, 'claude') },
        codex: { command: path.join(FAKE_BIN, 'codex') },
        gemini: { command: path.join(FAKE_BIN, 'gemini') },
      },
    },
    { env: { CLINVK_API_KEYS: KEY } },
  );
  const auth = { 'x-api-key': KEY };
  // 100 sessions for the list endpoint.
  await pool(100, 8, async () => {
    const res = await fetch(`${server.url}/api/v1/prompt`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ backend: 'claude', prompt: 'hi', workdir: scratch }),
    });
    if (res.status !== 200) throw new Error(`session set-up: ${res.status} ${await res.text()}`);
  });
  const bodies = {};
  for (const p of ENDPOINTS) {
    const res = await fetch(server.url + p, { headers: auth });
    if (res.status !== 200) throw new Error(`${p}: ${res.status}`);
    bodies[p] = await res.json();
  }
  const bare = await startBare(bodies);
  const rows = [];
  try {
    for (const p of ENDPOINTS) {
      const b = [];
      const c = [];
      for (let i = 0; i < opts.rounds; i++) {
        b.push(await drive(bare.url, p, {}));
        c.push(await drive(server.url, p, auth));
      }
      const bRps = median(b.map((x) => x.rps));
      const cRps = median(c.map((x) => x.rps));
      rows.push([
        p,
        fmt(bRps, 0),
        fmt(median(b.map((x) => x.p99)), 1),
        fmt(cRps, 0),
        fmt(median(c.map((x) => x.p99)), 1),
        fmt(cRps / bRps, 2),
        c.map((x, i) => fmt(x.rps / b[i].rps, 2)).join(' '),
      ]);
    }
  } finally {
    bare.stop();
  }
  const idle = server.procStatus();
  console.log(
    table(['endpoint', 'bare req/s', 'bare p99 ms', 'clinvk req/s', 'clinvk p99 ms', 'ratio', 'per round'], rows),
  );
  console.log(
    `server RSS after the run: ${(idle.VmRSS / 1048576).toFixed(1)} MiB (peak ${(idle.VmHWM / 1048576).toFixed(1)} MiB)`,
  );
  await server.stop();
}

runMain(main, 15 * 60 * 1000);
