import {
  formatHeader,
  formatOps,
  formatSnapshot,
  isJournalOp,
  parseHeader,
  parseSnapshot,
  parseTail,
  putOp,
  type JournalOp,
} from '../../../../src/sessions/file/journal';
import type { SessionRecord } from '../../../../src/sessions/types';

const A = 'a'.repeat(32);
const B = 'b'.repeat(16);

describe('isJournalOp', () => {
  test.each<[string, unknown, boolean]>([
    ['put', ['p', A, 'claude', 'active', '2026-01-01T00:00:00Z', 1.5, 10], true],
    ['put with a legacy id', ['p', B, 'gemini', 'paused', '2026-01-01T00:00:00Z', 0, 0], true],
    ['unreadable', ['x', A, 12.25, 0], true],
    ['delete', ['d', A], true],
    ['put, unknown backend', ['p', A, 'cursor', 'active', '2026-01-01T00:00:00Z', 1, 1], false],
    ['put, unknown status', ['p', A, 'claude', 'running', '2026-01-01T00:00:00Z', 1, 1], false],
    ['put, unparsable last_used', ['p', A, 'claude', 'active', 'soon', 1, 1], false],
    ['put, fractional size', ['p', A, 'claude', 'active', '2026-01-01T00:00:00Z', 1, 1.5], false],
    ['put, short', ['p', A, 'claude', 'active', '2026-01-01T00:00:00Z', 1], false],
    ['delete of a path', ['d', '../x'], false],
    ['delete with extra', ['d', A, 1], false],
    ['unknown kind', ['q', A], false],
    ['object', { op: 'd', id: A }, false],
  ])('%s', (_name, v, ok) => expect(isJournalOp(v)).toBe(ok));
});

test('putOp carries the listing fields and the file stamp', () => {
  const rec = { id: A, backend: 'codex', status: 'error', last_used: '2026-01-02T00:00:00.000Z' } as SessionRecord;
  expect(putOp(rec, 123.5, 456)).toEqual(['p', A, 'codex', 'error', '2026-01-02T00:00:00.000Z', 123.5, 456]);
});

describe('header', () => {
  test('format → parse round trip with the line length', () => {
    const line = formatHeader('j1', 'j0', 77);
    expect(line.endsWith('\n')).toBe(true);
    expect(parseHeader(Buffer.from(`${line}["d","${A}"]\n`))).toEqual({
      id: 'j1',
      prevId: 'j0',
      prevLen: 77,
      length: Buffer.byteLength(line),
    });
    expect(parseHeader(Buffer.from(formatHeader('j2', null, -1)))).toMatchObject({
      id: 'j2',
      prevId: null,
      prevLen: -1,
    });
  });

  test.each([
    ['no newline yet', '{"clinvk_index":1,"id":"j","prev_id":null,"prev_len":-1}'],
    ['garbage', 'xx\n'],
    ['another format version', '{"clinvk_index":2,"id":"j","prev_id":null,"prev_len":-1}\n'],
    ['empty id', '{"clinvk_index":1,"id":"","prev_id":null,"prev_len":-1}\n'],
    ['fractional prev_len', '{"clinvk_index":1,"id":"j","prev_id":null,"prev_len":1.5}\n'],
    ['numeric prev_id', '{"clinvk_index":1,"id":"j","prev_id":3,"prev_len":1}\n'],
  ])('malformed: %s → undefined', (_name, text) => expect(parseHeader(Buffer.from(text))).toBeUndefined());
});

describe('parseTail', () => {
  const ops: JournalOp[] = [
    ['p', A, 'claude', 'active', '2026-01-01T00:00:00.000Z', 1, 2],
    ['x', B, 3, 4],
    ['d', A],
  ];

  test('complete lines are parsed; the consumed length ends after the last newline', () => {
    const text = formatOps(ops);
    expect(parseTail(Buffer.from(text))).toEqual({ ok: true, ops, consumed: Buffer.byteLength(text), partial: false });
  });

  test('an incomplete last line is left for the next read', () => {
    const complete = formatOps(ops.slice(0, 2));
    const r = parseTail(Buffer.from(`${complete}["d","${A}`));
    expect(r).toEqual({ ok: true, ops: ops.slice(0, 2), consumed: Buffer.byteLength(complete), partial: true });
    expect(parseTail(Buffer.from('["d"'))).toEqual({ ok: true, ops: [], consumed: 0, partial: true });
    expect(parseTail(Buffer.alloc(0))).toEqual({ ok: true, ops: [], consumed: 0, partial: false });
  });

  test('a garbled or invalid line makes the whole read fail', () => {
    expect(parseTail(Buffer.from(`${formatOps(ops)}not json\n`))).toEqual({ ok: false });
    expect(parseTail(Buffer.from('["d","../x"]\n'))).toEqual({ ok: false });
  });
});

describe('snapshot', () => {
  test('format → parse round trip; one entry per line', () => {
    const ops: JournalOp[] = [
      ['p', A, 'claude', 'active', '2026-01-01T00:00:00.000Z', 1, 2],
      ['x', B, 3, 4],
    ];
    const text = formatSnapshot(ops, 'j2', 'j1');
    expect(text.split('\n')).toHaveLength(5);
    expect(parseSnapshot(text)).toEqual({ journal: 'j2', prevJournal: 'j1', entries: ops });
    expect(parseSnapshot(formatSnapshot([], 'j3', null))).toEqual({ journal: 'j3', prevJournal: null, entries: [] });
  });

  test('other shapes → undefined; invalid JSON throws', () => {
    for (const text of [
      '[1,2,3]',
      'null',
      '5',
      '{"clinvk_index":2,"journal":"j","entries":[]}',
      '{"clinvk_index":1}',
    ]) {
      expect(parseSnapshot(text)).toBeUndefined();
    }
    expect(() => parseSnapshot('{"clinvk_index":1,"gen":')).toThrow();
  });
});
