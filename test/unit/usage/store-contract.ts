/**
 * The UsageStore contract as a reusable suite: every implementation (the file store, the
 * PostgreSQL store) runs it through `describeUsageStoreContract(name, makeBacking)`. Only the
 * interface is used; implementation details (files, tables) are tested next to each store.
 */
import { dayStart, type UsageRecord, type UsageStore } from '../../../src/usage/types';

/** A fresh, empty backing (a directory, a schema) that store objects can open one after another. */
export interface UsageBacking {
  open(): Promise<UsageStore>;
  dispose(): Promise<void>;
}

export function rec(over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    time: '2026-11-20T10:00:00.000Z',
    key: 'team-a',
    api_style: 'native',
    operation: 'prompt',
    backend: 'claude',
    model: 'sonnet',
    working_dir: '/srv/w',
    approval_mode: 'default',
    sandbox_mode: 'default',
    status: 'succeeded',
    duration_ms: 100,
    input_tokens: 10,
    output_tokens: 5,
    cached_tokens: 1,
    estimated: false,
    request_id: 'r1',
    ...over,
  };
}

export const batch = [
  rec(),
  rec({ key: 'team-b', backend: 'codex', model: undefined, input_tokens: 7, output_tokens: 3, cached_tokens: 0 }),
  rec({ time: '2026-11-21T23:59:59.999Z', status: 'failed', duration_ms: 50 }),
  rec({ time: '2026-11-21T00:00:00.000Z', key: 'team-b', status: 'timeout', output_tokens: 0 }),
];

export function describeUsageStoreContract(name: string, makeBacking: () => Promise<UsageBacking>): void {
  describe(`UsageStore contract: ${name}`, () => {
    let backing: UsageBacking;
    let store: UsageStore;

    beforeEach(async () => {
      backing = await makeBacking();
      store = await backing.open();
    });

    afterEach(async () => {
      await store.close().catch(() => undefined);
      await backing.dispose();
    });

    const reopen = async (): Promise<UsageStore> => {
      await store.close();
      store = await backing.open();
      return store;
    };

    it('groups by day, key and backend with totals', async () => {
      await store.append(batch);
      const res = await store.query({
        from: dayStart('2026-11-20'),
        to: dayStart('2026-11-22'),
        groupBy: ['day', 'key', 'backend'],
      });
      expect(res.rows).toEqual([
        {
          day: '2026-11-20',
          key: 'team-a',
          backend: 'claude',
          requests: 1,
          failed: 0,
          input_tokens: 10,
          output_tokens: 5,
          cached_tokens: 1,
          duration_ms: 100,
        },
        {
          day: '2026-11-20',
          key: 'team-b',
          backend: 'codex',
          requests: 1,
          failed: 0,
          input_tokens: 7,
          output_tokens: 3,
          cached_tokens: 0,
          duration_ms: 100,
        },
        {
          day: '2026-11-21',
          key: 'team-a',
          backend: 'claude',
          requests: 1,
          failed: 1,
          input_tokens: 10,
          output_tokens: 5,
          cached_tokens: 1,
          duration_ms: 50,
        },
        {
          day: '2026-11-21',
          key: 'team-b',
          backend: 'claude',
          requests: 1,
          failed: 1,
          input_tokens: 10,
          output_tokens: 0,
          cached_tokens: 1,
          duration_ms: 100,
        },
      ]);
      expect(res.totals).toEqual({
        requests: 4,
        failed: 2,
        input_tokens: 37,
        output_tokens: 13,
        cached_tokens: 3,
        duration_ms: 350,
      });
    });

    it('sorts by the group fields in order, a missing model (null) first, and filters by key', async () => {
      await store.append(batch);
      const all = { from: dayStart('2026-11-01'), to: dayStart('2026-12-01') };
      const byModel = await store.query({ ...all, groupBy: ['model', 'status'] });
      expect(byModel.rows.map((r) => [r.model, r.status, r.requests])).toEqual([
        [null, 'succeeded', 1],
        ['sonnet', 'failed', 1],
        ['sonnet', 'succeeded', 1],
        ['sonnet', 'timeout', 1],
      ]);
      const onlyB = await store.query({ ...all, groupBy: ['key'], key: 'team-b' });
      expect(onlyB.rows.map((r) => [r.key, r.requests])).toEqual([['team-b', 2]]);
      expect(onlyB.totals.requests).toBe(2);
      const none = await store.query({ ...all, groupBy: ['day'], key: 'nobody' });
      expect(none).toEqual({
        rows: [],
        totals: { requests: 0, failed: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, duration_ms: 0 },
      });
    });

    it('ranges inside a day read the records: from inclusive, to exclusive', async () => {
      await store.append(batch);
      const res = await store.query({
        from: Date.parse('2026-11-21T00:00:00.000Z'),
        to: Date.parse('2026-11-21T23:59:59.999Z'),
        groupBy: ['status'],
      });
      expect(res.rows.map((r) => [r.status, r.requests])).toEqual([['timeout', 1]]);
      const across = await store.query({
        from: Date.parse('2026-11-20T10:00:00.001Z'),
        to: Date.parse('2026-11-22T00:00:00.000Z'),
        groupBy: ['day'],
      });
      expect(across.rows.map((r) => [r.day, r.requests])).toEqual([['2026-11-21', 2]]);
      // most of a day (the file store: its rollup minus the records outside) and a small part of it
      const most = await store.query({
        from: Date.parse('2026-11-20T09:00:00.000Z'),
        to: Date.parse('2026-11-21T23:00:00.000Z'),
        groupBy: ['day', 'key', 'status'],
        key: 'team-b',
      });
      expect(most.rows.map((r) => [r.day, r.key, r.status, r.requests, r.input_tokens])).toEqual([
        ['2026-11-20', 'team-b', 'succeeded', 1, 7],
        ['2026-11-21', 'team-b', 'timeout', 1, 10],
      ]);
      const little = await store.query({
        from: Date.parse('2026-11-21T23:00:00.000Z'),
        to: Date.parse('2026-11-22T00:00:00.000Z'),
        groupBy: ['status'],
      });
      expect(little.rows.map((r) => [r.status, r.requests, r.duration_ms])).toEqual([['failed', 1, 50]]);
    });

    it('daily usage per key: requests and input+output tokens of that day', async () => {
      await store.append(batch);
      expect(await store.dailyUsage('2026-11-21')).toEqual(
        new Map([
          ['team-a', { requests: 1, tokens: 15 }],
          ['team-b', { requests: 1, tokens: 10 }],
        ]),
      );
      expect(await store.dailyUsage('2026-11-19')).toEqual(new Map());
    });

    it('prune deletes the days before the given one', async () => {
      await store.append(batch);
      await store.prune('2026-11-21');
      const res = await store.query({ from: dayStart('2026-11-01'), to: dayStart('2026-12-01'), groupBy: ['day'] });
      expect(res.rows.map((r) => r.day)).toEqual(['2026-11-21']);
      await reopen();
      expect((await store.dailyUsage('2026-11-20')).size).toBe(0);
    });

    it('records survive a reopen; a closed store refuses calls', async () => {
      await store.append(batch);
      const q = { from: dayStart('2026-11-20'), to: dayStart('2026-11-22'), groupBy: ['key' as const] };
      const before = await store.query(q);
      await reopen();
      expect(await store.query(q)).toEqual(before);
      await store.close();
      await expect(store.append([rec()])).rejects.toThrow('closed');
    });
  });
}
