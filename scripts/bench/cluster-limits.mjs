#!/usr/bin/env node
// What cluster mode's shared limits cost and whether they hold (docs/cluster.md).
//
// Usage:  node scripts/bench/cluster-limits.mjs [--n=300] [--rounds=5] [--burst=200] [--limit=4]
//         (Redis: CLINVK_BENCH_REDIS_URL, default redis://127.0.0.1:6379; a fresh key prefix per run;
//          PostgreSQL for the cluster's stores: CLINVK_BENCH_POSTGRES_URL, default
//          postgres://postgres@127.0.0.1:5432/test, a fresh schema per run, dropped at the end)
//
// 1. Added latency per request, interleaved rounds of one server without cluster mode and one with it
//    (both with the rate limiter on at a limit never reached, so both pay for a bucket):
//      GET /api/v1/backends                  the rate-limit bucket (in memory vs one Lua call on Redis)
//      POST /api/v1/prompt (near-zero CLI)   bucket + admission (Lua admit) + release (MULTI) + the run
//    at concurrency 1, n requests per round; the table gives p50/p99 per variant and the difference of
//    the medians of the round medians.
// 2. Overshoot: two cluster nodes sharing `--limit` execution places take `--burst` concurrent prompts
//    (half each) against the Node fake CLI, whose start/end log lines give the most runs alive at once
//    (must be ≤ limit: overshoot = max(0, that − limit)).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  BENCH_DIR,
  FAKE_BIN,
  PG_URL,
  REDIS_URL,
  ensureBuilt,
  ensureExecutable,
  fmt,
  httpRequest,
  makeScratch,
  nowMs,
  parseArgs,
  printFacts,
  runMain,
  startServerProcess,
  summarize,
  table,
} from './lib/common.mjs';
import { dropPrefix, dropSchema } from './lib/bench-cluster.mjs';

const opts = parseArgs(process.argv.slice(2), { n: 300, rounds: 5, burst: 200, limit: 4 });

async function series(url, method, body, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const lat = [];
  for (let i = 0; i < n; i++) {
    const r = await httpRequest(agent, url, method, body);
    if (r.status !== 200) throw new Error(`${method} ${url}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    lat.push(r.ms);
  }
  agent.destroy();
  return summarize(lat);
}

function maxOverlap(logFile) {
  const lines = fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const probes = new Set(lines.filter((e) => e.argv?.[0] === '--version').map((e) => e.pid));
  const points = lines
    .filter((e) => !probes.has(e.pid) && (e.event === 'start' || e.event === 'end'))
    .map((e) => ({ t: e.time, d: e.event === 'start' ? 1 : -1 }))
    .sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (now += p.d));
  return max;
}

async function main() {
  ensureBuilt();
  printFacts('clinvk cluster limits: added latency and overshoot');
  const scratch = makeScratch('clinvk-bench-cluster-');
  const work = path.join(scratch, 'work');
  const state = path.join(scratch, 'fake-state');
  fs.mkdirSync(work);
  fs.mkdirSync(state);
  const lite = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-sh'));
  const prefix = `clinvk-bench-${randomBytes(5).toString('hex')}`;
  // a cluster keeps sessions, jobs and usage in PostgreSQL
  const schema = prefix.replace(/-/g, '_');
  const pg = { postgres_url: PG_URL, postgres_schema: schema };
  const server = (extra) => ({
    backends: { claude: { command: lite, env: { FAKE_CLI_STATE_DIR: state } } },
    server: {
      port: 0,
      default_workdir: work,
      max_concurrent_executions: 16,
      max_queued_executions: 1000,
      rate_limit_enabled: true,
      rate_limit_rps: 1_000_000,
      rate_limit_burst: 1_000_000,
      log_level: 'warn',
    },
    session: { retention_days: 0 },
    ...extra,
  });
  const local = await startServerProcess(scratch, server({}), { exposeGc: false, name: 'local' });
  const clustered = await startServerProcess(
    scratch,
    server({ cluster: { enabled: true, redis_url: REDIS_URL, key_prefix: prefix, ...pg } }),
    { exposeGc: false, name: 'cluster' },
  );
  const prompt = JSON.stringify({ backend: 'claude', prompt: 'hi', ephemeral: true });
  const rows = { backends: { local: [], cluster: [] }, prompt: { local: [], cluster: [] } };
  console.log(`c=1, ${opts.n} requests per round, ${opts.rounds} interleaved rounds\n`);
  for (let r = 0; r < opts.rounds; r++) {
    for (const [name, s] of [
      ['local', local],
      ['cluster', clustered],
    ]) {
      rows.backends[name].push(await series(`${s.url}/api/v1/backends`, 'GET', undefined, opts.n));
      rows.prompt[name].push(await series(`${s.url}/api/v1/prompt`, 'POST', prompt, Math.ceil(opts.n / 3)));
    }
  }
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const out = [];
  for (const [what, label] of [
    ['backends', 'GET /api/v1/backends (rate-limit bucket)'],
    ['prompt', 'POST /api/v1/prompt, near-zero CLI (bucket + admission)'],
  ]) {
    const l = rows[what].local;
    const c = rows[what].cluster;
    const p50l = median(l.map((s) => s.p50));
    const p50c = median(c.map((s) => s.p50));
    out.push([
      label,
      fmt(p50l, 2),
      fmt(median(l.map((s) => s.p99)), 2),
      fmt(p50c, 2),
      fmt(median(c.map((s) => s.p99)), 2),
      fmt(p50c - p50l, 2),
    ]);
  }
  console.log(
    table(['request', 'local p50 ms', 'local p99 ms', 'cluster p50 ms', 'cluster p99 ms', 'added p50 ms'], out),
  );
  await local.stop();
  await clustered.stop();

  // Overshoot: two nodes, one shared limit, a burst split between them.
  const node = ensureExecutable(path.join(FAKE_BIN, 'claude'));
  const logFile = path.join(scratch, 'fake.log');
  const prefix2 = `${prefix}-burst`;
  const nodes = [];
  for (const name of ['node-a', 'node-b']) {
    nodes.push(
      await startServerProcess(
        scratch,
        {
          backends: { claude: { command: node, env: { FAKE_CLI_STATE_DIR: state, FAKE_CLI_LOG: logFile } } },
          server: {
            port: 0,
            default_workdir: work,
            max_concurrent_executions: opts.limit,
            max_queued_executions: opts.burst,
            log_level: 'warn',
          },
          session: { retention_days: 0 },
          cluster: { enabled: true, redis_url: REDIS_URL, key_prefix: prefix2, ...pg },
        },
        { exposeGc: false, name },
      ),
    );
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.burst });
  const t0 = nowMs();
  const replies = await Promise.all(
    Array.from({ length: opts.burst }, (_, i) =>
      httpRequest(
        agent,
        `${nodes[i % 2].url}/api/v1/prompt`,
        'POST',
        JSON.stringify({ backend: 'claude', prompt: `[SLEEP:50] b${i}`, ephemeral: true }),
      ),
    ),
  );
  const wall = nowMs() - t0;
  const ok = replies.filter((r) => r.status === 200).length;
  const most = maxOverlap(logFile);
  console.log(
    `\nburst: ${opts.burst} concurrent prompts over 2 nodes sharing ${opts.limit} places: ${ok} × 200, ` +
      `most runs alive at once ${most}, overshoot ${Math.max(0, most - opts.limit)}, wall ${fmt(wall / 1000, 1)} s`,
  );
  agent.destroy();
  for (const n of nodes) await n.stop();
  await dropPrefix(prefix);
  await dropPrefix(prefix2);
  await dropSchema(schema);
}

runMain(main, 15 * 60_000);
