import type { JournalOp, PutOp } from '../../../../src/sessions/file/journal';
import { SortedIndex } from '../../../../src/sessions/file/sorted-index';

const id = (c: string): string => c.repeat(32);
const put = (c: string, lastUsed: string, over: Partial<{ backend: string; status: string }> = {}): PutOp => [
  'p',
  id(c),
  over.backend ?? 'claude',
  over.status ?? 'completed',
  lastUsed,
  1000,
  10,
];
const order = (index: SortedIndex): string[] => index.ordered().map((e) => e.id[0]);

describe('SortedIndex', () => {
  test('keeps readable entries in list order: last_used descending, then id ascending', () => {
    const index = new SortedIndex();
    index.apply(put('b', '2026-01-01T00:00:01Z'), false);
    index.apply(put('a', '2026-01-01T00:00:01Z'), false);
    index.apply(put('c', '2026-01-01T00:00:03Z'), false);
    // A legacy timestamp with an offset sorts by instant: 00:30+01:00 = 23:30Z the day before.
    index.apply(put('d', '2026-01-01T00:30:00+01:00'), false);
    expect(order(index)).toEqual(['c', 'a', 'b', 'd']);
    expect(index.readable).toBe(4);
  });

  test('an update moves the entry; a delete removes it; unknown deletes are harmless', () => {
    const index = new SortedIndex();
    index.apply(put('a', '2026-01-01T00:00:01Z'), false);
    index.apply(put('b', '2026-01-01T00:00:02Z'), false);
    index.apply(put('a', '2026-01-01T00:00:05Z', { status: 'active' }), false);
    expect(order(index)).toEqual(['a', 'b']);
    expect(index.get(id('a'))).toMatchObject({ status: 'active', lastUsed: '2026-01-01T00:00:05Z' });
    index.apply(['d', id('a')], false);
    index.apply(['d', id('e')], false);
    expect(order(index)).toEqual(['b']);
    expect(index.has(id('a'))).toBe(false);
    expect([index.size, index.readable]).toEqual([1, 1]);
  });

  test('unreadable entries are kept (resolvable) but neither listed nor counted', () => {
    const index = new SortedIndex();
    index.apply(put('a', '2026-01-01T00:00:01Z'), false);
    index.apply(['x', id('a'), 5, 6], false);
    index.apply(put('b', '2026-01-01T00:00:01Z'), false);
    expect(order(index)).toEqual(['b']);
    expect([index.size, index.readable]).toEqual([2, 1]);
    expect(index.get(id('a'))).toMatchObject({ unreadable: true, mtimeMs: 5, size: 6 });
    // Readable again.
    index.apply(put('a', '2026-01-01T00:00:09Z'), false);
    expect(order(index)).toEqual(['a', 'b']);
    expect(index.readable).toBe(2);
  });

  test('bulk application (sorted once at the next read) gives the same order as one-by-one insertion', () => {
    const ops: JournalOp[] = [];
    const letters = 'abcdef0123456789';
    for (let i = 0; i < 200; i++) {
      const c = letters[(i * 7) % 16];
      if (i % 9 === 0) ops.push(['d', id(c)]);
      else if (i % 13 === 0) ops.push(['x', id(c), i, i]);
      else
        ops.push(
          put(c, new Date(Date.UTC(2026, 0, 1, 0, 0, i % 5)).toISOString(), { status: i % 2 ? 'error' : 'active' }),
        );
    }
    const incremental = new SortedIndex();
    const bulk = new SortedIndex();
    for (const op of ops) {
      incremental.apply(op, false);
      bulk.apply(op, true);
    }
    expect(bulk.ordered()).toEqual(incremental.ordered());
    expect(bulk.readable).toBe(incremental.readable);
    expect(bulk.toOps()).toEqual(incremental.toOps());
  });

  test('matches: whether an entry already says what an operation says', () => {
    const index = new SortedIndex();
    const op = put('a', '2026-01-01T00:00:01Z');
    expect(index.matches(op)).toBe(false);
    index.apply(op, false);
    expect(index.matches(op)).toBe(true);
    expect(index.matches(['p', id('a'), 'claude', 'completed', '2026-01-01T00:00:01Z', 1000, 11])).toBe(false);
    expect(index.matches(['x', id('a'), 1000, 10])).toBe(false);
    index.apply(['x', id('a'), 1000, 10], false);
    expect(index.matches(['x', id('a'), 1000, 10])).toBe(true);
    expect(index.matches(['d', id('a')])).toBe(false);
  });

  test('toOps: readable entries in list order, then unreadable ones; replaying them rebuilds the index', () => {
    const index = new SortedIndex();
    index.apply(['x', id('e'), 1, 2], false);
    index.apply(put('a', '2026-01-01T00:00:01Z'), false);
    index.apply(put('b', '2026-01-01T00:00:02Z', { backend: 'codex' }), false);
    const ops = index.toOps();
    expect(ops.map((op) => [op[0], op[1][0]])).toEqual([
      ['p', 'b'],
      ['p', 'a'],
      ['x', 'e'],
    ]);
    const copy = new SortedIndex();
    for (const op of ops) copy.apply(op, true);
    expect(copy.ordered()).toEqual(index.ordered());
    expect(copy.get(id('e'))).toEqual(index.get(id('e')));
  });

  test('findByPrefix counts every id starting with the prefix, unreadable ones included', () => {
    const index = new SortedIndex();
    index.apply(put('a', '2026-01-01T00:00:01Z'), false);
    index.apply(['p', `ab${'0'.repeat(30)}`, 'claude', 'active', '2026-01-01T00:00:01Z', 1, 1], false);
    index.apply(['x', id('c'), 1, 1], false);
    expect(index.findByPrefix('ab')).toEqual({ count: 1, id: `ab${'0'.repeat(30)}` });
    expect(index.findByPrefix('a').count).toBe(2);
    expect(index.findByPrefix('c')).toEqual({ count: 1, id: id('c') });
    expect(index.findByPrefix('f').count).toBe(0);
  });

  test('page: filter, list order, total of all matches before paging', () => {
    const index = new SortedIndex();
    const letters = 'abcdef';
    for (const [i, c] of [...letters].entries()) {
      index.apply(
        put(c, `2026-01-01T00:00:0${i}Z`, {
          backend: i % 2 ? 'codex' : 'claude',
          status: i < 3 ? 'error' : 'completed',
        }),
        false,
      );
    }
    index.apply(['x', id('9'), 1, 1], false);
    const ids = (r: { page: { id: string }[] }) => r.page.map((e) => e.id[0]);
    expect(ids(index.page({ offset: 0, limit: 100 }))).toEqual(['f', 'e', 'd', 'c', 'b', 'a']);
    expect(index.page({ offset: 1, limit: 2 })).toMatchObject({ total: 6 });
    expect(ids(index.page({ offset: 1, limit: 2 }))).toEqual(['e', 'd']);
    expect(ids(index.page({ backend: 'codex', offset: 0, limit: 100 }))).toEqual(['f', 'd', 'b']);
    const errors = index.page({ backend: 'claude', status: 'error', offset: 1, limit: 1 });
    expect([ids(errors), errors.total]).toEqual([['a'], 2]);
    expect(index.page({ offset: 10, limit: 5 })).toEqual({ page: [], total: 6 });
  });
});
