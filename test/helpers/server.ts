/**
 * Test harness: a server app on a temp CLINVK_HOME with the fake CLIs, a fake-invocation log and
 * helpers to read it. Configuration goes through the real loader (a YAML file in the temp home).
 *
 * With `CLINVK_TEST_TARGET=cluster` (`npm run test:cluster`) makeTestApp and makeTestServer target a
 * cluster of 2 API nodes + 2 workers instead (./cluster-target.ts): `app` and `url` are then the
 * balancer's URL and what looks inside one process throws. Tests that need one process are marked
 * with `inProcessOnly(reason)` / `describeInProcessOnly(reason)` (skipped, with the reason, there).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { loadConfig, withApiKeys } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { createServerApp, startServer, type AppBundle, type RunningServer } from '../../src/http/server';
import { createSilentLogger, type Logger } from '../../src/observability/logger';
import type { SessionRecord, SessionStore } from '../../src/sessions/types';

/** `cluster` when the suites run against a cluster of processes (`CLINVK_TEST_TARGET=cluster`). */
export const TEST_TARGET: 'process' | 'cluster' = process.env.CLINVK_TEST_TARGET === 'cluster' ? 'cluster' : 'process';
export const ON_CLUSTER = TEST_TARGET === 'cluster';

/**
 * `test` for a test that needs one in-process server (its internals, a restart, its logger, its
 * files) or that checks something documented to differ in a cluster: skipped against the cluster.
 * The reason is for the reader: `inProcessOnly('reads the limiter')('name', fn)`.
 */
export function inProcessOnly(_reason: string): jest.It {
  return ON_CLUSTER ? test.skip : test;
}

/**
 * `test` for a test whose answer differs in a cluster, as documented (e.g. limits that hold per API
 * node) or not done yet there: skipped against the cluster, the reason says which.
 */
export function notOnCluster(_reason: string): jest.It {
  return ON_CLUSTER ? test.skip : test;
}

/** `describe` for a block of such tests. */
export function describeInProcessOnly(_reason: string): jest.Describe {
  return ON_CLUSTER ? describe.skip : describe;
}

// a file's clusters are stopped after its tests
if (ON_CLUSTER) afterAll(async () => (await import('./cluster-target')).stopTestClusters(), 60_000);

export const FAKE_BIN = path.resolve(__dirname, '../fixtures/bin');

export interface FakeLogEntry {
  event: 'start' | 'end' | 'grandchild';
  cli?: string;
  argv?: string[];
  cwd?: string;
  pid: number;
  pgid?: number;
  stdin?: string;
  time?: number;
  code?: number | null;
  parent?: number;
  env?: Record<string, string>;
}

export interface TestEnv {
  root: string;
  home: string;
  workdir: string;
  logFile: string;
  stateDir: string;
  config: Config;
  /** Fake CLI invocations so far. */
  log(): FakeLogEntry[];
  /** Start lines of CLI runs (without gemini's asynchronous `--delete-session` clean-ups). */
  starts(): FakeLogEntry[];
  /** Start lines of gemini session clean-ups after ephemeral runs. */
  cleanups(): FakeLogEntry[];
  /** Names of files in the sessions directory (sorted). */
  sessionFiles(): string[];
  /** Ids of the stored session records (sorted), whatever the store. */
  storedSessionIds(): Promise<string[]>;
  cleanup(): void;
}

type Overrides = Record<string, unknown>;

export function deepMerge(a: Overrides, b: Overrides): Overrides {
  const out: Overrides = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Overrides, v as Overrides)
        : v;
  }
  return out;
}

/** gemini's session clean-up after an ephemeral run (`--delete-session=<id> --skip-trust`). */
export function isCleanupArgv(argv: string[] | undefined): boolean {
  return (argv ?? []).some((a) => a === '--delete-session' || a.startsWith('--delete-session='));
}

function sessionFiles(home: string): string[] {
  const dir = path.join(home, 'sessions');
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

/** Builds a temp environment and a validated config pointing the three backends at the fakes. */
export function makeTestEnv(overrides: Overrides = {}): TestEnv {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-test-')));
  const home = path.join(root, 'home');
  const workdir = path.join(root, 'work');
  const stateDir = path.join(root, 'fake-state');
  const logFile = path.join(root, 'fake.log');
  for (const d of [home, workdir, stateDir]) fs.mkdirSync(d, { recursive: true });
  const fakeEnv = { FAKE_CLI_LOG: logFile, FAKE_CLI_STATE_DIR: stateDir, HOME: root };
  const backend = (name: string) => ({ command: path.join(FAKE_BIN, name), env: fakeEnv });
  const file = deepMerge(
    {
      server: { default_workdir: workdir, kill_grace_secs: 1 },
      session: { retention_days: 0 },
      backends: { claude: backend('claude'), codex: backend('codex'), gemini: backend('gemini') },
    },
    overrides,
  );
  const configFile = path.join(root, 'config.yaml');
  fs.writeFileSync(configFile, stringify(file));
  const { config } = loadConfig({
    flags: { config: configFile },
    env: { CLINVK_HOME: home, HOME: root },
    cwd: workdir,
  });
  const readLog = (): FakeLogEntry[] =>
    fs.existsSync(logFile)
      ? fs
          .readFileSync(logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as FakeLogEntry)
      : [];
  return {
    root,
    home,
    workdir,
    logFile,
    stateDir,
    config,
    log: readLog,
    starts: () => readLog().filter((e) => e.event === 'start' && !isCleanupArgv(e.argv) && e.argv?.[0] !== '--version'),
    cleanups: () => readLog().filter((e) => e.event === 'start' && isCleanupArgv(e.argv)),
    sessionFiles: () => sessionFiles(home),
    storedSessionIds: async () =>
      sessionFiles(home)
        .filter((f) => /^[0-9a-f]{32}\.json$/.test(f))
        .map((f) => f.slice(0, -5)),
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

export interface TestApp extends TestEnv {
  bundle: AppBundle;
  /** The app (in process) or the cluster balancer's URL: both are what supertest's `request()` takes. */
  app: AppBundle['app'] | string;
  /** A stored session record as the server's store reads it. */
  storedSession(id: string): Promise<SessionRecord>;
  /** Executions running and queued (in the limiter; in a cluster, summed over the API nodes). */
  executions(): Promise<Executions>;
  close(): Promise<void>;
}

export interface Executions {
  running: number;
  queued: number;
}

/** Extra harness options: API keys (as if from `CLINVK_API_KEYS`/gopass) and the logger. */
export interface HarnessOptions {
  apiKeys?: string[];
  logger?: Logger;
  /** Opens the session store for a server whose `$CLINVK_HOME` is `home` (default: the configured store). */
  store?: (home: string) => Promise<SessionStore>;
  /** Clock of usage days and quota resets. */
  clock?: () => number;
}

function withHarness(env: TestEnv, opts: HarnessOptions): TestEnv {
  if (opts.apiKeys?.length) env.config = withApiKeys(env.config, opts.apiKeys);
  return env;
}

export async function makeTestApp(overrides: Overrides = {}, opts: HarnessOptions = {}): Promise<TestApp> {
  if (ON_CLUSTER) return (await import('./cluster-target')).clusterHandle(overrides, opts);
  const env = withHarness(makeTestEnv(overrides), opts);
  const store = opts.store ? await opts.store(env.home) : undefined;
  const bundle = await createServerApp(env.config, opts.logger ?? createSilentLogger(), { store, clock: opts.clock });
  return {
    ...env,
    bundle,
    app: bundle.app,
    storedSession: (id) => bundle.services.store.resolve(id),
    executions: async () => ({ running: bundle.services.limiter.running, queued: bundle.services.limiter.queued }),
    close: async () => {
      await bundle.close();
      env.cleanup();
    },
  };
}

export interface TestServer extends TestEnv {
  server: RunningServer;
  url: string;
  /** Executions running and queued (in the limiter; in a cluster, summed over the API nodes). */
  executions(): Promise<Executions>;
  close(): Promise<void>;
}

/** A real listening server on 127.0.0.1:<random port> (streaming and socket tests). */
export async function makeTestServer(overrides: Overrides = {}, opts: HarnessOptions = {}): Promise<TestServer> {
  if (ON_CLUSTER) return (await import('./cluster-target')).clusterHandle(overrides, opts);
  const env = withHarness(makeTestEnv(deepMerge({ server: { port: 0, host: '127.0.0.1' } }, overrides)), opts);
  const server = await startServer(env.config, { logger: opts.logger ?? createSilentLogger(), clock: opts.clock });
  return {
    ...env,
    server,
    url: server.url,
    executions: async () => ({ running: server.services.limiter.running, queued: server.services.limiter.queued }),
    close: async () => {
      await server.shutdown({ force: true });
      env.cleanup();
    },
  };
}

/** Polls `fn` until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 5000, stepMs = 25): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** True while the process exists and is not a zombie (PID 1 here may not reap orphans). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
