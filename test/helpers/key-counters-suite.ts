/** The per-key counters' rules, run against every implementation (in memory, Redis). */
import type { ApiError } from '../../src/errors';
import type { KeyCounters, KeyRef } from '../../src/usage/limits';

const key = (limits: Partial<KeyRef['limits']>, name = 'team-a'): KeyRef => ({
  name,
  limits: { requests_per_day: null, tokens_per_day: null, max_concurrent: null, ...limits },
});

const SYNC = { quotaItems: 1, checkConcurrency: true, countQueued: true };

async function rejection(fn: () => Promise<unknown>): Promise<ApiError> {
  try {
    await fn();
  } catch (err) {
    return err as ApiError;
  }
  throw new Error('expected a rejection');
}

export function keyCountersSuite(make: (clock: () => number) => KeyCounters | Promise<KeyCounters>): void {
  let now = Date.parse('2026-11-27T23:59:00.000Z');
  const clock = (): number => now;
  beforeEach(() => {
    now = Date.parse('2026-11-27T23:59:00.000Z');
  });

  it('requests_per_day: admission reserves, a start counts, a run that never started gives its reservation back', async () => {
    const l = await make(clock);
    const k = key({ requests_per_day: 2 });
    const a = await l.admit(k, SYNC);
    const b = await l.admit(k, SYNC);
    // two reserved: a third is refused even though nothing started yet
    const err = await rejection(() => l.admit(k, SYNC));
    expect(err.code).toBe('quota_exceeded');
    expect(err.status).toBe(429);
    expect(err.headers).toEqual({ 'Retry-After': '60' });
    expect(err.message).toBe('daily request quota of key team-a used up (2 per day)');
    a.started();
    a.release();
    b.release(); // never started
    expect(await l.today('team-a')).toEqual({ requests: 1, tokens: 0, running: 0 });
    (await l.admit(k, SYNC)).started();
    expect((await rejection(() => l.admit(k, SYNC))).code).toBe('quota_exceeded');
  });

  it('resets at UTC midnight; Retry-After counts the seconds to it', async () => {
    const l = await make(clock);
    const k = key({ requests_per_day: 1, tokens_per_day: 100 });
    const first = await l.admit(k, SYNC);
    first.started();
    first.release();
    now = Date.parse('2026-11-27T23:59:59.200Z');
    expect((await rejection(() => l.admit(k, SYNC))).headers).toEqual({ 'Retry-After': '1' });
    now = Date.parse('2026-11-28T00:00:00.000Z');
    const t = await l.admit(k, SYNC);
    t.started();
    expect(await l.today('team-a')).toEqual({ requests: 1, tokens: 0, running: 1 });
    t.release();
  });

  it('tokens_per_day: tokens count when a run finishes, one run may overshoot, the next is refused', async () => {
    const l = await make(clock);
    const k = key({ tokens_per_day: 100 });
    const t = await l.admit(k, SYNC);
    t.started();
    l.addTokens('team-a', 99);
    t.release();
    const t2 = await l.admit(k, SYNC); // 99 < 100: still admitted
    t2.started();
    l.addTokens('team-a', 500);
    t2.release();
    const err = await rejection(() => l.admit(k, SYNC));
    expect(err.code).toBe('quota_exceeded');
    expect(err.message).toBe('daily token quota of key team-a used up (100 per day)');
  });

  it('an aggregate needs one request per item', async () => {
    const l = await make(clock);
    const k = key({ requests_per_day: 3 });
    (await l.admit(k, SYNC)).started();
    const err = await rejection(() => l.admit(k, { ...SYNC, quotaItems: 3 }));
    expect(err.message).toBe('daily request quota of key team-a does not cover 3 executions (2 left today)');
    await l.admit(k, { ...SYNC, quotaItems: 2 });
    // later executions of an admitted request are not checked
    await l.admit(k, { quotaItems: 0, checkConcurrency: false, countQueued: true });
  });

  it('max_concurrent counts running and queued synchronous executions; jobs count once granted', async () => {
    const l = await make(clock);
    const k = key({ max_concurrent: 2 });
    const a = await l.admit(k, SYNC);
    const job = await l.admit(k, { quotaItems: 1, checkConcurrency: false, countQueued: false });
    expect(await l.room(k)).toBe(1);
    job.granted();
    expect(await l.room(k)).toBe(0);
    const err = await rejection(() => l.admit(k, SYNC));
    expect(err.code).toBe('key_concurrency_limit');
    expect(err.headers).toEqual({ 'Retry-After': '1' });
    expect(err.message).toBe('key team-a already has 2 executions running or queued (max_concurrent 2)');
    a.release();
    a.release(); // idempotent
    expect(await l.room(k)).toBe(1);
    job.release();
    expect((await l.today('team-a')).running).toBe(0);
    // other keys are independent
    expect(await l.room(key({ max_concurrent: 1 }, 'team-b'))).toBe(1);
    expect(await l.room(key({}))).toBe(Infinity);
  });

  it('rebuilds today from the records; another day is ignored', async () => {
    const l = await make(clock);
    await l.rebuild('2026-11-26', new Map([['team-a', { requests: 9, tokens: 9 }]]));
    expect(await l.today('team-a')).toEqual({ requests: 0, tokens: 0, running: 0 });
    await l.rebuild('2026-11-27', new Map([['team-a', { requests: 5, tokens: 70 }]]));
    expect(await l.today('team-a')).toEqual({ requests: 5, tokens: 70, running: 0 });
    expect((await rejection(() => l.admit(key({ requests_per_day: 5 }), SYNC))).code).toBe('quota_exceeded');
  });

  it('no key (internal callers) and unlimited keys pass', async () => {
    const l = await make(clock);
    for (let i = 0; i < 100; i++) (await l.admit(key({}), SYNC)).started();
    expect((await l.today('team-a')).requests).toBe(100);
    (await l.admit(undefined, SYNC)).started();
  });
}
