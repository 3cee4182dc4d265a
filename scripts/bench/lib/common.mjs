// Shared helpers of the HTTP benchmarks (scripts/bench/overhead.mjs, scripts/bench/stream.mjs):
// build check, scratch directories, the server child process, statistics and table printing.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fork, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BENCH_DIR = path.join(ROOT, 'scripts/bench');
export const FAKE_BIN = path.join(ROOT, 'test/fixtures/bin');

// ---------------------------------------------------------------------------------------------
// Build

function newestMtime(dir, exts, acc = 0) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return acc;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) acc = newestMtime(p, exts, acc);
    else if (exts.some((x) => e.name.endsWith(x))) acc = Math.max(acc, fs.statSync(p).mtimeMs);
  }
  return acc;
}

/** Runs `npm run -s build` when dist/ is missing or older than a source file. */
export function ensureBuilt() {
  const stamp = path.join(ROOT, 'dist/src/http/server.js');
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    built = 0;
  }
  const sources = Math.max(
    newestMtime(path.join(ROOT, 'src'), ['.ts']),
    newestMtime(path.join(ROOT, 'generated'), ['.ts']),
    ...['tsconfig.json', 'tsconfig.build.json'].map((f) => {
      try {
        return fs.statSync(path.join(ROOT, f)).mtimeMs;
      } catch {
        return 0;
      }
    }),
  );
  if (built > 0 && built >= sources) return;
  process.stderr.write(built === 0 ? 'dist/ missing: building…\n' : 'dist/ older than src/: building…\n');
  const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    if (built === 0) throw new Error('npm run build failed and there is no dist/ to fall back on');
    process.stderr.write('WARNING: npm run build failed; benchmarking the existing (stale) dist/\n');
  }
}

// ---------------------------------------------------------------------------------------------
// Clean-up of scratch directories and child processes, also on SIGINT/SIGTERM/uncaught errors

const cleanups = [];
let cleaning = false;

export function onCleanup(fn) {
  cleanups.push(fn);
}

export async function cleanup() {
  if (cleaning) return;
  cleaning = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`clean-up: ${err?.message ?? err}\n`);
    }
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Runs main() with clean-up and a hard time limit (ms). */
export function runMain(main, limitMs) {
  const timer = setTimeout(() => {
    process.stderr.write(`benchmark exceeded its time limit of ${limitMs / 1000} s: aborting\n`);
    void cleanup().finally(() => process.exit(3));
  }, limitMs);
  timer.unref();
  main()
    .then(async () => {
      await cleanup();
      clearTimeout(timer);
      process.exit(0);
    })
    .catch(async (err) => {
      process.stderr.write(`${err?.stack ?? err}\n`);
      await cleanup();
      process.exit(1);
    });
}

/** Children spawned directly by a benchmark (own process groups): killed at clean-up if still running. */
const liveChildren = new Set();
onCleanup(() => {
  for (const c of liveChildren) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

export function trackChild(child) {
  if (child.pid === undefined) return child;
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

/**
 * A server configuration with every feature that stays on in production: rate limiting (with a limit
 * far above any load), metrics, an access-log line per request (level info), the fake CLIs.
 */
export function productionLikeConfig() {
  return {
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
  };
}

export function makeScratch(prefix) {
  const dir = fs.mkdtempSync(path.join(process.env.CLINVK_BENCH_DIR ?? os.tmpdir(), prefix));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Makes sure a fixture script is executable (the registry checks X_OK). */
export function ensureExecutable(file) {
  const st = fs.statSync(file);
  if ((st.mode & 0o111) !== 0o111) fs.chmodSync(file, st.mode | 0o755);
  return file;
}

// ---------------------------------------------------------------------------------------------
// The server under test: a separate Node process (scripts/bench/lib/server-host.mjs) that starts
// dist/ the way `clinvk serve` does (same config loading, JSON logger at the configured level on
// its stderr, which goes to a file here) and answers memory queries over IPC.

/** Minimal YAML writer for the flat config documents used here (values are JSON scalars). */
function yamlOf(obj, indent = '') {
  let out = '';
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out += `${indent}${k}:\n${yamlOf(v, `${indent}  `)}`;
    else out += `${indent}${k}: ${JSON.stringify(v)}\n`;
  }
  return out;
}

/**
 * Starts the server in a child process. `config` is merged into a minimal document; returns
 * { url, pid, mem(gc), stop() }.
 */
export async function startServerProcess(
  scratch,
  config,
  { exposeGc = true, name = 'server', eventLoopDelay = false, env = {}, root = undefined, nodeArgs = [] } = {},
) {
  const home = path.join(scratch, `${name}-home`);
  fs.mkdirSync(home, { recursive: true });
  const configFile = path.join(scratch, `${name}.yaml`);
  fs.writeFileSync(configFile, yamlOf(config));
  const logFile = path.join(scratch, `${name}.log`);
  const logFd = fs.openSync(logFile, 'a');
  const child = fork(path.join(BENCH_DIR, 'lib/server-host.mjs'), [configFile], {
    cwd: scratch,
    env: {
      ...process.env,
      CLINVK_HOME: home,
      HOME: home,
      CLINVK_API_KEYS: '',
      CLINVK_CONFIG: '',
      CLINVK_BENCH_ELD: eventLoopDelay ? '1' : '',
      // Another checkout's built dist/ (a baseline to compare against in the same run).
      CLINVK_BENCH_ROOT: root ?? '',
      ...env,
    },
    execArgv: [...(exposeGc ? ['--expose-gc'] : []), ...nodeArgs],
    stdio: ['ignore', 'ignore', logFd, 'ipc'],
  });
  fs.closeSync(logFd);
  let exited = false;
  const exitPromise = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    }),
  );
  const tail = () => {
    try {
      return fs.readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (exited) return;
    child.send({ type: 'stop' });
    const t = setTimeout(() => child.kill('SIGKILL'), 15000);
    await exitPromise;
    clearTimeout(t);
  };
  onCleanup(stop);

  const pending = new Map();
  let seq = 0;
  let onReady;
  const ready = new Promise((resolve, reject) => {
    onReady = resolve;
    exitPromise.then(({ code, signal }) =>
      reject(new Error(`server exited (${code ?? signal}) before it was ready:\n${tail()}`)),
    );
  });
  child.on('message', (m) => {
    if (m.type === 'ready') onReady(m);
    else if (m.type === 'mem') {
      pending.get(m.id)?.({ ...m.mem, cpuMs: (m.cpu.user + m.cpu.system) / 1000 });
      pending.delete(m.id);
    } else if (m.type === 'trace') {
      pending.get(m.id)?.({ requests: m.requests, spawns: m.spawns });
      pending.delete(m.id);
    } else if (m.type === 'profile') {
      pending.get(m.id)?.();
      pending.delete(m.id);
    } else if (m.type === 'eld') {
      pending.get(m.id)?.(m.eld);
      pending.delete(m.id);
    }
  });
  const { url } = await ready;
  return {
    url,
    pid: child.pid,
    logFile,
    /** process.memoryUsage() of the server (after a full GC when gc is true) plus cpuMs (user+system). */
    mem: (gc = false) =>
      new Promise((resolve) => {
        const id = ++seq;
        pending.set(id, resolve);
        child.send({ type: 'mem', id, gc });
      }),
    /** Request and spawn timestamps recorded since the last call (see server-host.mjs). */
    trace: () =>
      new Promise((resolve) => {
        const id = ++seq;
        pending.set(id, resolve);
        child.send({ type: 'trace', id });
      }),
    /** The server's event-loop delay {mean, p50, p99, max} in ms since the last call. */
    eld: () =>
      new Promise((resolve) => {
        const id = ++seq;
        pending.set(id, resolve);
        child.send({ type: 'eld', id });
      }),
    /** Starts a CPU profile of the server (node:inspector); with `file`, stops it and writes it there. */
    profile: (file) =>
      new Promise((resolve) => {
        const id = ++seq;
        pending.set(id, resolve);
        child.send({ type: 'profile', id, file });
      }),
    /** VmRSS / VmHWM of the server process from /proc, in bytes (no IPC, no GC). */
    procStatus: () => procStatus(child.pid),
    stop,
    tail,
  };
}

export function procStatus(pid) {
  const out = {};
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
      const m = /^(VmRSS|VmHWM|Threads):\s+(\d+)/.exec(line);
      if (m) out[m[1]] = m[1] === 'Threads' ? Number(m[2]) : Number(m[2]) * 1024;
    }
  } catch {
    /* gone */
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTTP client

/**
 * One request over node:http (`agent` may be undefined: the global agent); resolves with
 * { ms (request → last response byte), status, text } whatever the status.
 */
export function httpRequest(agent, url, method = 'GET', body = undefined) {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {},
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ ms: nowMs() - t0, status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** PostgreSQL and Redis of the benchmarks that need them (schemas and key prefixes of their own). */
export const PG_URL = process.env.CLINVK_BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.CLINVK_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

// ---------------------------------------------------------------------------------------------
// Statistics and output

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const hr = () => process.hrtime.bigint();

/** The process.hrtime.bigint() stamp (`t=<ns>;`) the stamping fakes put in a delta's text, if any. */
export const stampOf = (text) => {
  const m = /t=(\d+);/.exec(text ?? '');
  return m ? BigInt(m[1]) : undefined;
};

export function summarize(samples) {
  const s = Float64Array.from(samples).sort();
  const n = s.length;
  if (n === 0) return { n: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN, min: NaN };
  const q = (p) => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
  let sum = 0;
  for (const x of s) sum += x;
  return { n, mean: sum / n, min: s[0], p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[n - 1] };
}

export const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
export const mib = (b) => (b / 1048576).toFixed(1);

export function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

export function machineFacts() {
  const cpus = os.cpus();
  const nproc = (() => {
    const r = spawnSync('nproc', [], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : String(cpus.length);
  })();
  return {
    nproc,
    cpu: cpus[0]?.model ?? '?',
    node: process.version,
    memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    load: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
  };
}

export function printFacts(title) {
  const f = machineFacts();
  console.log(`## ${title}\n`);
  console.log(`machine: nproc=${f.nproc}, cpu=${f.cpu}, RAM=${f.memGiB} GiB, node ${f.node}, load average ${f.load}\n`);
}

/** Runs `fn(i)` for i in [0, n) with at most `c` in flight. */
export async function pool(n, c, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(c, n) }, worker));
}

export function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (const a of argv) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown option --${m[1]}`);
    const d = defaults[key];
    out[key] =
      m[2] === undefined
        ? true
        : typeof d === 'number'
          ? Number(m[2])
          : typeof d === 'boolean'
            ? m[2] !== 'false'
            : m[2];
  }
  return out;
}
