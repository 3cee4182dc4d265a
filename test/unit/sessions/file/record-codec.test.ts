import { isSessionId, parseRecord, serializeRecord } from '../../../../src/sessions/file/record-codec';
import type { SessionRecord } from '../../../../src/sessions/types';

const ID = '0123456789abcdef0123456789abcdef';
const base = {
  id: ID,
  backend: 'claude',
  created_at: '2026-01-01T00:00:00.000Z',
  last_used: '2026-01-01T00:00:01.000Z',
  working_dir: '/w',
  status: 'completed',
  turn_count: 2,
  token_usage: { input_tokens: 1, output_tokens: 2 },
  tags: ['api'],
};

describe('parseRecord', () => {
  test.each([
    ['not JSON', '{"id":', /^invalid JSON: /],
    ['an array', '[]', 'not a JSON object'],
    ['null', 'null', 'not a JSON object'],
    [
      'another id',
      JSON.stringify({ ...base, id: 'ffffffffffffffffffffffffffffffff' }),
      'id does not match the file name',
    ],
    ['an unknown backend', JSON.stringify({ ...base, backend: 'cursor' }), 'invalid backend'],
    ['an unknown status', JSON.stringify({ ...base, status: 'running' }), 'invalid status'],
    ['a bad created_at', JSON.stringify({ ...base, created_at: 'yesterday' }), 'invalid created_at'],
    ['a missing last_used', JSON.stringify({ ...base, last_used: undefined }), 'invalid last_used'],
  ])('rejects %s with the reason', (_name, text, reason) => {
    const r = parseRecord(text, ID);
    expect(typeof r).toBe('string');
    if (typeof reason === 'string') expect(r).toBe(reason);
    else expect(r).toMatch(reason);
  });

  test('legacy records get defaults; wrong-typed optional fields are dropped; unknown fields kept', () => {
    const r = parseRecord(
      JSON.stringify({
        id: ID,
        backend: 'gemini',
        created_at: '2025-01-01T12:00:00.123456789+01:00',
        last_used: '2025-01-01T12:00:00+01:00',
        status: 'error',
        turn_count: -3,
        token_usage: { input_tokens: 2.7, output_tokens: -1, cached_tokens: null, reasoning_tokens: 'x' },
        tags: ['a', 1, 'b'],
        model: 42,
        error_message: 'boom',
        metadata: { a: 'b', n: 1 },
        backend_cumulative_usage: 'nope',
        extra_field: { kept: true },
      }),
      ID,
    ) as SessionRecord & { extra_field?: unknown };
    expect(r).toEqual({
      id: ID,
      backend: 'gemini',
      created_at: '2025-01-01T12:00:00.123456789+01:00',
      last_used: '2025-01-01T12:00:00+01:00',
      working_dir: '',
      status: 'error',
      turn_count: 0,
      token_usage: { input_tokens: 2, output_tokens: 0, reasoning_tokens: 0 },
      tags: ['a', 'b'],
      error_message: 'boom',
      metadata: { a: 'b' },
      extra_field: { kept: true },
    });
  });

  test('a 16-hex legacy id is accepted when it matches the file name', () => {
    const legacy = '0123456789abcdef';
    expect(parseRecord(JSON.stringify({ ...base, id: legacy }), legacy)).toMatchObject({ id: legacy });
  });
});

test('claimed_by: kept when it names a process, dropped otherwise; written last', () => {
  const holder = { host: 'h', pid: 42, start_time: '7' };
  const rec = parseRecord(
    JSON.stringify({ ...base, status: 'active', claimed_by: holder, zz: 1 }),
    ID,
  ) as SessionRecord;
  expect(rec.claimed_by).toEqual(holder);
  expect(Object.keys(JSON.parse(serializeRecord(rec))).slice(-2)).toEqual(['claimed_by', 'zz']);
  const bad = parseRecord(JSON.stringify({ ...base, claimed_by: { host: 'h' } }), ID) as SessionRecord;
  expect(bad).not.toHaveProperty('claimed_by');
});

describe('serializeRecord', () => {
  test('pretty-printed, documented key order, unknown keys last, undefined omitted, newline at the end', () => {
    const rec = {
      extra: 1,
      metadata: { k: 'v' },
      tags: ['api'],
      status: 'completed',
      id: ID,
      backend: 'codex',
      model: undefined,
      created_at: 'c',
      last_used: 'l',
      working_dir: '/w',
      turn_count: 1,
      token_usage: { input_tokens: 0, output_tokens: 0 },
      backend_cumulative_usage: { input_tokens: 3, output_tokens: 4 },
      error_message: 'e',
    } as unknown as SessionRecord;
    const text = serializeRecord(rec);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "id": ');
    expect(Object.keys(JSON.parse(text))).toEqual([
      'id',
      'backend',
      'created_at',
      'last_used',
      'working_dir',
      'status',
      'turn_count',
      'token_usage',
      'tags',
      'error_message',
      'metadata',
      'backend_cumulative_usage',
      'extra',
    ]);
  });

  test('round trip: parse(serialize(r)) equals r', () => {
    const rec = { ...base, model: 'haiku', metadata: { a: 'b' } } as SessionRecord;
    expect(parseRecord(serializeRecord(rec), ID)).toEqual(rec);
  });
});

test('isSessionId: 32 or 16 lowercase hex only', () => {
  expect(isSessionId(ID)).toBe(true);
  expect(isSessionId(ID.slice(0, 16))).toBe(true);
  for (const bad of [ID.toUpperCase(), ID.slice(0, 20), '../x', '', 7, undefined, `${ID.slice(0, 31)}g`]) {
    expect(isSessionId(bad)).toBe(false);
  }
});
