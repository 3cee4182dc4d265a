#!/usr/bin/env node
// Parallel benchmark (SPEC §3.4, §7.9): 64 fast tasks through POST /api/v1/parallel with
// max_parallel 8 against the fake CLIs, compared with the ideal 64/8 × (time of one task).
//
// Usage:  npm run build && node scripts/bench/parallel.mjs [--sleep <ms>] [--tasks 64] [--max-parallel 8] [--rounds 3]
//         --sleep adds `[SLEEP:<ms>]` to every prompt (tasks that wait instead of burning CPU);
//         CLINVK_BENCH_DIST=<dir containing src/http/server.js> overrides the compiled server.
//
// The compiled server is started in this process on 127.0.0.1:<random port> with a temporary
// CLINVK_HOME and a temporary config file that points every backend at test/fixtures/bin. Requests
// go over a real socket. "One task" is the wall time of a parallel request with a single task
// (median of several runs), so HTTP and validation overhead are in both numbers. The fakes log
// every start/end, from which the largest number of simultaneously running CLIs is reported.
import { createRequire } from 'module';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = process.env.CLINVK_BENCH_DIST ?? path.join(root, 'dist');
const { startServer } = require(path.join(dist, 'src/http/server.js'));
const { loadConfig } = require(path.join(dist, 'src/config/load.js'));
const { createSilentLogger } = require(path.join(dist, 'src/observability/logger.js'));
const { stringify } = require('yaml');

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : def;
}
const TASKS = arg('tasks', 64);
const MAX_PARALLEL = arg('max-parallel', 8);
const ROUNDS = arg('rounds', 3);
const SLEEP = arg('sleep', 0);
const SINGLE_RUNS = 7;
const FAKE_BIN = path.join(root, 'test/fixtures/bin');

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-bench-parallel-')));
const home = path.join(tmp, 'home');
const work = path.join(tmp, 'work');
const logFile = path.join(tmp, 'fake.log');
for (const d of [home, work, path.join(tmp, 'state')]) fs.mkdirSync(d, { recursive: true });
const fakeEnv = { FAKE_CLI_LOG: logFile, FAKE_CLI_STATE_DIR: path.join(tmp, 'state'), HOME: tmp };
const configFile = path.join(tmp, 'config.yaml');
fs.writeFileSync(
  configFile,
  stringify({
    server: {
      host: '127.0.0.1',
      port: 0,
      default_workdir: work,
      max_concurrent_executions: Math.max(8, MAX_PARALLEL),
      max_queued_executions: 64,
    },
    session: { retention_days: 0 },
    backends: Object.fromEntries(
      ['claude', 'codex', 'gemini'].map((b) => [b, { command: path.join(FAKE_BIN, b), env: fakeEnv }]),
    ),
  }),
);

const { config } = loadConfig({ flags: { config: configFile }, env: { CLINVK_HOME: home, HOME: tmp }, cwd: work });
const server = await startServer(config, { logger: createSilentLogger() });

let counter = 0;
const task = () => ({ backend: 'claude', prompt: `${SLEEP ? `[SLEEP:${SLEEP}] ` : ''}bench task ${++counter}` });

/** Largest number of execution slots in use, sampled every 2 ms while a request runs. */
function sampleSlots() {
  let max = 0;
  const timer = setInterval(() => (max = Math.max(max, server.services.limiter.running)), 2);
  return () => {
    clearInterval(timer);
    return max;
  };
}

async function parallel(tasks) {
  const t0 = performance.now();
  const r = await fetch(`${server.url}/api/v1/parallel`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tasks, max_parallel: MAX_PARALLEL }),
  });
  const body = await r.json();
  const ms = performance.now() - t0;
  if (r.status !== 200 || body.data.completed !== tasks.length) {
    throw new Error(`unexpected response ${r.status}: ${JSON.stringify(body).slice(0, 500)}`);
  }
  return { ms, data: body.data };
}

function readLog() {
  if (!fs.existsSync(logFile)) return [];
  return fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function maxOverlap(entries) {
  const pts = entries
    .filter((e) => e.event === 'start' || e.event === 'end')
    .map((e) => [e.time, e.event === 'start' ? 1 : -1]);
  pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of pts) max = Math.max(max, (cur += d));
  return max;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f = (x) => x.toFixed(0);

try {
  await parallel([task()]); // warm-up (backend check, JIT)
  const singles = [];
  const singleTask = [];
  for (let i = 0; i < SINGLE_RUNS; i++) {
    const r = await parallel([task()]);
    singles.push(r.ms);
    singleTask.push(r.data.results[0].duration_ms);
  }
  const single = median(singles);
  const ideal = (TASKS / MAX_PARALLEL) * single;
  console.log(
    `cpus: ${os.cpus().length}, node ${process.version}, tasks: ${TASKS}, max_parallel: ${MAX_PARALLEL}${SLEEP ? `, [SLEEP:${SLEEP}]` : ''}`,
  );
  console.log(`one task: ${f(single)} ms wall (median of ${SINGLE_RUNS}; CLI run alone ${f(median(singleTask))} ms)`);
  console.log(`ideal:    ${TASKS}/${MAX_PARALLEL} × ${f(single)} = ${f(ideal)} ms`);
  const totals = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const before = readLog().length;
    const stopSampling = sampleSlots();
    const r = await parallel(Array.from({ length: TASKS }, task));
    const slots = stopSampling();
    const overlap = maxOverlap(readLog().slice(before));
    const runMean = r.data.results.reduce((a, x) => a + x.duration_ms, 0) / TASKS;
    totals.push(r.ms);
    console.log(
      `round ${round}: total ${f(r.ms)} ms, ratio ${(r.ms / ideal).toFixed(2)}, ` +
        `slots in use (max) ${slots}, CLIs alive at once (fake log) ${overlap}, mean CLI run ${f(runMean)} ms`,
    );
  }
  const total = median(totals);
  console.log(`median:   total ${f(total)} ms, ratio total/ideal = ${(total / ideal).toFixed(2)}`);
  // A fake CLI run is mostly Node start-up, i.e. CPU: with fewer cores than max_parallel the
  // machine cannot run more than `cpus` of them at full speed.
  // (Only meaningful for tasks without --sleep, and only on an otherwise idle machine.)
  const cores = Math.min(os.cpus().length, MAX_PARALLEL);
  const cpuIdeal = (TASKS / cores) * single;
  if (!SLEEP && cores < MAX_PARALLEL)
    console.log(
      `core-bound ideal (${TASKS}/${cores} × ${f(single)}): ${f(cpuIdeal)} ms, ratio total/core-bound ideal = ${(total / cpuIdeal).toFixed(2)}`,
    );
} finally {
  await server.shutdown({ force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
}
