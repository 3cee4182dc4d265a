/**
 * Cluster mode on a real Redis: two `clinvk serve` processes (the built command) with one key prefix
 * enforce one execution limit, one queue and one rate-limit bucket between them, and a node whose
 * Redis goes away answers 503 until it is back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { expectMatchesSpec } from '../helpers/contract';
import { SchemaPool, TEST_POSTGRES_URL } from '../helpers/postgres';
import { freePort, requireBuild, serveProcess, type ServerProcess } from '../helpers/serve-process';
import { KEY_A, KEY_ADMIN, KEY_B, as, teamKeys } from '../helpers/keys';
import { makeTestEnv, waitFor, type FakeLogEntry, type TestEnv } from '../helpers/server';

const REDIS_URL = process.env.CLINVK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
// a cluster keeps its records in PostgreSQL: each cluster of this file gets a fresh schema
const schemas = new SchemaPool();
afterAll(() => schemas.dropAll());

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const prompt = (text: string) => ({ backend: 'claude', prompt: text, ephemeral: true });

/** Most CLI runs alive at one instant, from the fakes' start/end lines of every node. */
function maxOverlap(logs: FakeLogEntry[]): number {
  // the availability check's `--version` probes are not runs (their end lines carry no argv: match by pid)
  const probes = new Set(logs.filter((e) => e.argv?.[0] === '--version').map((e) => e.pid));
  const points = logs
    .filter((e) => !probes.has(e.pid))
    .filter((e) => e.event === 'start' || e.event === 'end')
    .map((e) => ({ t: e.time!, d: e.event === 'start' ? 1 : -1 }))
    .sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (now += p.d));
  return max;
}

interface Cluster {
  envs: TestEnv[];
  nodes: ServerProcess[];
  prefix: string;
  stop(): Promise<void>;
}

/**
 * `count` nodes sharing one fresh key prefix and one fresh PostgreSQL schema; each has its own home
 * (as separate machines would).
 */
async function startCluster(
  count: number,
  server: Record<string, unknown>,
  redisUrl = REDIS_URL,
  cluster: Record<string, unknown> = {},
  more: Record<string, unknown> = {},
): Promise<Cluster> {
  const prefix = `clinvk-test-${randomBytes(6).toString('hex')}`;
  const postgres = { postgres_url: TEST_POSTGRES_URL, postgres_schema: schemas.schema() };
  const envs = Array.from({ length: count }, () =>
    makeTestEnv({
      server,
      cluster: { enabled: true, redis_url: redisUrl, key_prefix: prefix, ...postgres, ...cluster },
      ...more,
    }),
  );
  // separate machines have separate node names
  const nodes = await Promise.all(envs.map((e, i) => serveProcess(e, { CLINVK_NODE_ID: `n${i + 1}` })));
  return {
    envs,
    nodes,
    prefix,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.kill()));
      for (const e of envs) e.cleanup();
    },
  };
}

async function dropPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
}

describe('cluster-wide limits on Redis, two API processes', () => {
  beforeAll(() => requireBuild());

  test('one execution limit and one queue for both nodes: no overshoot, exact queue_full count', async () => {
    // per node these limits would admit 2 + 3 each; the cluster admits 2 running + 3 queued in all
    const c = await startCluster(2, { max_concurrent_executions: 2, max_queued_executions: 3 });
    try {
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          call(c.nodes[i % 2]!.url, 'POST', '/api/v1/prompt', prompt(`[SLEEP:4000] run ${i}`)),
        ),
      );
      for (const r of replies) expectMatchesSpec('executePrompt', r.status, r.body);
      const full = replies.filter((r) => r.status === 429);
      expect(full).toHaveLength(15);
      for (const r of full) {
        expect(r.body).toEqual({ success: false, error: 'execution queue is full', code: 'queue_full' });
        expect(r.headers.get('retry-after')).toBe('1');
      }
      expect(replies.filter((r) => r.status === 200)).toHaveLength(5);
      expect(maxOverlap(c.envs.flatMap((e) => e.log()))).toBe(2);
      const runs = c.envs.flatMap((e) => e.starts());
      expect(runs).toHaveLength(5);
    } finally {
      await c.stop();
      await dropPrefix(c.prefix);
    }
  }, 120_000);

  test('200 concurrent requests over two nodes never run more than the cluster-wide limit', async () => {
    const c = await startCluster(2, { max_concurrent_executions: 6, max_queued_executions: 200 });
    try {
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          call(c.nodes[i % 2]!.url, 'POST', '/api/v1/prompt', prompt(`[SLEEP:20] burst ${i}`)),
        ),
      );
      expect(replies.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
      expect(c.envs.flatMap((e) => e.starts())).toHaveLength(200);
      expect(maxOverlap(c.envs.flatMap((e) => e.log()))).toBeLessThanOrEqual(6);
      // every place was given back
      const redis = new Redis(REDIS_URL);
      expect(await redis.zcard(`${c.prefix}:adm:run`)).toBe(0);
      expect(await redis.zcard(`${c.prefix}:adm:wait`)).toBe(0);
      await redis.quit();
    } finally {
      await c.stop();
      await dropPrefix(c.prefix);
    }
  }, 180_000);

  test('one rate-limit bucket per client for both nodes', async () => {
    const c = await startCluster(2, { rate_limit_enabled: true, rate_limit_rps: 1, rate_limit_burst: 5 });
    try {
      // all at once, half to each node: the nodes share one bucket of 5 (per node it would be 5 each)
      const t0 = Date.now();
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => call(c.nodes[i % 2]!.url, 'GET', '/api/v1/backends')),
      );
      const elapsedSecs = (Date.now() - t0) / 1000;
      for (const r of replies) {
        expectMatchesSpec('listBackends', r.status, r.body);
        if (r.status === 429) {
          expect(r.body).toMatchObject({ success: false, code: 'rate_limited' });
          expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        } else expect(r.status).toBe(200);
      }
      // the bucket refills 1 token a second while the requests run (a slow machine may take a while)
      const passed = replies.filter((r) => r.status === 200).length;
      expect(passed).toBeGreaterThanOrEqual(5);
      expect(passed).toBeLessThanOrEqual(5 + Math.ceil(elapsedSecs));
    } finally {
      await c.stop();
      await dropPrefix(c.prefix);
    }
  }, 60_000);

  test("one key's daily quota and concurrency hold across both nodes", async () => {
    const c = await startCluster(
      2,
      {},
      REDIS_URL,
      {},
      {
        auth: { keys: teamKeys({ 'team-a': { requests_per_day: 4, max_concurrent: 1 } }) },
      },
    );
    try {
      // concurrency: a run of team-a on node 0 holds its only unit; node 1 refuses a second one
      const slow = call(c.nodes[0]!.url, 'POST', '/api/v1/prompt', prompt('[SLEEP:3000] slow'), as(KEY_A));
      // the run may go to either node's worker (each node logs its own CLIs)
      await waitFor(() => c.envs.flatMap((e) => e.starts()).length === 1, 20_000);
      const busy = await call(c.nodes[1]!.url, 'POST', '/api/v1/prompt', prompt('second'), as(KEY_A));
      expectMatchesSpec('executePrompt', busy.status, busy.body);
      expect(busy.status).toBe(429);
      expect(busy.body).toMatchObject({ success: false, code: 'key_concurrency_limit' });
      // another key is not affected
      expect((await call(c.nodes[1]!.url, 'POST', '/api/v1/prompt', prompt('b'), as(KEY_B))).status).toBe(200);
      expect((await slow).status).toBe(200);
      // quota: 4 a day in all — one used, three more alternating between the nodes, then 429 on both
      for (let i = 0; i < 3; i++) {
        const r = await call(c.nodes[i % 2]!.url, 'POST', '/api/v1/prompt', prompt(`q${i}`), as(KEY_A));
        expect(r.status).toBe(200);
      }
      for (const n of c.nodes) {
        const r = await call(n.url, 'POST', '/api/v1/prompt', prompt('over'), as(KEY_A));
        expectMatchesSpec('executePrompt', r.status, r.body);
        expect(r.status).toBe(429);
        expect(r.body).toMatchObject({ success: false, code: 'quota_exceeded' });
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      const me = await call(c.nodes[1]!.url, 'GET', '/api/v1/me', undefined, as(KEY_A));
      expectMatchesSpec('getCurrentKey', me.status, me.body);
      expect(me.body.data.today).toMatchObject({ requests: 4, running: 0 });
    } finally {
      await c.stop();
      await dropPrefix(c.prefix);
    }
  }, 90_000);

  test("a dead node's admissions free themselves within one lease", async () => {
    const c = await startCluster(2, { max_concurrent_executions: 1, max_queued_executions: 5 }, REDIS_URL, {
      lease_secs: 1,
    });
    try {
      const first = call(c.nodes[0]!.url, 'POST', '/api/v1/prompt', prompt('[SLEEP:60000] held')).catch(() => null);
      await waitFor(() => c.envs.flatMap((e) => e.starts()).length === 1, 20_000);
      // the holder dies without giving its place back (its CLI is killed by the test, wherever it ran)
      const cli = c.envs.flatMap((e) => e.starts())[0]!.pid;
      await c.nodes[0]!.kill();
      try {
        process.kill(-cli, 'SIGKILL');
      } catch {
        // already gone
      }
      await first;
      const t0 = Date.now();
      const r = await call(c.nodes[1]!.url, 'POST', '/api/v1/prompt', prompt('after the node died'));
      expectMatchesSpec('executePrompt', r.status, r.body);
      expect(r.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(15_000);
    } finally {
      await c.stop();
      await dropPrefix(c.prefix);
    }
  }, 90_000);
});

describe('a node whose Redis goes away', () => {
  let redis: ChildProcess | undefined;
  let port: number;
  const startRedis = async (): Promise<void> => {
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const probe = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => 50 });
    await waitFor(
      async () =>
        probe
          .ping()
          .then(() => true)
          .catch(() => false),
      10_000,
    );
    probe.disconnect();
  };
  const stopRedis = async (): Promise<void> => {
    const r = redis;
    redis = undefined;
    if (!r || r.exitCode !== null) return;
    r.kill('SIGKILL');
    await new Promise((res) => r.once('exit', res));
  };
  beforeAll(async () => {
    requireBuild();
    port = await freePort();
    await startRedis();
  });
  afterAll(stopRedis);

  test('answers 503 while Redis is down (health unhealthy, runs backend_unavailable), then recovers by itself with its key counters rebuilt', async () => {
    const c = await startCluster(
      1,
      { rate_limit_enabled: true, rate_limit_rps: 1000, rate_limit_burst: 1000 },
      `redis://127.0.0.1:${port}`,
      {},
      { auth: { keys: teamKeys({ 'team-a': { requests_per_day: 10 } }) } },
    );
    const url = c.nodes[0]!.url;
    const admin = as(KEY_ADMIN);
    try {
      const ok = await call(url, 'GET', '/health', undefined, admin);
      expectMatchesSpec('healthCheck', ok.status, ok.body);
      expect(ok.body.cluster).toEqual({ redis: { available: true } });
      for (const text of ['before 1', 'before 2']) {
        expect((await call(url, 'POST', '/api/v1/prompt', prompt(text), as(KEY_A))).status).toBe(200);
      }

      await stopRedis();
      const down = await waitFor(async () => {
        const h = await call(url, 'GET', '/health', undefined, admin);
        return h.status === 503 ? h : undefined;
      }, 10_000);
      expectMatchesSpec('healthCheck', down.status, down.body);
      expect(down.body.status).toBe('unhealthy');
      expect(down.body.cluster.redis.available).toBe(false);
      // rate limiting fails open (the default); the run itself cannot be admitted
      const refused = await call(url, 'POST', '/api/v1/prompt', prompt('while down'), as(KEY_A));
      expectMatchesSpec('executePrompt', refused.status, refused.body);
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ success: false, code: 'backend_unavailable' });
      expect(c.envs.flatMap((e) => e.starts()).filter((s) => s.argv?.includes('while down'))).toHaveLength(0);

      // a new, empty Redis: the node reconnects and puts today's counters back from its usage records
      await startRedis();
      await waitFor(async () => (await call(url, 'GET', '/health', undefined, admin)).status === 200, 15_000);
      const me = await waitFor(async () => {
        const r = await call(url, 'GET', '/api/v1/me', undefined, as(KEY_A));
        return r.status === 200 && r.body.data.today.requests === 2 ? r : undefined;
      }, 20_000);
      expectMatchesSpec('getCurrentKey', me.status, me.body);
      // runs are admitted again once the node's queue and worker connections are back too
      const after = await waitFor(async () => {
        const r = await call(url, 'POST', '/api/v1/prompt', prompt('after'), as(KEY_A));
        return r.status === 200 ? r : undefined;
      }, 10_000);
      expectMatchesSpec('executePrompt', after.status, after.body);
    } finally {
      await c.stop();
    }
  }, 90_000);
});
