#!/usr/bin/env node
// What running the CLIs on worker nodes costs, against the cluster targets (docs/cluster.md):
//   1. added per-event latency API node ↔ worker over one local (non-cluster) server, for a stream
//      paced at 1000 events/s (p99 ≤ 5 ms) and for unpaced bursts (p99 ≤ 15 ms);
//   2. dispatch overhead, request → CLI started, over one local server (p99 ≤ 15 ms);
//   3. throughput of `[SLEEP:500]` runs from one worker to two (≥ 1.8×), and the most runs alive at
//      once with two workers (≥ 2 × worker_slots).
//
// Usage:  node scripts/bench/cluster.mjs [--rounds=5] [--paced-lines=2000] [--paced-rate=1000] [--paced-streams=1]
//                                        [--burst-lines=1000] [--burst=100] [--burst-interval=50]
//                                        [--dispatch-n=100] [--slots=4] [--runs=32] [--tp-rounds=2]
//                                        [--no-latency] [--no-dispatch] [--no-throughput]
//         (Redis: CLINVK_BENCH_REDIS_URL, default redis://127.0.0.1:6379, a fresh key prefix per
//          cluster; PostgreSQL: CLINVK_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test,
//          a fresh schema, dropped at the end)
//
// Every cluster is real `clinvk serve` code in separate processes (scripts/bench/lib/server-host.mjs),
// each node with its own home and node id: 1 API node + 1 worker, and for throughput 1 API node +
// 2 workers. The local server is the same build without cluster mode. Rounds alternate between the
// local server and the cluster so that load from elsewhere on the machine hits both alike.
//
// Latency: scripts/bench/fixtures/claude-stream stamps every text delta with process.hrtime.bigint()
// (CLOCK_MONOTONIC, shared by the processes of one machine) right before writing it; the client reads
// the NDJSON stream and takes receive − write per event (the first 20 events of a stream are skipped:
// start-up). Paced: `--paced-rate` deltas per second (`rate=`: those due on every 1 ms timer tick);
// bursts: `--burst` deltas back to back every `--burst-interval` ms.
// Added = cluster − local: judged on the median over the rounds of (cluster p99 − local p99) of that
// round, so that one round disturbed by other work on the machine does not decide; the pooled
// percentiles of all rounds are printed as well.
// Dispatch: scripts/bench/fixtures/claude-sh (bash, starts in ~1 ms) appends `<tag> $EPOCHREALTIME` to a
// file first thing; request sent (wall clock) → that line, one request at a time.
// Throughput: claude-sh with `[SLEEP:500]` (a bash fake: its own start-up costs next to nothing, so
// the cluster's scaling is measured, not the 2-core machine's fork/exec of Node fakes), `--runs`
// requests at once; its start/end lines give the most runs alive at once.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  BENCH_DIR,
  ROOT,
  ensureBuilt,
  ensureExecutable,
  fmt,
  makeScratch,
  onCleanup,
  parseArgs,
  printFacts,
  runMain,
  startServerProcess,
  summarize,
  table,
} from './lib/common.mjs';

const require = createRequire(import.meta.url);
const { Redis } = require(path.join(ROOT, 'node_modules/ioredis'));
const { Client } = require(path.join(ROOT, 'node_modules/pg'));
const opts = parseArgs(process.argv.slice(2), {
  rounds: 5,
  pacedLines: 2000,
  pacedRate: 1000,
  pacedStreams: 1,
  burstLines: 1000,
  burst: 100,
  burstInterval: 50,
  dispatchN: 100,
  slots: 4,
  runs: 32,
  tpRounds: 2,
  latency: true,
  noLatency: false,
  dispatch: true,
  noDispatch: false,
  throughput: true,
  noThroughput: false,
});
const REDIS_URL = process.env.CLINVK_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_URL = process.env.CLINVK_BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const RUN = randomBytes(4).toString('hex');
const SCHEMA = `clinvk_bench_cluster_${RUN}`;
const hr = () => process.hrtime.bigint();
const wallMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];

async function dropPrefix(prefix) {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

async function dropSchema() {
  const c = new Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await c.end();
}

/** Nodes of one cluster (own key prefix), all on the same configuration apart from role and id. */
async function cluster(scratch, name, base, { apis = 1, workers = 1 } = {}) {
  const prefix = `clinvk-bench-${name}-${RUN}`;
  onCleanup(() => dropPrefix(prefix));
  const nodes = new Map();
  const add = async (role, id) => {
    const config = {
      ...base,
      cluster: {
        enabled: true,
        redis_url: REDIS_URL,
        postgres_url: PG_URL,
        postgres_schema: SCHEMA,
        key_prefix: prefix,
        role,
        node_id: id,
        worker_slots: opts.slots,
        // the defaults: a worker busy starting up on a loaded machine must not look lost
        lock_secs: 30,
        lease_secs: 10,
      },
    };
    const node = await startServerProcess(scratch, config, { exposeGc: false, name: `${name}-${id}` });
    nodes.set(id, node);
    return node;
  };
  for (let i = 1; i <= workers; i++) await add('worker', `w${i}`);
  const api = [];
  for (let i = 1; i <= apis; i++) api.push(await add('api', `a${i}`));
  const c = {
    url: api[0].url,
    add: async (id) => {
      await add('worker', id);
      await c.live();
    },
    stop: async (id) => {
      await nodes.get(id)?.stop();
      nodes.delete(id);
    },
    /** Waits until every worker node has a live heartbeat. */
    live: async () => {
      const ids = [...nodes.keys()].filter((k) => k.startsWith('w'));
      const redis = new Redis(REDIS_URL);
      try {
        for (const end = Date.now() + 20_000; ; await sleep(50)) {
          const v = await redis.mget(...ids.map((id) => `${prefix}:worker:${id}`));
          if (v.every(Boolean)) return;
          if (Date.now() > end) throw new Error(`${name}: workers not live`);
        }
      } finally {
        redis.disconnect();
      }
    },
    close: async () => {
      for (const n of [...nodes.values()].reverse()) await n.stop();
      await dropPrefix(prefix);
    },
  };
  await c.live();
  return c;
}

function baseConfig(scratch, claude, env = {}) {
  return {
    backends: { claude: { command: claude, env } },
    server: {
      port: 0,
      default_workdir: path.join(scratch, 'work'),
      max_concurrent_executions: 64,
      max_queued_executions: 1000,
      log_level: 'warn',
    },
    session: { retention_days: 0 },
  };
}

/**
 * Local and cluster samples (ms) per round → the pooled summaries of both and the median over the
 * rounds of (cluster p99 − local p99).
 */
function compare(localRounds, clusterRounds) {
  const diffs = localRounds
    .map((l, r) => summarize(clusterRounds[r] ?? []).p99 - summarize(l).p99)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  return {
    pooled: [summarize(localRounds.flat()), summarize(clusterRounds.flat())],
    added: diffs.length ? diffs[Math.floor((diffs.length - 1) / 2)] : NaN,
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Event latency

const stampOf = (text) => {
  const m = /t=(\d+);/.exec(text);
  return m ? BigInt(m[1]) : undefined;
};

/** One NDJSON stream; pushes [write ns, latency ms] of its stamped message events (after the first 20). */
async function stream(url, prompt, lat) {
  const res = await fetch(`${url}/api/v1/prompt`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ backend: 'claude', prompt, output_format: 'stream-json', ephemeral: true }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const decoder = new TextDecoder();
  let buf = '';
  let seq = 0;
  let seen = 0;
  let terminal;
  for await (const chunk of res.body) {
    const at = hr();
    buf += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const ev = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (ev.sequence !== ++seq) throw new Error(`sequence gap at ${seq}: ${ev.sequence}`);
      if (ev.type === 'done' || ev.type === 'error') terminal = ev;
      if (ev.type !== 'message') continue;
      const t = stampOf(ev.content.text);
      if (t !== undefined && ++seen > 20) lat.push([t, Number(at - t) / 1e6]);
    }
  }
  if (terminal?.type !== 'done') throw new Error(`stream did not end with done: ${JSON.stringify(terminal)}`);
}

async function latencyPart(scratch) {
  const fake = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-stream'));
  const base = baseConfig(scratch, fake);
  const local = await startServerProcess(scratch, base, { exposeGc: false, name: 'latency-local' });
  const c = await cluster(scratch, 'latency', base);
  const targets = { local: local.url, cluster: c.url };
  const modes = {
    paced: { prompt: `lines=${opts.pacedLines} rate=${opts.pacedRate}`, streams: opts.pacedStreams, limit: 5 },
    burst: {
      prompt: `lines=${opts.burstLines} interval=${opts.burstInterval} burst=${opts.burst}`,
      streams: 1,
      limit: 15,
    },
  };
  // warm-up of both paths
  for (const url of Object.values(targets)) await stream(url, 'lines=200 interval=1', []);
  const lat = {};
  const rate = [];
  for (let r = 0; r < opts.rounds; r++) {
    for (const [mode, m] of Object.entries(modes)) {
      for (const [where, url] of Object.entries(targets)) {
        const per = Array.from({ length: m.streams }, () => []);
        await Promise.all(per.map((l) => stream(url, m.prompt, l)));
        (lat[`${mode}/${where}`] ??= []).push(per.flat().map(([, ms]) => ms));
        if (mode === 'paced')
          for (const l of per) rate.push((l.length - 1) / (Number(l[l.length - 1][0] - l[0][0]) / 1e9));
      }
    }
  }
  await c.close();
  await local.stop();
  const rows = [];
  for (const [mode, m] of Object.entries(modes)) {
    const { pooled, added } = compare(lat[`${mode}/local`], lat[`${mode}/cluster`]);
    const [l, k] = pooled;
    rows.push([mode, 'local', l.n, fmt(l.p50, 2), fmt(l.p99, 2), fmt(l.max, 1)]);
    rows.push([mode, 'cluster', k.n, fmt(k.p50, 2), fmt(k.p99, 2), fmt(k.max, 1)]);
    results.push([
      `added per-event latency, ${mode === 'paced' ? `paced (${fmt(summarize(rate).p50, 0)} events/s)` : `bursts of ${opts.burst}`}, p99`,
      `${fmt(added, 2)} ms (pooled p99 +${fmt(k.p99 - l.p99, 2)}, p50 +${fmt(k.p50 - l.p50, 2)})`,
      `≤ ${m.limit} ms`,
      added <= m.limit ? 'pass' : 'FAIL',
    ]);
  }
  console.log(`### Event latency: CLI write → client read (${opts.rounds} rounds, local and cluster alternating)\n`);
  console.log(table(['stream', 'server', 'events', 'p50 ms', 'p99 ms', 'max ms'], rows));
  console.log();
}

// ---------------------------------------------------------------------------------------------
// 2. Dispatch: request → CLI started

function post(agent, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/v1/prompt`,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function dispatchPart(scratch) {
  const log = path.join(scratch, 'spawn.log');
  const fake = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-sh'));
  const base = baseConfig(scratch, fake, { BENCH_SPAWN_LOG: log });
  const local = await startServerProcess(scratch, base, { exposeGc: false, name: 'dispatch-local' });
  const c = await cluster(scratch, 'dispatch', base);
  const targets = { local: local.url, cluster: c.url };
  const sent = new Map();
  let n = 0;
  const series = async (where, url, count, round) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < count; i++) {
      const tag = `${where}-${n++}`;
      const body = JSON.stringify({ backend: 'claude', prompt: `tag=${tag}`, ephemeral: true });
      const t0 = wallMs();
      const r = await post(agent, url, body);
      if (r.status !== 200) throw new Error(`dispatch ${where}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      sent.set(tag, { where, t0, round });
    }
    agent.destroy();
  };
  for (const [where, url] of Object.entries(targets)) await series(`warm${where}`, url, 10);
  for (let r = 0; r < opts.rounds; r++)
    for (const [where, url] of Object.entries(targets)) await series(where, url, opts.dispatchN, r);
  await c.close();
  await local.stop();
  const by = { local: [], cluster: [] };
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    const [tag, at] = line.split(' ');
    const s = sent.get(tag);
    if (s && by[s.where]) (by[s.where][s.round] ??= []).push(Number(at) * 1000 - s.t0);
  }
  const { pooled, added } = compare(by.local, by.cluster);
  const [l, k] = pooled;
  console.log(`### Dispatch: request sent → CLI started (one request at a time, ${opts.rounds} rounds)\n`);
  console.log(
    table(
      ['server', 'runs', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      [
        ['local', l.n, fmt(l.p50, 2), fmt(l.p90, 2), fmt(l.p99, 2), fmt(l.max, 1)],
        ['cluster', k.n, fmt(k.p50, 2), fmt(k.p90, 2), fmt(k.p99, 2), fmt(k.max, 1)],
      ],
    ),
  );
  console.log();
  results.push([
    'dispatch overhead (request → CLI started), p99',
    `${fmt(added, 2)} ms (pooled p99 +${fmt(k.p99 - l.p99, 2)}, p50 +${fmt(k.p50 - l.p50, 2)})`,
    '≤ 15 ms',
    added <= 15 ? 'pass' : 'FAIL',
  ]);
}

// ---------------------------------------------------------------------------------------------
// 3. Throughput from one worker to two

/** Most runs alive at once, from the `<tag> <time>` / `<tag>:end <time>` lines of the given tags. */
function maxOverlap(logFile, prefix) {
  const points = [];
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    const [tag, at] = line.split(' ');
    if (!tag?.startsWith(prefix)) continue;
    points.push({ t: Number(at), d: tag.endsWith(':end') ? -1 : 1 });
  }
  points.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (now += p.d));
  return max;
}

async function throughputPart(scratch) {
  const log = path.join(scratch, 'throughput.log');
  const fake = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-sh'));
  const base = baseConfig(scratch, fake, { BENCH_SPAWN_LOG: log });
  const c = await cluster(scratch, 'throughput', base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.runs });
  const wave = async (label) => {
    const t0 = wallMs();
    const replies = await Promise.all(
      Array.from({ length: opts.runs }, (_, i) =>
        post(
          agent,
          c.url,
          JSON.stringify({ backend: 'claude', prompt: `tag=${label}.${i} [SLEEP:500]`, ephemeral: true }),
        ),
      ),
    );
    const wall = wallMs() - t0;
    const bad = replies.filter((r) => r.status !== 200);
    if (bad.length) throw new Error(`throughput: ${bad.length} failed, e.g. HTTP ${bad[0].status} ${bad[0].text}`);
    await sleep(100); // the fakes' end lines
    return { wall, perSec: opts.runs / (wall / 1000), most: maxOverlap(log, `${label}.`) };
  };
  await wave('warm-up');
  const one = [];
  const two = [];
  for (let r = 0; r < opts.tpRounds; r++) {
    one.push(await wave(`one-${r}`));
    await c.add('w2');
    two.push(await wave(`two-${r}`));
    if (r < opts.tpRounds - 1) await c.stop('w2');
  }
  agent.destroy();
  await c.close();
  const med = (xs, k) => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const rows = [
    [
      '1 API + 1 worker',
      opts.runs,
      fmt(med(one, 'wall') / 1000, 2),
      fmt(med(one, 'perSec'), 2),
      Math.max(...one.map((x) => x.most)),
    ],
    [
      '1 API + 2 workers',
      opts.runs,
      fmt(med(two, 'wall') / 1000, 2),
      fmt(med(two, 'perSec'), 2),
      Math.max(...two.map((x) => x.most)),
    ],
  ];
  console.log(
    `### Throughput: ${opts.runs} \`[SLEEP:500]\` runs at once, worker_slots ${opts.slots} (median of ${opts.tpRounds} rounds)\n`,
  );
  console.log(table(['cluster', 'runs', 'wall s', 'runs/s', 'most alive at once'], rows));
  console.log();
  const ratio = med(two, 'perSec') / med(one, 'perSec');
  const most = Math.max(...two.map((x) => x.most));
  results.push(['throughput, two workers over one', `${fmt(ratio, 2)}×`, '≥ 1.8×', ratio >= 1.8 ? 'pass' : 'FAIL']);
  results.push([
    'runs alive at once with two workers (cluster cap)',
    String(most),
    `≥ ${2 * opts.slots} (2 × worker_slots)`,
    most >= 2 * opts.slots ? 'pass' : 'FAIL',
  ]);
}

async function main() {
  ensureBuilt();
  printFacts('clinvk cluster benchmark: API node ↔ worker against one local server');
  const scratch = makeScratch('clinvk-bench-cluster-');
  fs.mkdirSync(path.join(scratch, 'work'));
  onCleanup(dropSchema);
  const t0 = Date.now();
  if (opts.latency && !opts.noLatency) await latencyPart(scratch);
  if (opts.dispatch && !opts.noDispatch) await dispatchPart(scratch);
  if (opts.throughput && !opts.noThroughput) await throughputPart(scratch);
  console.log('### Targets\n');
  console.log(table(['what', 'measured', 'target', 'result'], results));
  const { loadavg } = await import('node:os');
  console.log(
    `\ntotal run time ${((Date.now() - t0) / 1000).toFixed(0)} s; load average now ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

runMain(main, 10 * 60_000);
