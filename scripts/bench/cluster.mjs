#!/usr/bin/env node
// What running the CLIs on worker nodes costs, against the cluster targets (docs/cluster.md):
//   1. added per-event latency API node ↔ worker over one local (non-cluster) server, for a stream
//      paced at 1000 events/s (p99 ≤ 5 ms) and for unpaced bursts (p99 ≤ 15 ms);
//   2. dispatch overhead, request → CLI started, over one local server (p99 ≤ 15 ms);
//   3. throughput of `[SLEEP:500]` runs from one worker to two (≥ 1.8×), and the most runs alive at
//      once with two workers (≥ 2 × worker_slots);
//   4. cancel: client gone → the CLI on the worker gets its SIGTERM (p99 ≤ 100 ms).
// (Sessions at 100 000 rows on PostgreSQL — claim and filtered page: scripts/bench/sessions.mjs.)
//
// Usage:  node scripts/bench/cluster.mjs [--rounds=5] [--paced-lines=2000] [--paced-rate=1000] [--paced-streams=1]
//                                        [--burst-lines=1000] [--burst=100] [--burst-interval=50]
//                                        [--dispatch-n=100] [--slots=4] [--runs=32] [--tp-rounds=2]
//                                        [--cancel-n=20]
//                                        [--no-latency] [--no-dispatch] [--no-throughput] [--no-cancel]
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
// Each part first warms both servers up for about 3 s: fresh nodes have start-up transients (seen:
// dispatches of 100–270 ms for about a second, some 1.5 s after a new cluster was ready).
// Dispatch: scripts/bench/fixtures/claude-sh (bash, starts in ~1 ms) appends `<tag> $EPOCHREALTIME` to a
// file first thing; request sent (wall clock) → that line, one request at a time.
// Throughput: claude-sh with `[SLEEP:500]` (a bash fake: its own start-up costs next to nothing, so
// the cluster's scaling is measured, not the 2-core machine's fork/exec of Node fakes), `--runs`
// requests at once; its start/end lines give the most runs alive at once.
// Cancel: the Node fake (test/fixtures/bin/claude) sleeping in a stream; once its log says it runs,
// the client aborts the request; measured until the fake logs the SIGTERM it got (ms clocks).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { dropSchema, post, startBenchCluster } from './lib/bench-cluster.mjs';
import {
  BENCH_DIR,
  FAKE_BIN,
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
  cancelN: 20,
  cancel: true,
  noCancel: false,
});
const RUN = randomBytes(4).toString('hex');
const SCHEMA = `clinvk_bench_cluster_${RUN}`;
const hr = () => process.hrtime.bigint();
const wallMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];

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
  const c = await startBenchCluster(scratch, `latency-${RUN}`, base, { schema: SCHEMA, slots: opts.slots });
  const targets = { local: local.url, cluster: c.url };
  const modes = {
    paced: { prompt: `lines=${opts.pacedLines} rate=${opts.pacedRate}`, streams: opts.pacedStreams, limit: 5 },
    burst: {
      prompt: `lines=${opts.burstLines} interval=${opts.burstInterval} burst=${opts.burst}`,
      streams: 1,
      limit: 15,
    },
  };
  // warm-up of both paths, past the start-up transients of fresh nodes (a few seconds)
  for (const url of Object.values(targets)) await stream(url, `lines=${3 * opts.pacedRate} rate=${opts.pacedRate}`, []);
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

async function dispatchPart(scratch) {
  const log = path.join(scratch, 'spawn.log');
  const fake = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-sh'));
  const base = baseConfig(scratch, fake, { BENCH_SPAWN_LOG: log });
  const local = await startServerProcess(scratch, base, { exposeGc: false, name: 'dispatch-local' });
  const c = await startBenchCluster(scratch, `dispatch-${RUN}`, base, { schema: SCHEMA, slots: opts.slots });
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
  // warm-up, past the start-up transients of fresh nodes (a few seconds)
  for (const [where, url] of Object.entries(targets)) {
    for (const end = Date.now() + 3000; Date.now() < end;) await series(`warm${where}`, url, 10);
  }
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
  const c = await startBenchCluster(scratch, `throughput-${RUN}`, base, { schema: SCHEMA, slots: opts.slots });
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

// ---------------------------------------------------------------------------------------------
// 4. Cancel: client gone → SIGTERM of the CLI

async function cancelPart(scratch) {
  const log = path.join(scratch, 'cancel-cli.log');
  const fake = ensureExecutable(path.join(FAKE_BIN, 'claude'));
  const base = baseConfig(scratch, fake, { FAKE_CLI_LOG: log, FAKE_CLI_STATE_DIR: path.join(scratch, 'cancel-state') });
  const local = await startServerProcess(scratch, base, { exposeGc: false, name: 'cancel-local' });
  const c = await startBenchCluster(scratch, `cancel-${RUN}`, base, { schema: SCHEMA, slots: opts.slots });
  const entries = () =>
    fs.existsSync(log)
      ? fs
          .readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
  const waitFor = async (pred, what) => {
    for (const end = Date.now() + 30_000; ; await sleep(2)) {
      const e = entries().find(pred);
      if (e) return e;
      if (Date.now() > end) throw new Error(`cancel: no ${what} in the fake's log`);
    }
  };
  const one = async (url, tag) => {
    const ac = new AbortController();
    const res = await fetch(`${url}/api/v1/prompt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        backend: 'claude',
        prompt: `[SLEEP:30000] ${tag}`,
        output_format: 'stream-json',
        ephemeral: true,
      }),
      signal: ac.signal,
    });
    if (res.status !== 200) throw new Error(`cancel: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    const run = await waitFor((e) => e.event === 'run' && e.prompt?.includes(tag), `run line of ${tag}`);
    const t0 = Date.now();
    ac.abort();
    const end = await waitFor((e) => e.event === 'end' && e.pid === run.pid, `end line of ${tag}`);
    return end.time - t0;
  };
  const by = { local: [], cluster: [] };
  for (let i = 0; i < opts.cancelN; i++)
    for (const [where, url] of [
      ['local', local.url],
      ['cluster', c.url],
    ])
      by[where].push(await one(url, `cancel-${where}-${i}`));
  await c.close();
  await local.stop();
  const l = summarize(by.local);
  const k = summarize(by.cluster);
  console.log(`### Cancel: client gone → SIGTERM of the CLI (${opts.cancelN} runs each)\n`);
  console.log(
    table(
      ['server', 'runs', 'p50 ms', 'p99 ms', 'max ms'],
      [
        ['local', l.n, fmt(l.p50, 0), fmt(l.p99, 0), fmt(l.max, 0)],
        ['cluster', k.n, fmt(k.p50, 0), fmt(k.p99, 0), fmt(k.max, 0)],
      ],
    ),
  );
  console.log();
  results.push([
    'cancel on a worker (client gone → CLI SIGTERM), p99',
    `${fmt(k.p99, 0)} ms (local ${fmt(l.p99, 0)} ms)`,
    '≤ 100 ms',
    k.p99 <= 100 ? 'pass' : 'FAIL',
  ]);
}

async function main() {
  ensureBuilt();
  printFacts('clinvk cluster benchmark: API node ↔ worker against one local server');
  const scratch = makeScratch('clinvk-bench-cluster-');
  fs.mkdirSync(path.join(scratch, 'work'));
  onCleanup(() => dropSchema(SCHEMA));
  const t0 = Date.now();
  if (opts.latency && !opts.noLatency) await latencyPart(scratch);
  if (opts.dispatch && !opts.noDispatch) await dispatchPart(scratch);
  if (opts.throughput && !opts.noThroughput) await throughputPart(scratch);
  if (opts.cancel && !opts.noCancel) await cancelPart(scratch);
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
