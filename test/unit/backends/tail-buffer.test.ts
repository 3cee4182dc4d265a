/** TailBuffer: keeps the last N bytes (a CLI's stderr tail). */
import { TailBuffer } from '../../../src/backends/tail-buffer';

const hex = (t: TailBuffer) => t.toBuffer().toString('latin1');

test('below the cap everything is kept, in order, across chunks', () => {
  const t = new TailBuffer(10);
  t.push(Buffer.from('abc'));
  t.push(Buffer.from('def'));
  expect(t.size).toBe(6);
  expect(t.toString()).toBe('abcdef');
});

test('exactly the cap', () => {
  const t = new TailBuffer(4);
  t.push(Buffer.from('ab'));
  t.push(Buffer.from('cd'));
  expect(t.toString()).toBe('abcd');
});

test('only the last `limit` bytes are kept, whatever the chunking', () => {
  const input = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz', 'latin1');
  for (const size of [1, 2, 3, 7, 10, 11, 36]) {
    const t = new TailBuffer(10);
    for (let i = 0; i < input.length; i += size) t.push(input.subarray(i, i + size));
    expect(t.size).toBe(10);
    expect(hex(t)).toBe('qrstuvwxyz');
  }
});

test('a single chunk larger than the cap keeps a copy of its end (the chunk is not held)', () => {
  const t = new TailBuffer(5);
  const big = Buffer.from('x'.repeat(100) + 'HELLO');
  t.push(big);
  big.fill(0x2d);
  expect(t.toString()).toBe('HELLO');
});

test('a cut inside a multi-byte character drops its continuation bytes, never a U+FFFD', () => {
  // "é" = c3 a9, "€" = e2 82 ac, "😀" = f0 9f 98 80
  const cases: [string, number, string][] = [
    ['aé', 1, ''], // only a9 left
    ['€', 2, ''], // 82 ac
    ['€x', 2, 'x'], // ac x
    ['😀!', 4, '!'], // 9f 98 80 !
    ['😀!', 5, '😀!'],
    ['éé', 3, 'é'],
  ];
  for (const [text, limit, expected] of cases) {
    const t = new TailBuffer(limit);
    for (const byte of Buffer.from(text, 'utf8')) t.push(Buffer.from([byte]));
    expect(t.toString()).toBe(expected);
    expect(t.toString()).not.toContain('\uFFFD');
  }
});

test('toBuffer keeps the raw bytes, continuation bytes included', () => {
  const t = new TailBuffer(2);
  t.push(Buffer.from('€', 'utf8'));
  expect([...t.toBuffer()]).toEqual([0x82, 0xac]);
});

test('64 KiB cap with large interleaved chunks', () => {
  const t = new TailBuffer(65536);
  t.push(Buffer.alloc(50000, 0x41));
  t.push(Buffer.alloc(50000, 0x42));
  t.push(Buffer.alloc(30000, 0x43));
  t.push(Buffer.from('END'));
  const s = t.toString();
  expect(s).toHaveLength(65536);
  expect(s.endsWith('C'.repeat(30000) + 'END')).toBe(true);
  expect(s.startsWith('B')).toBe(true);
});

test('a zero cap keeps nothing', () => {
  const t = new TailBuffer(0);
  t.push(Buffer.from('abc'));
  expect(t.size).toBe(0);
  expect(t.toString()).toBe('');
});
