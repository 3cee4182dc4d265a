/** The execution limiter: synchronous waiters before the job lane, exclusive working directories, the executions list. */
import { ExecutionLimiter, type AcquireOptions, type Slot } from '../../../src/execution/limiter';

const FAR = () => Date.now() + 60_000;

function opts(extra: Partial<AcquireOptions> = {}): AcquireOptions {
  return { signal: new AbortController().signal, deadline: FAR(), ...extra };
}

/** Records the order in which pending acquisitions are granted. */
function track(order: string[], name: string, p: Promise<Slot>): Promise<Slot> {
  return p.then((s) => {
    order.push(name);
    return s;
  });
}

const tick = () => new Promise((r) => setImmediate(r));

describe('ExecutionLimiter', () => {
  test('a waiting synchronous request goes before every job waiter', async () => {
    const l = new ExecutionLimiter(1, 10);
    const first = await l.acquire(opts());
    const order: string[] = [];
    const job = track(order, 'job', l.acquire(opts({ lane: 'job' })));
    const sync = track(order, 'sync', l.acquire(opts()));
    expect(l.queued).toBe(2);
    expect(l.freeJobSlots()).toBe(0);
    first.release();
    const s = await sync;
    await tick();
    expect(order).toEqual(['sync']);
    s.release();
    (await job).release();
    expect(order).toEqual(['sync', 'job']);
    expect(l.running).toBe(0);
  });

  test('the job lane has no queue-size limit; the synchronous queue has', async () => {
    const l = new ExecutionLimiter(1, 1);
    const held = await l.acquire(opts());
    const jobs = [0, 1, 2].map(() => l.acquire(opts({ lane: 'job' })));
    const waiting = l.acquire(opts());
    await expect(l.acquire(opts())).rejects.toMatchObject({ code: 'queue_full' });
    held.release();
    (await waiting).release();
    for (const j of jobs) (await j).release();
    expect(l.running).toBe(0);
  });

  test('free job slots and the idle notification', async () => {
    const l = new ExecutionLimiter(2, 5);
    let notified = 0;
    l.onSlotFree(() => notified++);
    expect(l.freeJobSlots()).toBe(2);
    const a = await l.acquire(opts());
    expect(l.freeJobSlots()).toBe(1);
    const b = await l.acquire(opts({ lane: 'job' }));
    expect(l.freeJobSlots()).toBe(0);
    a.release();
    expect(notified).toBe(1);
    b.release();
    expect(l.freeJobSlots()).toBe(2);
  });

  test('exclusive working directories: the later run waits for the directory like for a slot', async () => {
    const l = new ExecutionLimiter(4, 10, undefined, true);
    const a = await l.acquire(opts({ workdir: '/w/one' }));
    const order: string[] = [];
    const sameDir = track(order, 'same', l.acquire(opts({ workdir: '/w/one' })));
    await track(order, 'other', l.acquire(opts({ workdir: '/w/two' })));
    await tick();
    expect(order).toEqual(['other']);
    expect(l.queued).toBe(1);
    a.release();
    await sameDir;
    expect(order).toEqual(['other', 'same']);
  });

  test('without exclusivity the same directory runs concurrently', async () => {
    const l = new ExecutionLimiter(4, 10);
    await l.acquire(opts({ workdir: '/w/one' }));
    await l.acquire(opts({ workdir: '/w/one' }));
    expect(l.running).toBe(2);
  });

  test('a directory wait honours the deadline (504)', async () => {
    const l = new ExecutionLimiter(4, 10, undefined, true);
    await l.acquire(opts({ workdir: '/w' }));
    await expect(l.acquire(opts({ workdir: '/w', deadline: Date.now() + 50 }))).rejects.toMatchObject({
      code: 'backend_timeout',
    });
  });

  test('entries: running first, then queued, with their facts; cancel reaches the owner', async () => {
    const l = new ExecutionLimiter(1, 10);
    const canceled: string[] = [];
    const meta = (kind: string) => ({
      kind,
      key: 'anonymous',
      requestId: `r-${kind}`,
      backend: 'claude',
      cancel: (reason: string) => canceled.push(`${kind}:${reason}`),
    });
    const running = await l.acquire(opts({ meta: meta('prompt') }));
    const queued = l.acquire(opts({ meta: { ...meta('job'), jobId: 'a'.repeat(32) }, lane: 'job' }));
    const entries = l.entries();
    expect(entries.map((e) => [e.kind, e.state])).toEqual([
      ['prompt', 'running'],
      ['job', 'queued'],
    ]);
    expect(entries[0].id).toMatch(/^[0-9a-f]{32}$/);
    expect(entries[0].startedAt).toBeDefined();
    expect(entries[1].queuedAt).toBeDefined();
    entries[0].cancel?.('canceled: test');
    expect(canceled).toEqual(['prompt:canceled: test']);
    running.release();
    (await queued).release();
    expect(l.entries()).toEqual([]);
  });
});
