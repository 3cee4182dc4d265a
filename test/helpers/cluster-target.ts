/**
 * The cluster target of the test harness: with `CLINVK_TEST_TARGET=cluster`, makeTestApp and
 * makeTestServer hand out a cluster of 2 API nodes + 2 workers (real `clinvk serve` processes on real
 * Redis and PostgreSQL, ./cluster.ts) behind the round-robin balancer instead of an in-process
 * server, so the HTTP suites run unchanged against a cluster (`npm run test:cluster`).
 *
 * The same config overrides apply (merged over the cluster's Redis/PostgreSQL settings). Clusters are
 * shared within a test file by config: four processes per test would cost minutes; a handle's view of
 * the fakes' log starts where the log stood when it was handed out, so `starts()`, `log()` and
 * `cleanups()` see only what that test caused. Whatever looks inside one process (`bundle`,
 * `server`, `home`, a logger, a session store or a clock of the harness) throws: such tests are marked
 * `inProcessOnly` in the suites.
 */
import { withApiKeys } from '../../src/config/load';
import type { SessionRecord } from '../../src/sessions/types';
import { PostgresSessionStore } from '../../src/sessions/postgres';
import { startTestCluster, workersLive, type TestCluster } from './cluster';
import { SchemaPool, sql } from './postgres';
import { requireBuild } from './serve-process';
import { isCleanupArgv, type Executions, type HarnessOptions, type TestApp, type TestServer } from './server';

const sum = (ns: number[]) => ns.reduce((a, b) => a + b, 0);

const schemas = new SchemaPool();
interface Entry {
  started: Promise<TestCluster>;
  /** Handles handed out and not closed yet. */
  users: number;
}
const clusters = new Map<string, Entry>();
const stopping: Promise<void>[] = [];

function inside(what: string): never {
  throw new Error(
    `${what} looks inside one server process: not available with CLINVK_TEST_TARGET=cluster (mark the test inProcessOnly)`,
  );
}

async function stop(entry: Entry): Promise<void> {
  await (await entry.started.catch(() => undefined))?.stop();
}

/**
 * The file's cluster for this config, started when there is none. Clusters nobody holds are stopped
 * when another one starts (the machine runs one or two at a time, never one per config).
 */
function clusterFor(overrides: Record<string, unknown>, apiKeys: string[]): Entry {
  const key = JSON.stringify([overrides, apiKeys]);
  let entry = clusters.get(key);
  if (!entry) {
    requireBuild();
    for (const [k, idle] of clusters) {
      if (idle.users > 0) continue;
      clusters.delete(k);
      stopping.push(stop(idle));
    }
    const started = startTestCluster(schemas, {
      // these suites test the API, not failover: worker liveness and leases with room for a loaded
      // machine (a heartbeat starved past 2 s would end runs as `worker lost`)
      cluster: { lock_secs: 10, lease_secs: 10 },
      overrides,
      env: apiKeys.length ? { CLINVK_API_KEYS: apiKeys.join(',') } : {},
    }).then(async (c) => {
      await workersLive(c, 2, 20_000);
      return c;
    });
    entry = { started, users: 0 };
    clusters.set(key, entry);
  }
  return entry;
}

/** What makeTestApp and makeTestServer return against the cluster (both shapes in one). */
export async function clusterHandle(
  overrides: Record<string, unknown>,
  opts: HarnessOptions,
): Promise<TestApp & TestServer & { cluster: TestCluster }> {
  if (opts.logger) inside('the harness logger');
  if (opts.store) inside('a harness session store');
  if (opts.clock) inside('a harness clock');
  const apiKeys = opts.apiKeys ?? [];
  const entry = clusterFor(overrides, apiKeys);
  entry.users++;
  const c = await entry.started;
  let closed = false;
  const env = c.env;
  const from = env.log().length;
  const log = () => env.log().slice(from);
  return {
    cluster: c,
    root: env.root,
    workdir: env.workdir,
    logFile: env.logFile,
    stateDir: env.stateDir,
    config: apiKeys.length ? withApiKeys(env.config, apiKeys) : env.config,
    get home(): string {
      return inside('`home` (each node has its own)');
    },
    log,
    starts: () => log().filter((e) => e.event === 'start' && !isCleanupArgv(e.argv) && e.argv?.[0] !== '--version'),
    cleanups: () => log().filter((e) => e.event === 'start' && isCleanupArgv(e.argv)),
    sessionFiles: () => inside('sessionFiles() (a cluster keeps its sessions in PostgreSQL: use storedSessionIds())'),
    storedSessionIds: async () =>
      (await sql<{ id: string }>(`SELECT id FROM "${c.schema}".sessions ORDER BY id`)).map((r) => r.id),
    storedSession: async (id: string): Promise<SessionRecord> => {
      const store = await PostgresSessionStore.open({ db: schemas.database(c.schema) });
      try {
        return await store.resolve(id);
      } finally {
        await store.close();
      }
    },
    executions: async () => {
      const all = await Promise.all(
        c.apis.map(
          async (a) => ((await (await fetch(`${a.url}/health`)).json()) as { executions: Executions }).executions,
        ),
      );
      return { running: sum(all.map((e) => e.running)), queued: sum(all.map((e) => e.queued)) };
    },
    app: c.url,
    url: c.url,
    get bundle(): never {
      return inside('`bundle`');
    },
    get server(): never {
      return inside('`server`');
    },
    // the cluster is shared by the file's tests with the same config: stopped after the file
    cleanup: () => undefined,
    close: async () => {
      if (!closed) entry.users--;
      closed = true;
    },
  };
}

/** Stops every cluster of the test file and drops their schemas (registered by ./server.ts). */
export async function stopTestClusters(): Promise<void> {
  const all = [...clusters.values()];
  clusters.clear();
  await Promise.all([...all.map(stop), ...stopping.splice(0)]);
  await schemas.dropAll();
}
