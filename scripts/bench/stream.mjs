#!/usr/bin/env node
// Stream benchmark (issue 4): "latency from the fake CLI writing a line to the client reading its
// event (p50/p99; target p99 ≤ 5 ms on this machine) and memory with 256 concurrent streams
// (target ≤ 1 MB per stream)".
//
// Usage:  node scripts/bench/stream.mjs [--lines=500] [--interval=20] [--streams=2]
//                                       [--wide-streams=16] [--wide-lines=150]
//                                       [--mem-streams=256] [--mem-secs=5] [--mem-ramp-secs=90]
//                                       [--mem-interval=200]
//                                       [--no-latency] [--no-memory] [--no-burst]
//                                       [--burst-streams=16] [--bg-streams=4] [--burst-rounds=5]
//                                       [--burst-lines=100] [--baseline=<checkout with a built dist/>]
//
// Latency: POST /api/v1/prompt {"backend":"claude","output_format":"stream-json","ephemeral":true}
// against scripts/bench/fixtures/claude-stream, a Node fake that writes one claude
// `content_block_delta` line every <interval> ms whose text carries process.hrtime.bigint() taken
// right before the write (CLOCK_MONOTONIC, shared by all processes of the machine). The client
// (fetch, streaming reader, one real TCP socket per stream) takes process.hrtime.bigint() as each
// chunk arrives and computes, for every NDJSON `message` event in it, receive − write. Rows: a few
// streams at a time (--streams), many at once (--wide-streams), and the same fake read directly
// through a pipe by this process (no server: the floor of pipe + event-loop wake-up).
//
// Memory: a fresh server (own process, --expose-gc) runs --mem-streams concurrent streams of
// scripts/bench/fixtures/claude-sh (bash: a few MB per child instead of ~40 MB for a Node fake),
// each printing a delta every --mem-interval ms until a stop file appears; the file is created
// --mem-secs s after the last stream opened (ramp-up bounded by --mem-ramp-secs), so all streams
// are open together for that long whatever the spawn rate. The server's RSS and heap are sampled
// every 200 ms (process.memoryUsage() over IPC; VmRSS/VmHWM from /proc as a cross-check): baseline
// (after warm-up and a full GC), peak, at the plateau (all streams open) after a full GC, and after
// the run (full GC). The children's memory is not the server's and is not counted.
//
// Burst (event loop free of fork/exec): --bg-streams streams are running (a delta every
// --interval ms each) when --burst-streams new streams are started together. Measured from the
// first new request until every new stream delivered its first delta: the server's event-loop
// delay (p99/max) and the latency of the running streams' events written in that window, plus the
// number of child_process.spawn() calls the server process made (0: the supervisor spawns).
// --burst-rounds rounds are pooled. With --baseline, the same rows for another checkout's build
// (e.g. a worktree of the commit before the supervisor) in the same run, interleaved by round.
// Also prints the supervisor's RSS (its own process; the server's RSS above excludes it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import {
  BENCH_DIR,
  ensureBuilt,
  ensureExecutable,
  fmt,
  hr,
  makeScratch,
  mib,
  parseArgs,
  printFacts,
  runMain,
  sleep,
  stampOf,
  startServerProcess,
  summarize,
  table,
  trackChild,
} from './lib/common.mjs';

const opts = parseArgs(process.argv.slice(2), {
  lines: 500,
  interval: 20,
  streams: 2,
  wideStreams: 16,
  wideLines: 150,
  memStreams: 256,
  memSecs: 5,
  memRampSecs: 90,
  memInterval: 200,
  latency: true,
  noLatency: false,
  memory: true,
  noMemory: false,
  burst: true,
  noBurst: false,
  burstStreams: 16,
  bgStreams: 4,
  burstRounds: 5,
  burstLines: 100,
  baseline: '',
});

const STREAM_ARGS = [
  '-p',
  '--output-format',
  'stream-json',
  '--verbose',
  '--include-partial-messages',
  '--no-session-persistence',
  '--',
];

/** Latency samples (ms) of the `message` events in one NDJSON chunk set, plus stream checks. */
class NdjsonReader {
  constructor(onEvent) {
    this.buf = '';
    this.onEvent = onEvent;
    this.events = 0;
    this.lastSeq = 0;
    this.terminal = undefined;
  }

  push(text, at) {
    this.buf += text;
    let nl;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line === '') continue;
      const ev = JSON.parse(line);
      this.events++;
      if (ev.sequence !== this.lastSeq + 1) throw new Error(`sequence gap: ${this.lastSeq} → ${ev.sequence}`);
      this.lastSeq = ev.sequence;
      if (ev.type === 'done' || ev.type === 'error') this.terminal = ev;
      this.onEvent(ev, at);
    }
  }
}

/** One stream through the server; pushes latencies (ms) of timestamped message events. */
async function serverStream(url, prompt, lat, state, signal) {
  const res = await fetch(`${url}/api/v1/prompt`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ backend: 'claude', prompt, output_format: 'stream-json', ephemeral: true }),
    signal,
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const decoder = new TextDecoder();
  let messages = 0;
  const reader = new NdjsonReader((ev, at) => {
    if (ev.type !== 'message') return;
    messages++;
    if (messages === 1 && state) {
      state.open++;
      state.started = (state.started ?? 0) + 1;
    }
    const t = stampOf(ev.content.text);
    if (t !== undefined && lat) lat.push([t, Number(at - t) / 1e6]);
  });
  try {
    for await (const chunk of res.body) {
      const at = hr();
      reader.push(decoder.decode(chunk, { stream: true }), at);
    }
  } finally {
    if (state && messages > 0) state.open--;
  }
  if (reader.terminal?.type !== 'done')
    throw new Error(`stream did not end with done: ${JSON.stringify(reader.terminal)}`);
  return { events: reader.events, messages };
}

/** The same fake read directly through a pipe (no server). */
function directStream(command, cwd, prompt, lat) {
  return new Promise((resolve, reject) => {
    const child = trackChild(
      spawn(command, [...STREAM_ARGS, prompt], { cwd, stdio: ['ignore', 'pipe', 'ignore'], detached: true }),
    );
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text) => {
      const at = hr();
      buf += text;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const obj = JSON.parse(line);
        if (obj.type === 'stream_event' && obj.event.type === 'content_block_delta') {
          const t = stampOf(obj.event.delta.text);
          if (t !== undefined) lat.push([t, Number(at - t) / 1e6]);
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`fake exited ${code}`))));
  });
}

/**
 * Rows for one run: all events, and the steady state — events written while every stream of the
 * run was producing (after the last stream's first delta and before the first stream's last one),
 * i.e. without the start-up phase in which the other runs are still being spawned.
 */
function latRows(name, streams, perStream, wall, server) {
  const all = perStream.flat();
  const from = perStream.reduce((a, l) => (l.length && l[0][0] > a ? l[0][0] : a), 0n);
  const to = perStream.reduce(
    (a, l) => (l.length && l[l.length - 1][0] < a ? l[l.length - 1][0] : a),
    BigInt(Number.MAX_SAFE_INTEGER) * 1000n,
  );
  const steady = all.filter(([t]) => t >= from && t <= to);
  const cells = (lat) => {
    const s = summarize(lat.map(([, ms]) => ms));
    return [s.n, fmt(s.p50, 2), fmt(s.p90, 2), fmt(s.p99, 2), fmt(s.max, 2), fmt(s.mean, 2), s.p99 <= 5 ? 'yes' : 'NO'];
  };
  const srv = server
    ? [
        `${fmt(server.eld.p99, 1)} / ${fmt(server.eld.max, 1)}`,
        `${fmt(server.spawn.mean, 1)} / ${fmt(server.spawn.max, 1)}`,
      ]
    : ['–', '–'];
  return [
    [name, streams, 'all', ...cells(all), fmt(wall / 1000, 1), ...srv],
    [name, streams, 'steady', ...cells(steady), '', '', ''],
  ];
}

async function latencyPart(scratch) {
  const work = path.join(scratch, 'work');
  const fake = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-stream'));
  const server = await startServerProcess(
    scratch,
    {
      backends: { claude: { command: fake } },
      server: {
        port: 0,
        default_workdir: work,
        max_concurrent_executions: 64,
        max_queued_executions: 1000,
        log_level: 'info',
      },
      session: { retention_days: 0 },
    },
    { exposeGc: false, name: 'latency-server', eventLoopDelay: true },
  );
  // Warm-up (JIT of the stream path, connection set-up).
  await Promise.all([0, 1, 2, 3].map(() => serverStream(server.url, 'lines=20 interval=5', [])));

  const rows = [];
  const run = async (name, streams, lines, one, viaServer) => {
    const perStream = Array.from({ length: streams }, () => []);
    if (viaServer) {
      await server.eld();
      await server.trace();
    }
    const t0 = Date.now();
    await Promise.all(perStream.map((lat) => one(`lines=${lines} interval=${opts.interval}`, lat)));
    const wall = Date.now() - t0;
    let srv;
    if (viaServer) {
      const eld = await server.eld();
      const sp = summarize((await server.trace()).spawns.map((x) => x.s1 - x.s0));
      srv = { eld, spawn: sp };
    }
    rows.push(...latRows(name, streams, perStream, wall, srv));
  };
  await run('server (fetch, NDJSON)', opts.streams, opts.lines, (p, lat) => serverStream(server.url, p, lat), true);
  await run('direct pipe (no server)', opts.streams, opts.lines, (p, lat) => directStream(fake, work, p, lat), false);
  await run(
    'server (fetch, NDJSON)',
    opts.wideStreams,
    opts.wideLines,
    (p, lat) => serverStream(server.url, p, lat),
    true,
  );
  await run(
    'direct pipe (no server)',
    opts.wideStreams,
    opts.wideLines,
    (p, lat) => directStream(fake, work, p, lat),
    false,
  );
  await server.stop();

  console.log(`### Event latency: fake CLI write → client read (one delta every ${opts.interval} ms per stream)\n`);
  console.log(
    table(
      [
        'path',
        'streams',
        'window',
        'events',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'mean ms',
        'p99 ≤ 5 ms',
        'wall s',
        'server loop delay p99/max ms',
        'spawn() call mean/max ms',
      ],
      rows,
    ),
  );
  console.log();
  console.log(
    '"steady": only events written while all streams of the run were producing (no stream still being spawned).\n',
  );
}

/** VmRSS of the server's child processes (the supervisor), from /proc. */
function childRss(pid) {
  let total = 0;
  const names = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const st = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) !== pid) continue;
      const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      names.push(name);
    } catch {
      /* gone */
    }
  }
  return { rss: total, pids: names };
}

async function burstPart(scratch) {
  const work = path.join(scratch, 'work');
  const fake = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-stream'));
  const variants = [{ name: 'this build', root: undefined }];
  if (opts.baseline) {
    const root = path.resolve(opts.baseline);
    if (!fs.existsSync(path.join(root, 'dist/src/http/server.js'))) throw new Error(`${root}: no built dist/`);
    variants.push({ name: 'baseline', root });
  }
  for (const [i, v] of variants.entries()) {
    v.server = await startServerProcess(
      scratch,
      {
        backends: { claude: { command: fake } },
        server: {
          port: 0,
          default_workdir: work,
          max_concurrent_executions: 64,
          max_queued_executions: 1000,
          log_level: 'info',
        },
        session: { retention_days: 0 },
      },
      { exposeGc: false, name: `burst-server-${i}`, eventLoopDelay: true, root: v.root },
    );
    await Promise.all([0, 1, 2, 3].map(() => serverStream(v.server.url, 'lines=20 interval=5', [])));
    v.acc = { bg: [], eldP99: [], eldMax: [], burstMs: [], spawns: 0, newFirst: [], supervisorRss: [] };
  }
  const waitUntil = async (cond, ms) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('burst: streams did not start in time');
      await sleep(5);
    }
  };
  for (let round = 0; round < opts.burstRounds; round++) {
    for (const v of variants) {
      const { server, acc } = v;
      const ac = new AbortController();
      const bgLat = Array.from({ length: opts.bgStreams }, () => []);
      const bgState = { open: 0 };
      const bg = bgLat.map((lat) =>
        serverStream(server.url, `lines=100000 interval=${opts.interval}`, lat, bgState, ac.signal).catch(() => null),
      );
      await waitUntil(() => bgState.open === opts.bgStreams, 60_000);
      await sleep(300);
      await server.eld();
      await server.trace();
      const newState = { open: 0 };
      const t0 = hr();
      const burst = Array.from({ length: opts.burstStreams }, () =>
        serverStream(server.url, `lines=${opts.burstLines} interval=${opts.interval}`, [], newState),
      );
      await waitUntil(() => newState.started === opts.burstStreams, 60_000);
      const t1 = hr();
      const eld = await server.eld();
      const trace = await server.trace();
      // (A baseline without a supervisor has the CLIs themselves as children: not counted.)
      if (trace.spawns.length === 0) acc.supervisorRss.push(childRss(server.pid).rss);
      await Promise.all(burst);
      ac.abort();
      await Promise.all(bg);
      for (const lat of bgLat) for (const [t, ms] of lat) if (t >= t0 && t <= t1) acc.bg.push(ms);
      acc.eldP99.push(eld.p99);
      acc.eldMax.push(eld.max);
      acc.burstMs.push(Number(t1 - t0) / 1e6);
      acc.spawns += trace.spawns.length;
    }
  }
  const rows = [];
  for (const v of variants) {
    const { acc } = v;
    const bg = summarize(acc.bg);
    const p99 = summarize(acc.eldP99);
    const max = Math.max(...acc.eldMax);
    const burst = summarize(acc.burstMs);
    rows.push([
      v.name,
      opts.burstRounds,
      fmt(burst.p50, 0),
      `${fmt(p99.p50, 1)} / ${fmt(p99.max, 1)}`,
      fmt(max, 1),
      p99.max <= 10 ? 'yes' : 'NO',
      bg.n,
      `${fmt(bg.p50, 2)} / ${fmt(bg.p99, 2)} / ${fmt(bg.max, 1)}`,
      bg.p99 <= 5 ? 'yes' : 'NO',
      acc.spawns,
      acc.supervisorRss.length ? mib(Math.max(...acc.supervisorRss)) : '–',
    ]);
    await v.server.stop();
  }
  console.log(
    `### ${opts.burstStreams} streams started together while ${opts.bgStreams} run (a delta every ${opts.interval} ms; window: first new request → every new stream's first delta)\n`,
  );
  console.log(
    table(
      [
        'build',
        'rounds',
        'window ms p50',
        'server loop delay p99 ms (median / worst round)',
        'loop delay max ms',
        'p99 ≤ 10 ms',
        'running-stream events',
        'their latency p50 / p99 / max ms',
        'p99 ≤ 5 ms',
        'server spawn() calls',
        'supervisor RSS MiB (max)',
      ],
      rows,
    ),
  );
  console.log();
}

async function memoryPart(scratch) {
  const work = path.join(scratch, 'work');
  const fake = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-sh'));
  const n = opts.memStreams;
  const server = await startServerProcess(
    scratch,
    {
      backends: { claude: { command: fake } },
      server: {
        port: 0,
        default_workdir: work,
        max_concurrent_executions: Math.max(n + 16, 64),
        max_queued_executions: 1000,
        log_level: 'info',
      },
      session: { retention_days: 0 },
    },
    { exposeGc: true, name: 'memory-server', eventLoopDelay: true },
  );
  // Warm-up: the stream code paths once, with a few concurrent streams.
  await Promise.all(Array.from({ length: 8 }, () => serverStream(server.url, 'lines=5 interval=10', null)));
  await sleep(500);
  const base = await server.mem(true);
  const baseProc = server.procStatus();
  await server.eld();
  await server.trace();

  // Every stream emits a delta every memInterval ms until the stop file exists: all n are open
  // together once the last one has started, however long the spawning takes.
  const stopFile = path.join(scratch, 'memory-stop');
  const maxLines = Math.ceil(((opts.memRampSecs + opts.memSecs + 30) * 1000) / opts.memInterval);
  const state = { open: 0, maxOpen: 0 };
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  let samples = 0;
  let sampling = true;
  const sampleOnce = async () => {
    const m = await server.mem(false);
    samples++;
    for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
    state.maxOpen = Math.max(state.maxOpen, state.open);
  };
  const sampler = (async () => {
    while (sampling) {
      await sampleOnce();
      await sleep(200);
    }
  })();
  const t0 = Date.now();
  const streams = Promise.allSettled(
    Array.from({ length: n }, () =>
      serverStream(server.url, `lines=${maxLines} interval=${opts.memInterval} until=${stopFile}`, null, state),
    ),
  );
  let settled = false;
  void streams.then(() => (settled = true));
  // Ramp-up: wait until all streams are open (or the ramp-up limit).
  while (state.open < n && !settled && Date.now() - t0 < opts.memRampSecs * 1000) await sleep(100);
  const ramp = Date.now() - t0;
  const allOpen = state.open === n;
  state.maxOpen = Math.max(state.maxOpen, state.open);
  const rampEld = await server.eld();
  const rampSpawns = summarize((await server.trace()).spawns.map((x) => x.s1 - x.s0));
  // Plateau: hold for memSecs with every stream producing, then one sample after a full GC.
  await sleep(opts.memSecs * 1000);
  const plateauOpen = state.open;
  const plateau = { ...(await server.mem(true)), proc: server.procStatus() };
  const plateauEld = await server.eld();
  fs.writeFileSync(stopFile, '');
  const results = await streams;
  const wall = Date.now() - t0;
  sampling = false;
  await sampler;
  const failed = results.filter((r) => r.status === 'rejected');
  const events = results.reduce((a, r) => a + (r.status === 'fulfilled' ? r.value.events : 0), 0);
  await sleep(500);
  const after = await server.mem(true);
  const afterProc = server.procStatus();
  await server.stop();

  const per = (x) => `${(x / n / 1024).toFixed(0)} KiB`;
  const rows = [
    [
      'baseline (after warm-up, full GC)',
      mib(base.rss),
      mib(base.heapUsed),
      mib(base.external),
      mib(baseProc.VmRSS ?? NaN),
      '',
      '',
    ],
    [
      'peak during the run (200 ms samples, no forced GC)',
      mib(peak.rss),
      mib(peak.heapUsed),
      mib(peak.external),
      '',
      per(peak.rss - base.rss),
      per(peak.heapUsed - base.heapUsed),
    ],
    [
      `plateau (${plateauOpen} open), after full GC`,
      mib(plateau.rss),
      mib(plateau.heapUsed),
      mib(plateau.external),
      mib(plateau.proc.VmRSS ?? NaN),
      per(plateau.rss - base.rss),
      per(plateau.heapUsed - base.heapUsed),
    ],
    [
      'after the run (full GC)',
      mib(after.rss),
      mib(after.heapUsed),
      mib(after.external),
      mib(afterProc.VmRSS ?? NaN),
      per(after.rss - base.rss),
      per(after.heapUsed - base.heapUsed),
    ],
    [
      'VmHWM (peak RSS per the kernel)',
      mib(afterProc.VmHWM ?? NaN),
      '',
      '',
      '',
      per((afterProc.VmHWM ?? NaN) - base.rss),
      '',
    ],
  ];
  console.log(
    `### Server memory with ${n} concurrent streams (a delta every ${opts.memInterval} ms each; ${n - failed.length}/${n} ok, ${events} events, ${samples} samples)\n`,
  );
  console.log(
    `ramp-up: ${allOpen ? 'all' : `only ${state.maxOpen}`} of ${n} streams open after ${(ramp / 1000).toFixed(1)} s ` +
      `(server spawn() call mean ${fmt(rampSpawns.mean, 1)} ms, max ${fmt(rampSpawns.max, 1)} ms over ${rampSpawns.n} spawns; ` +
      `server event-loop delay p99 ${fmt(rampEld.p99, 1)} ms, max ${fmt(rampEld.max, 1)} ms); ` +
      `plateau held ${opts.memSecs} s (event-loop delay p99 ${fmt(plateauEld.p99, 1)} ms, max ${fmt(plateauEld.max, 1)} ms); total ${(wall / 1000).toFixed(1)} s\n`,
  );
  console.log(
    table(
      ['moment', 'RSS MiB', 'heapUsed MiB', 'external MiB', '/proc VmRSS MiB', 'RSS Δ/stream', 'heap Δ/stream'],
      rows,
    ),
  );
  console.log();
  const perStream = (peak.rss - base.rss) / n;
  console.log(
    `per stream: (peak RSS − baseline)/${n} = ${(perStream / 1024).toFixed(0)} KiB → target ≤ 1 MB: ${perStream <= 1 << 20 ? 'yes' : 'NO'}\n`,
  );
  if (failed.length)
    console.log(
      `failures: ${failed
        .slice(0, 3)
        .map((f) => f.reason?.message)
        .join(' | ')}\n`,
    );
}

async function main() {
  ensureBuilt();
  const t0 = Date.now();
  const scratch = makeScratch('clinvk-bench-stream-');
  fs.mkdirSync(path.join(scratch, 'work'));
  printFacts('clinvk stream benchmark: event latency and memory per stream');
  if (opts.burst && !opts.noBurst) await burstPart(scratch);
  if (opts.latency && !opts.noLatency) await latencyPart(scratch);
  if (opts.memory && !opts.noMemory) await memoryPart(scratch);
  console.log(
    `total run time ${((Date.now() - t0) / 1000).toFixed(0)} s; load average now ${(await import('node:os'))
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

runMain(main, 4 * 60 * 1000);
