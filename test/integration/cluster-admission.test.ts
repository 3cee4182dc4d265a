/**
 * The cluster-wide admission ledger on a real Redis, driven directly (two connections = two nodes):
 * order of waiters across nodes, synchronous before job waiters, queue bound, expiry of a dead node's
 * places, clean-up on abort and deadline.
 */
import { randomBytes } from 'node:crypto';
import { ADMISSION_SCRIPTS, ClusterAdmission } from '../../src/cluster/admission';
import { RedisConnection } from '../../src/cluster/redis';
import { ApiError } from '../../src/errors';
import type { AdmissionRequest } from '../../src/execution/limiter';

const REDIS_URL = process.env.CLINVK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('ClusterAdmission (real Redis)', () => {
  let prefix: string;
  const open: { redis: RedisConnection; gate: ClusterAdmission }[] = [];
  const node = async (max: number, maxQueued: number, leaseMs = 5000) => {
    const redis = new RedisConnection(REDIS_URL, prefix, ADMISSION_SCRIPTS);
    await redis.ready();
    const gate = new ClusterAdmission(redis, { maxConcurrent: max, maxQueued, leaseMs, pollMs: 50 });
    open.push({ redis, gate });
    return gate;
  };
  const req = (over: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
    lane: 'sync',
    admitted: false,
    signal: new AbortController().signal,
    deadline: Date.now() + 20_000,
    ...over,
  });

  beforeEach(() => {
    prefix = `clinvk-test-${randomBytes(6).toString('hex')}`;
  });
  afterEach(async () => {
    for (const { redis, gate } of open.splice(0)) {
      gate.close();
      const keys = await redis.client.keys(`${prefix}:*`);
      if (keys.length) await redis.client.del(...keys);
      await redis.close();
    }
  });

  test('places are shared: waiters of both nodes are admitted in arrival order as places are given back', async () => {
    const a = await node(1, 10);
    const b = await node(1, 10);
    const release0 = await a.admit(req());
    const order: string[] = [];
    const w1 = b.admit(req()).then((r) => (order.push('b1'), r));
    await new Promise((r) => setTimeout(r, 30));
    const w2 = a.admit(req()).then((r) => (order.push('a2'), r));
    await new Promise((r) => setTimeout(r, 30));
    expect(await a.counts()).toEqual({ running: 1, waiting: 2 });
    release0();
    (await w1)();
    (await w2)();
    expect(order).toEqual(['b1', 'a2']);
    await new Promise((r) => setTimeout(r, 50));
    expect(await a.counts()).toEqual({ running: 0, waiting: 0 });
  });

  test('a synchronous waiter goes before job waiters that came earlier', async () => {
    const a = await node(1, 10);
    const b = await node(1, 10);
    const release0 = await a.admit(req());
    const order: string[] = [];
    const job = b.admit(req({ lane: 'job' })).then((r) => (order.push('job'), r));
    await new Promise((r) => setTimeout(r, 30));
    const sync = a.admit(req()).then((r) => (order.push('sync'), r));
    await new Promise((r) => setTimeout(r, 30));
    release0();
    (await sync)();
    (await job)();
    expect(order).toEqual(['sync', 'job']);
  });

  test('the queue bound counts synchronous waiters of every node; jobs and admitted aggregates pass it', async () => {
    const a = await node(1, 1);
    const b = await node(1, 1);
    const release0 = await a.admit(req());
    const waiting = b.admit(req());
    await new Promise((r) => setTimeout(r, 30));
    const rejects: string[] = [];
    await expect(a.admit(req({ onReject: (why) => rejects.push(why) }))).rejects.toMatchObject({
      code: 'queue_full',
    });
    expect(rejects).toEqual(['queue_full']);
    const job = a.admit(req({ lane: 'job' }));
    const item = b.admit(req({ admitted: true }));
    await new Promise((r) => setTimeout(r, 30));
    expect(await a.counts()).toEqual({ running: 1, waiting: 3 });
    release0();
    (await waiting)();
    (await item)();
    (await job)();
  });

  test("a dead node's place frees itself after one lease", async () => {
    const dead = await node(1, 5, 400);
    await dead.admit(req());
    dead.close(); // stops renewing, like a killed process
    const alive = await node(1, 5, 400);
    const t0 = Date.now();
    const release = await alive.admit(req());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(Date.now() - t0).toBeLessThan(5000);
    release();
  });

  test('a waiter that gives up (abort, deadline) leaves the queue', async () => {
    const a = await node(1, 5);
    const release0 = await a.admit(req());
    const ac = new AbortController();
    const aborted = a.admit(req({ signal: ac.signal }));
    const timedOut = a.admit(req({ deadline: Date.now() + 100 }));
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    await expect(aborted).rejects.toBeInstanceOf(ApiError);
    await expect(timedOut).rejects.toMatchObject({ code: 'backend_timeout' });
    await new Promise((r) => setTimeout(r, 50));
    expect(await a.counts()).toEqual({ running: 1, waiting: 0 });
    release0();
  });
});
