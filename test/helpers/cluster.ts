/**
 * A cluster of real `clinvk serve` processes on this machine: API nodes and worker nodes sharing one
 * fresh Redis key prefix and one fresh PostgreSQL schema, each node with its own home (as separate
 * machines would have), plus a round-robin TCP balancer in front of the API nodes so a test talks to
 * "the cluster" through one URL, with consecutive requests landing on different API nodes.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { SchemaPool, TEST_POSTGRES_URL } from './postgres';
import { serveProcess, type ServerProcess } from './serve-process';
import { deepMerge, makeTestEnv, type TestEnv } from './server';

export const TEST_REDIS_URL = process.env.CLINVK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface ClusterNode extends ServerProcess {
  id: string;
  role: 'api' | 'worker' | 'all';
  env: TestEnv;
}

export interface TestCluster {
  /** The balancer's URL (round robin over the API nodes). */
  url: string;
  apis: ClusterNode[];
  workers: ClusterNode[];
  prefix: string;
  schema: string;
  /** The environment the nodes share (config file, workdir, the fakes' log and state); each node has its own home. */
  env: TestEnv;
  /** Every fake-CLI log line of every node. */
  logs(): ReturnType<TestEnv['log']>;
  /** The worker that ran each CLI start (`env.FAKE_MACHINE` of the fakes' start lines), in order. */
  machines(): string[];
  /** Starts one more node (e.g. a restarted worker under the same id). */
  addNode(role: ClusterNode['role'], id: string): Promise<ClusterNode>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  apis?: number;
  workers?: number;
  /** `server` section of every node. */
  server?: Record<string, unknown>;
  /** Extra `cluster` keys (e.g. lock_secs). */
  cluster?: Record<string, unknown>;
  /** Other top-level config sections. */
  more?: Record<string, unknown>;
  /** Extra environment of every node. */
  env?: NodeJS.ProcessEnv;
  /** Config overrides deep-merged over everything above (a test suite's own overrides). */
  overrides?: Record<string, unknown>;
}

/** Starts `apis` API nodes and `workers` worker nodes; the schema is dropped by the pool's owner. */
export async function startTestCluster(schemas: SchemaPool, o: ClusterOptions = {}): Promise<TestCluster> {
  const prefix = `clinvk-test-${randomBytes(6).toString('hex')}`;
  const schema = schemas.schema();
  const file = {
    server: { ...(o.server ?? {}) },
    cluster: {
      enabled: true,
      redis_url: TEST_REDIS_URL,
      key_prefix: prefix,
      postgres_url: TEST_POSTGRES_URL,
      postgres_schema: schema,
      lock_secs: 2,
      lease_secs: 2,
      ...(o.cluster ?? {}),
    },
    session: { store: 'postgres', retention_days: 0 },
    jobs: { store: 'postgres' },
    usage: { store: 'postgres' },
    // each node's CLIs see FAKE_MACHINE = its id: the fakes keep per-machine state and log it
    backends: Object.fromEntries(
      ['claude', 'codex', 'gemini'].map((b) => [
        b,
        { env_passthrough: ['FAKE_MACHINE'], env: { FAKE_CLI_LOG_ENV: 'FAKE_MACHINE' } },
      ]),
    ),
    ...(o.more ?? {}),
  };
  // one environment (config, workdir, fake-CLI log) shared by the nodes; each node its own home
  const env = makeTestEnv(deepMerge(file, o.overrides ?? {}));
  const nodes: ClusterNode[] = [];
  const addNode = async (role: ClusterNode['role'], id: string): Promise<ClusterNode> => {
    const home = `${env.root}/home-${id}`;
    const p = await serveProcess(
      { ...env, home },
      { CLINVK_ROLE: role, CLINVK_NODE_ID: id, FAKE_MACHINE: id, ...(o.env ?? {}) },
    );
    const node: ClusterNode = { ...p, id, role, env: { ...env, home } };
    nodes.push(node);
    return node;
  };
  // all nodes start at once (an API node needs no worker to come up); if one fails, none is left running
  const started = await Promise.allSettled([
    ...Array.from({ length: o.workers ?? 2 }, (_, i) => addNode('worker', `w${i + 1}`)),
    ...Array.from({ length: o.apis ?? 2 }, (_, i) => addNode('api', `a${i + 1}`)),
  ]);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(nodes.map((n) => n.kill()));
    env.cleanup();
    throw failed.reason;
  }
  const byId = (a: ClusterNode, b: ClusterNode) => a.id.localeCompare(b.id);
  const workers = nodes.filter((n) => n.role === 'worker').sort(byId);
  const apis = nodes.filter((n) => n.role === 'api').sort(byId);
  const balancer = await roundRobin(apis.map((a) => a.url));
  return {
    url: balancer.url,
    apis,
    workers,
    prefix,
    schema,
    env,
    logs: () => env.log(),
    machines: () => env.starts().map((e) => e.env?.FAKE_MACHINE ?? '?'),
    addNode,
    stop: async () => {
      await balancer.close();
      await Promise.all(nodes.map((n) => n.kill()));
      await dropPrefix(prefix);
      env.cleanup();
    },
  };
}

/** A JSON request to one node (or the balancer): status, headers and the parsed body. */
export async function send(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** Waits until `count` workers have a live heartbeat (a fresh node needs a moment). */
export async function workersLive(c: TestCluster, count: number, timeoutMs = 10_000): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const names = await redis.smembers(`${c.prefix}:workers`);
      const live = names.length
        ? (await redis.mget(...names.map((n) => `${c.prefix}:worker:${n}`))).filter(Boolean)
        : [];
      if (live.length >= count) return;
      if (Date.now() > end) throw new Error(`only ${live.length} of ${count} workers live`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    redis.disconnect();
  }
}

export async function dropPrefix(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  } finally {
    redis.disconnect();
  }
}

/** A TCP balancer: each new connection goes to the next upstream in turn. */
async function roundRobin(upstreams: string[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const u = new URL(upstreams[next++ % upstreams.length]!);
    const up = net.connect(Number(u.port), u.hostname);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(up);
    up.pipe(client);
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
