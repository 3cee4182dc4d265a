#!/usr/bin/env node
// Overhead of the server (issue: "time of POST /api/v1/prompt against a fake CLI vs. spawning the
// same fake CLI directly, at concurrency 1 and 16, printed as a ratio (target ≤ 1.05)").
//
// Usage:  node scripts/bench/overhead.mjs [--n1=10] [--n16=24] [--rounds=3] [--lite-n=20]
//                                         [--no-persist] [--no-lite] [--lite-only] [--autocannon]
//                                         [--concurrency=1,16]
//
// For each concurrency c ∈ {1, 16}, interleaved over `rounds` rounds (so that drifting machine load
// hits every variant alike), each round running n<c> requests of:
//   direct      spawn test/fixtures/bin/claude -p --output-format json --no-session-persistence -- hi
//               from this process, with the server's spawn options (own process group, stdin
//               ignored, stdout/stderr piped and collected, result JSON parsed)
//   server eph  POST /api/v1/prompt {"backend":"claude","prompt":"hi","ephemeral":true} (same argv)
//   server sess the same with "ephemeral":false: a clinvk session is created and its turn recorded
//               (the fake then also writes its own conversation file, so `direct` is not the
//               exact counterpart of this row)
// Latency is per request (spawn → close, or request → last response byte over a keep-alive
// node:http connection); wall = the time of all requests of a variant; req/s = requests / wall;
// "parent CPU ms/run" = CPU time (user+system) of the process that spawns the CLI per run: this
// benchmark process for `direct`, the server process for the server rows (robust against machine
// load, unlike latencies). The ratio table compares the means, the medians and the wall times
// (target: mean and wall ≤ 1.05) and lists the mean ratio of every round (spread = noise).
// At c=1 a breakdown splits every run into phases, measured inside the server process
// (server-host.mjs records the `request` event, child_process.spawn() entry/return, the child's
// exit and close, and the response `finish`).
// The "lite" section repeats the comparison with scripts/bench/fixtures/claude-sh (a bash script
// printing the result object: a near-zero-cost CLI), which exposes the absolute per-request cost
// of the server that the ~100+ ms start-up of the Node-based fake hides in the ratio, plus a
// `dry_run:true` row (the whole HTTP/validation/planning path without any process).
// --root=DIR runs the server of another checkout's built dist/ (a baseline). --autocannon adds an autocannon 9 cross-check of the ephemeral row. --lite-only skips the Node fake;
// --concurrency=16 measures only c=16.
// Each section ends with the session turn throughput: req/s of session-creating prompts divided by
// req/s of ephemeral ones at c=16, per round and as the median (target ≥ 0.70).
// The server runs in its own process (scripts/bench/lib/server-host.mjs: config loading and
// startServer as in `clinvk serve`, JSON logger at level info writing to a scratch file).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import {
  BENCH_DIR,
  FAKE_BIN,
  ensureBuilt,
  ensureExecutable,
  fmt,
  httpRequest,
  makeScratch,
  nowMs,
  parseArgs,
  pool,
  printFacts,
  runMain,
  startServerProcess,
  summarize,
  table,
  trackChild,
} from './lib/common.mjs';

const opts = parseArgs(process.argv.slice(2), {
  n1: 10,
  n16: 24,
  rounds: 3,
  liteN: 20,
  persist: true,
  noPersist: false,
  lite: true,
  noLite: false,
  autocannon: false,
  liteOnly: false,
  concurrency: '1,16',
  root: '',
});
const CONCURRENCIES = String(opts.concurrency)
  .split(',')
  .map(Number)
  .filter((c) => c === 1 || c === 16);
const withPersist = opts.persist && !opts.noPersist;
const withLite = opts.lite && !opts.noLite;

const ARGS = ['-p', '--output-format', 'json', '--no-session-persistence', '--', 'hi'];

/** Phase timestamps of the direct runs (see the breakdown table). */
let directTrace = [];

/** One direct run with the options of the server's ProcessRunner. */
function direct(command, cwd, env) {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = trackChild(spawn(command, ARGS, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
    const rec = { s0: t0, s1: nowMs() };
    const out = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', () => undefined);
    child.on('error', reject);
    child.once('exit', () => (rec.exit = nowMs()));
    child.on('close', (code) => {
      rec.close = nowMs();
      try {
        const r = JSON.parse(Buffer.concat(out).toString('utf8'));
        if (code !== 0 || r.is_error !== false) throw new Error(`exit ${code}`);
      } catch (err) {
        return reject(new Error(`direct run failed: ${err.message}`));
      }
      const ms = nowMs() - t0;
      rec.total = ms;
      directTrace.push(rec);
      resolve(ms);
    });
  });
}

/** Client-side latency of each request, in order (paired with the server's trace at c=1). */
let clientTrace = [];

async function post(agent, url, body) {
  const { ms, status, text } = await httpRequest(agent, `${url}/api/v1/prompt`, 'POST', body);
  if (status !== 200) throw new Error(`HTTP ${status}: ${text.slice(0, 300)}`);
  try {
    JSON.parse(text);
  } catch {
    throw new Error(`bad JSON response: ${text.slice(0, 300)}`);
  }
  clientTrace.push(ms);
  return ms;
}

async function measure(n, c, one, cpu) {
  const lat = [];
  const cpu0 = await cpu();
  const t0 = nowMs();
  await pool(n, c, async () => lat.push(await one()));
  const wall = nowMs() - t0;
  return { lat, wall, cpu: (await cpu()) - cpu0 };
}

const selfCpu = async () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function row(name, c, samples, wall, cpu) {
  const s = summarize(samples);
  return [
    name,
    c,
    s.n,
    fmt(s.mean),
    fmt(s.p50),
    fmt(s.p99),
    fmt(wall / 1000, 2),
    fmt((s.n / wall) * 1000),
    fmt(cpu / s.n, 2),
  ];
}

const PHASES = [
  'before spawn()',
  'spawn() call',
  'child running',
  'exit → close',
  'after close',
  'outside server',
  'total',
];

/** Per-request phase durations (ms) of one c=1 run; `server` = null for direct runs. */
function phasesOf(trace, client) {
  if (!trace) {
    const out = directTrace.map((r) => [
      0,
      r.s1 - r.s0,
      r.exit - r.s1,
      r.close - r.exit,
      r.total - (r.close - r.s0),
      0,
      r.total,
    ]);
    directTrace = [];
    return out;
  }
  const { requests, spawns } = trace;
  const out = [];
  for (let i = 0; i < requests.length && i < client.length; i++) {
    const q = requests[i];
    const sp = spawns.length === requests.length ? spawns[i] : undefined;
    const inServer = q.finish - q.start;
    out.push(
      sp
        ? [
            sp.s0 - q.start,
            sp.s1 - sp.s0,
            sp.exit - sp.s1,
            sp.close - sp.exit,
            q.finish - sp.close,
            client[i] - inServer,
            client[i],
          ]
        : [inServer, 0, 0, 0, 0, client[i] - inServer, client[i]],
    );
  }
  return out;
}

async function autocannonRun(url, c, amount) {
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({
    url: `${url}/api/v1/prompt`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ backend: 'claude', prompt: 'hi', ephemeral: true }),
    connections: c,
    amount,
    timeout: 60,
  });
  return r;
}

async function section(title, command, counts, rounds, scratch, server, { dryRun = false } = {}) {
  const work = path.join(scratch, 'work');
  const state = path.join(scratch, 'fake-state');
  const env = { ...process.env, FAKE_CLI_STATE_DIR: state };
  const bodyEph = JSON.stringify({ backend: 'claude', prompt: 'hi', ephemeral: true });
  const bodySess = JSON.stringify({ backend: 'claude', prompt: 'hi', ephemeral: false });
  const bodyDry = JSON.stringify({ backend: 'claude', prompt: 'hi', ephemeral: true, dry_run: true });
  const serverCpu = async () => (await server.mem()).cpuMs;
  const rows = [];
  const ratios = [];
  let breakdown = [];
  let sessionRatio;
  for (const c of CONCURRENCIES) {
    const n = counts[c];
    const agent = new http.Agent({ keepAlive: true, maxSockets: c });
    const variants = [
      { name: 'direct spawn', one: () => direct(command, work, env), cpu: selfCpu, ratio: false },
      { name: 'server ephemeral:true', one: () => post(agent, server.url, bodyEph), cpu: serverCpu, ratio: true },
      ...(withPersist
        ? [
            {
              name: 'server ephemeral:false',
              one: () => post(agent, server.url, bodySess),
              cpu: serverCpu,
              ratio: true,
            },
          ]
        : []),
      ...(dryRun
        ? [
            {
              name: 'server dry_run:true (no spawn)',
              one: () => post(agent, server.url, bodyDry),
              cpu: serverCpu,
              ratio: false,
            },
          ]
        : []),
    ];
    // Warm-up: JIT, connection pool, page cache, session store.
    for (const v of variants) await measure(Math.max(2 * c, 8), c, v.one, v.cpu);
    await server.trace();
    directTrace = [];
    const acc = variants.map(() => ({ lat: [], wall: 0, cpu: 0, phases: [] }));
    const perRound = []; // per round: mean latency of each variant / mean of direct
    const wallsPerRound = []; // per round: wall time of each variant
    for (let r = 0; r < rounds; r++) {
      const means = [];
      const walls = [];
      for (const [i, v] of variants.entries()) {
        clientTrace = [];
        const m = await measure(n, c, v.one, v.cpu);
        const trace = await server.trace();
        if (c === 1) acc[i].phases.push(...phasesOf(i === 0 ? null : trace, clientTrace));
        acc[i].lat.push(...m.lat);
        acc[i].wall += m.wall;
        acc[i].cpu += m.cpu;
        means.push(summarize(m.lat).mean);
        walls.push(m.wall);
      }
      perRound.push(means.map((m) => m / means[0]));
      wallsPerRound.push(walls);
    }
    agent.destroy();
    // Session turn throughput: req/s of session-creating prompts / req/s of ephemeral ones, per round
    // (same n, so the ratio of the wall times) and their median.
    const eph = variants.findIndex((v) => v.name === 'server ephemeral:true');
    const sess = variants.findIndex((v) => v.name === 'server ephemeral:false');
    if (c === 16 && eph >= 0 && sess >= 0) {
      const perRoundRatio = wallsPerRound.map((w) => w[eph] / w[sess]);
      const sorted = [...perRoundRatio].sort((a, b) => a - b);
      sessionRatio = {
        median: sorted[Math.floor(sorted.length / 2)],
        overall: acc[eph].wall / acc[sess].wall,
        perRound: perRoundRatio,
        eph: (acc[eph].lat.length / acc[eph].wall) * 1000,
        sess: (acc[sess].lat.length / acc[sess].wall) * 1000,
      };
    }
    for (const [i, v] of variants.entries()) rows.push(row(v.name, c, acc[i].lat, acc[i].wall, acc[i].cpu));
    const d = summarize(acc[0].lat);
    for (const [i, v] of variants.entries()) {
      if (!v.ratio) continue;
      const s = summarize(acc[i].lat);
      ratios.push([
        `${v.name} / direct`,
        c,
        fmt(s.mean / d.mean, 3),
        fmt(s.p50 / d.p50, 3),
        fmt(acc[i].wall / acc[0].wall, 3),
        fmt(s.mean - d.mean, 2),
        s.mean / d.mean <= 1.05 && acc[i].wall / acc[0].wall <= 1.05 ? 'yes' : 'NO',
        perRound.map((x) => fmt(x[i], 2)).join(' '),
      ]);
    }
    if (c === 1)
      breakdown = variants.map((v, i) => [
        v.name,
        ...PHASES.map((_, k) => fmt(summarize(acc[i].phases.map((p) => p[k])).mean, 2)),
      ]);
  }
  console.log(`### ${title}\n`);
  console.log(
    table(['variant', 'c', 'n', 'mean ms', 'p50 ms', 'p99 ms', 'wall s', 'req/s', 'parent CPU ms/run'], rows),
  );
  console.log();
  console.log(table(['ratio', 'c', 'mean', 'p50', 'wall', 'Δmean ms', '≤ 1.05', 'mean ratio per round'], ratios));
  console.log();
  console.log(
    'c=1 breakdown, mean ms per run (server: its own clock from the `request` event to the response `finish`;',
  );
  console.log('"outside server" = client latency − that; direct: "after close" = result parsing):\n');
  console.log(table(['variant', ...PHASES], breakdown));
  console.log();
  if (sessionRatio) {
    const r = sessionRatio;
    console.log(
      `session/ephemeral req/s ratio at c=16: median ${fmt(r.median, 3)} (all rounds ${fmt(r.overall, 3)}: ` +
        `${fmt(r.sess)} vs ${fmt(r.eph)} req/s; per round ${r.perRound.map((x) => fmt(x, 2)).join(' ')}); ` +
        `target ≥ 0.70: ${r.median >= 0.7 ? 'met' : 'NOT met'}\n`,
    );
  }
}

async function main() {
  ensureBuilt();
  const t0 = Date.now();
  const scratch = makeScratch('clinvk-bench-overhead-');
  const work = path.join(scratch, 'work');
  const state = path.join(scratch, 'fake-state');
  fs.mkdirSync(work);
  fs.mkdirSync(state);
  const nodeFake = ensureExecutable(path.join(FAKE_BIN, 'claude'));
  const liteFake = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-sh'));

  const serverFor = (command, name) =>
    startServerProcess(
      scratch,
      {
        backends: { claude: { command, env: { FAKE_CLI_STATE_DIR: state } } },
        server: {
          port: 0,
          default_workdir: work,
          max_concurrent_executions: 64,
          max_queued_executions: 1000,
          log_level: 'info',
        },
        session: { retention_days: 0 },
      },
      { exposeGc: false, name, root: opts.root ? path.resolve(opts.root) : undefined },
    );

  printFacts('clinvk overhead benchmark: POST /api/v1/prompt vs. direct spawn');
  console.log(
    `n per round: c=1 → ${opts.n1}, c=16 → ${opts.n16}; rounds: ${opts.rounds} (interleaved); server: separate process, log level info\n`,
  );

  let server;
  if (!opts.liteOnly) {
    server = await serverFor(nodeFake, 'server-node-fake');
    await section(
      `fake CLI test/fixtures/bin/claude (Node)`,
      nodeFake,
      { 1: opts.n1, 16: opts.n16 },
      opts.rounds,
      scratch,
      server,
    );
    if (opts.autocannon) {
      const rows = [];
      for (const c of [1, 16]) {
        const r = await autocannonRun(server.url, c, c === 1 ? opts.n1 : opts.n16);
        rows.push([
          c,
          r.requests.sent,
          r.non2xx,
          fmt(r.latency.mean),
          fmt(r.latency.p50),
          fmt(r.latency.p99),
          fmt(r.requests.average),
        ]);
      }
      console.log('### autocannon cross-check (server ephemeral:true, Node fake)\n');
      console.log(table(['c', 'sent', 'non-2xx', 'mean ms', 'p50 ms', 'p99 ms', 'req/s'], rows));
      console.log();
    }
    await server.stop();
  }

  if (withLite) {
    server = await serverFor(liteFake, 'server-lite-fake');
    await section(
      'near-zero-cost CLI scripts/bench/fixtures/claude-sh (bash): absolute server cost per request',
      liteFake,
      { 1: opts.liteN, 16: opts.liteN },
      opts.rounds,
      scratch,
      server,
      { dryRun: true },
    );
    await server.stop();
  }
  console.log(
    `total run time ${((Date.now() - t0) / 1000).toFixed(0)} s; load average now ${(await import('node:os'))
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

runMain(main, 5 * 60 * 1000);
