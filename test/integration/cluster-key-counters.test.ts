/**
 * The per-key counters of a cluster on a real Redis: the same rules as the in-memory counters (the
 * shared suite), plus what only a shared store can show: two nodes take one quota and one
 * concurrency limit together, and a dead node's units free themselves.
 */
import { randomBytes } from 'node:crypto';
import { KEY_COUNTER_SCRIPTS, RedisKeyCounters } from '../../src/cluster/key-counters';
import { RedisConnection } from '../../src/cluster/redis';
import type { KeyRef } from '../../src/usage/limits';
import { keyCountersSuite } from '../helpers/key-counters-suite';

const REDIS_URL = process.env.CLINVK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SYNC = { quotaItems: 1, checkConcurrency: true, countQueued: true };

const opened: { redis: RedisConnection; counters: RedisKeyCounters }[] = [];
let prefix = '';

async function node(clock: () => number = Date.now, leaseMs = 5000): Promise<RedisKeyCounters> {
  const redis = new RedisConnection(REDIS_URL, prefix, KEY_COUNTER_SCRIPTS);
  await redis.ready();
  const counters = new RedisKeyCounters(redis, leaseMs, clock);
  opened.push({ redis, counters });
  return counters;
}

beforeEach(() => {
  prefix = `clinvk-test-${randomBytes(6).toString('hex')}`;
});
afterEach(async () => {
  for (const { redis, counters } of opened.splice(0)) {
    counters.close();
    const keys = await redis.client.keys(`${prefix}:*`);
    if (keys.length) await redis.client.del(...keys);
    await redis.close();
  }
});

describe('RedisKeyCounters (real Redis)', () => {
  keyCountersSuite((clock) => node(clock));

  const key = (limits: Partial<KeyRef['limits']>): KeyRef => ({
    name: 'team-a',
    limits: { requests_per_day: null, tokens_per_day: null, max_concurrent: null, ...limits },
  });

  test('two nodes share one daily quota and one concurrency limit', async () => {
    const a = await node();
    const b = await node();
    const k = key({ requests_per_day: 3, max_concurrent: 2 });
    const t1 = await a.admit(k, SYNC);
    const t2 = await b.admit(k, SYNC);
    await expect(a.admit(k, SYNC)).rejects.toMatchObject({ code: 'key_concurrency_limit' });
    t1.started();
    t1.release();
    t2.started();
    t2.release();
    const t3 = await b.admit(k, SYNC);
    t3.started();
    await expect(a.admit(k, SYNC)).rejects.toMatchObject({ code: 'quota_exceeded' });
    expect(await a.today('team-a')).toEqual({ requests: 3, tokens: 0, running: 1 });
    t3.release();
    // tokens counted on one node stop the other
    const t = key({ tokens_per_day: 10 });
    a.addTokens('team-a', 10);
    await a.today('team-a'); // node a's write is done (one connection keeps its order)
    await expect(b.admit(t, SYNC)).rejects.toMatchObject({ code: 'quota_exceeded' });
  });

  test('simultaneous admissions from two nodes never exceed the limit', async () => {
    const a = await node();
    const b = await node();
    const k = key({ max_concurrent: 5 });
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).admit(k, SYNC)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
  });

  test("a dead node's running units free themselves after one lease; counters are rebuilt only when missing", async () => {
    const dead = await node(Date.now, 300);
    await dead.admit(key({ max_concurrent: 1 }), SYNC);
    dead.close(); // no more renewals
    const alive = await node(Date.now, 300);
    await expect(alive.admit(key({ max_concurrent: 1 }), SYNC)).rejects.toMatchObject({
      code: 'key_concurrency_limit',
    });
    await new Promise((r) => setTimeout(r, 700));
    (await alive.admit(key({ max_concurrent: 1 }), SYNC)).release();

    const day = new Date().toISOString().slice(0, 10);
    await alive.rebuild(day, new Map([['team-b', { requests: 4, tokens: 40 }]]));
    await alive.rebuild(day, new Map([['team-b', { requests: 9, tokens: 90 }]])); // a second node starting
    expect(await alive.today('team-b')).toEqual({ requests: 4, tokens: 40, running: 0 });
  });
});
