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
//
// --endpoints=/health,/api/v1/backends  measure only these.
// --root=DIR     run the clinvk of another checkout's built dist/ (a baseline).
// --profile=DIR  only clinvk is driven, one round per endpoint, each under a CPU profile of the server
//                (node:inspector, 200 µs sampling) written to DIR/<endpoint>.cpuprofile; summarise with
//                `node scripts/bench/lib/cpuprofile-top.mjs DIR/<endpoint>.cpuprofile`.
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BENCH_DIR,
  ensureBuilt,
  fmt,
  makeScratch,
  parseArgs,
  pool,
  printFacts,
  runMain,
  startServerProcess,
  table,
  productionLikeConfig,
} from './lib/common.mjs';

const opts = parseArgs(process.argv.slice(2), {
  rounds: 5,
  seconds: 3,
  connections: 16,
  endpoints: '',
  profile: '',
  root: '',
});
const KEY = 'bench-key-0123456789';
const ALL_ENDPOINTS = ['/health', '/api/v1/backends', '/api/v1/sessions', '/openai/v1/models'];
const ENDPOINTS = opts.endpoints ? opts.endpoints.split(',') : ALL_ENDPOINTS;

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
  return { url, pid: child.pid, stop: () => child.kill('SIGKILL') };
}

/** User + system CPU time of a process in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMsOf(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function drive(url, pathName, headers, pid) {
  const { default: autocannon } = await import('autocannon');
  const cpu0 = cpuMsOf(pid);
  const r = await autocannon({
    url: url + pathName,
    connections: opts.connections,
    duration: opts.seconds,
    headers,
  });
  if (r.non2xx > 0) throw new Error(`${url}${pathName}: ${r.non2xx} non-2xx answers`);
  // CPU time the server spent per answered request: far less sensitive to other load on the
  // machine than req/s (printed next to it as a cross-check of the ratio).
  const cpuUs = ((cpuMsOf(pid) - cpu0) * 1000) / Math.max(1, r.requests.total);
  return { rps: r.requests.average, p99: r.latency.p99, cpuUs };
}

async function main() {
  ensureBuilt();
  printFacts('clinvk non-executing endpoints vs bare Express 5');
  const scratch = makeScratch('clinvk-bench-api-');
  // The working directory must not be an ancestor of the server's home (scratch/server-home).
  const work = path.join(scratch, 'work');
  fs.mkdirSync(work);
  const server = await startServerProcess(scratch, productionLikeConfig(), {
    env: { CLINVK_API_KEYS: KEY },
    root: opts.root ? path.resolve(opts.root) : undefined,
  });
  const auth = { 'x-api-key': KEY };
  // 100 sessions for the list endpoint.
  await pool(ENDPOINTS.includes('/api/v1/sessions') ? 100 : 0, 8, async () => {
    const res = await fetch(`${server.url}/api/v1/prompt`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ backend: 'claude', prompt: 'hi', workdir: work }),
    });
    if (res.status !== 200) throw new Error(`session set-up: ${res.status} ${await res.text()}`);
  });
  const bodies = {};
  for (const p of ENDPOINTS) {
    const res = await fetch(server.url + p, { headers: auth });
    if (res.status !== 200) throw new Error(`${p}: ${res.status}`);
    bodies[p] = await res.json();
  }
  if (opts.profile) {
    fs.mkdirSync(opts.profile, { recursive: true });
    for (const p of ENDPOINTS) {
      await drive(server.url, p, auth, server.pid); // warm-up (lazy validators, JIT)
      await server.profile();
      const r = await drive(server.url, p, auth, server.pid);
      await server.profile(path.resolve(opts.profile, `${p.slice(1).replace(/\//g, '_')}.cpuprofile`));
      console.log(`${p}: ${fmt(r.rps, 0)} req/s, p99 ${fmt(r.p99, 1)} ms, ${fmt(r.cpuUs, 0)} µs CPU/req (profiled)`);
    }
    await server.stop();
    console.log(`profiles written to ${path.resolve(opts.profile)}`);
    return;
  }
  const bare = await startBare(bodies);
  const rows = [];
  try {
    for (const p of ENDPOINTS) {
      const b = [];
      const c = [];
      for (let i = 0; i < opts.rounds; i++) {
        b.push(await drive(bare.url, p, {}, bare.pid));
        c.push(await drive(server.url, p, auth, server.pid));
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
        `${fmt(median(b.map((x) => x.cpuUs)), 0)} / ${fmt(median(c.map((x) => x.cpuUs)), 0)}`,
        fmt(median(b.map((x) => x.cpuUs)) / median(c.map((x) => x.cpuUs)), 2),
      ]);
    }
  } finally {
    bare.stop();
  }
  const idle = server.procStatus();
  console.log(
    table(
      [
        'endpoint',
        'bare req/s',
        'bare p99 ms',
        'clinvk req/s',
        'clinvk p99 ms',
        'ratio',
        'per round',
        'CPU µs/req bare / clinvk',
        'CPU ratio',
      ],
      rows,
    ),
  );
  console.log(
    `server RSS after the run: ${(idle.VmRSS / 1048576).toFixed(1)} MiB (peak ${(idle.VmHWM / 1048576).toFixed(1)} MiB)`,
  );
  await server.stop();
}

runMain(main, 15 * 60 * 1000);
