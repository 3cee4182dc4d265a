// The server under test for the benchmarks: loads the configuration and starts dist/ like
// `clinvk serve` (JSON logger at server.log_level on stderr), then reports over IPC:
//   → {type:'ready', url}        once listening
//   ← {type:'mem', id, gc}       → {type:'mem', id, mem: process.memoryUsage(), cpu: process.cpuUsage()}
//                                  (memory after gc() if asked)
//   ← {type:'trace', id}         → {type:'trace', id, requests, spawns} and clears them: per HTTP
//                                  request {start, finish} ('request' event → response 'finish') and
//                                  per child_process.spawn() call {s0, s1 (returned), exit, close}
//                                  (performance.now() ms of this process)
//   ← {type:'eld', id}           → {type:'eld', id, eld: {mean, p50, p99, max}}: event-loop delay (ms,
//                                  perf_hooks.monitorEventLoopDelay, 2 ms resolution) since the last call;
//                                  only with CLINVK_BENCH_ELD=1 (else zeros)
//   ← {type:'profile', id, file} starts a CPU profile (node:inspector) → {type:'profile', id};
//                                  with `file` set, stops the running one and writes it there
//   ← {type:'stop'}              graceful shutdown, then exit
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

// Spawn timing: wraps child_process.spawn (cross-spawn calls it through the module object).
const cp = require('node:child_process');
const originalSpawn = cp.spawn;
let spawns = [];
let requests = [];
cp.spawn = function tracedSpawn(...args) {
  const rec = { s0: performance.now() };
  const child = originalSpawn.apply(this, args);
  rec.s1 = performance.now();
  child.once('exit', () => (rec.exit = performance.now()));
  child.once('close', () => (rec.close = performance.now()));
  spawns.push(rec);
  return child;
};

// CLINVK_BENCH_ROOT: the checkout whose dist/ to run (a baseline build), else this one.
const root = process.env.CLINVK_BENCH_ROOT || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// As bin/clinvk.js: the CLI's first import keeps V8's young generation small during start-up.
if (fs.existsSync(path.join(root, 'dist/src/http/startup-heap.js')))
  require(path.join(root, 'dist/src/http/startup-heap.js'));
const { loadConfig } = require(path.join(root, 'dist/src/config/load.js'));
const { startServer } = require(path.join(root, 'dist/src/http/server.js'));
const { createLogger } = require(path.join(root, 'dist/src/observability/logger.js'));

const { config, warnings } = loadConfig({ flags: { config: process.argv[2] }, env: process.env, cwd: process.cwd() });
const logger = createLogger({ level: config.server.log_level, stream: process.stderr, json: true });
for (const w of warnings) logger.warn(w);
const server = await startServer(config, { logger });
server.server.on('request', (_req, res) => {
  const rec = { start: performance.now() };
  res.once('finish', () => (rec.finish = performance.now()));
  requests.push(rec);
});

// Only when asked (stream.mjs): the histogram's timer wakes the loop every few ms.
const eld = monitorEventLoopDelay({ resolution: 2 });
if (process.env.CLINVK_BENCH_ELD === '1') eld.enable();

let inspectorSession;
async function profileCommand(file) {
  const { Session } = await import('node:inspector');
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      inspectorSession.post(method, params, (err, res) => (err ? reject(err) : resolve(res))),
    );
  if (!file) {
    inspectorSession ??= new Session();
    inspectorSession.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 200 });
    await post('Profiler.start');
    return;
  }
  const { profile } = await post('Profiler.stop');
  inspectorSession.disconnect();
  const fs = await import('node:fs');
  fs.writeFileSync(file, JSON.stringify(profile));
}

process.on('message', async (m) => {
  if (m.type === 'profile') {
    await profileCommand(m.file);
    process.send({ type: 'profile', id: m.id });
  } else if (m.type === 'mem') {
    if (m.gc && typeof globalThis.gc === 'function') {
      globalThis.gc();
      await new Promise((r) => setImmediate(r));
      globalThis.gc();
    }
    process.send({ type: 'mem', id: m.id, mem: process.memoryUsage(), cpu: process.cpuUsage() });
  } else if (m.type === 'eld') {
    const ms = (ns) => ns / 1e6;
    process.send({
      type: 'eld',
      id: m.id,
      eld: { mean: ms(eld.mean), p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
    });
    eld.reset();
  } else if (m.type === 'trace') {
    process.send({ type: 'trace', id: m.id, requests, spawns });
    requests = [];
    spawns = [];
  } else if (m.type === 'stop') {
    await server.shutdown({ force: true }).catch(() => undefined);
    process.exit(0);
  }
});
const stopNow = () => void server.shutdown({ force: true }).finally(() => process.exit(0));
process.on('disconnect', stopNow);
process.on('SIGINT', stopNow);
process.on('SIGTERM', stopNow);
process.send({ type: 'ready', url: server.url });
