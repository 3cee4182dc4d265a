/** LineSplitter: byte-level line splitting with a per-line cap (no processes involved). */
import { LineSplitter } from '../../../src/backends/line-splitter';

function splitter(max = Number.POSITIVE_INFINITY) {
  const lines: Buffer[] = [];
  const s = new LineSplitter(max, (l) => lines.push(Buffer.from(l)));
  return { s, lines, text: () => lines.map((l) => l.toString('utf8')) };
}

const b = (...bytes: (number | string)[]) =>
  Buffer.concat(bytes.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from([x]))));

describe('splitting', () => {
  test('\\n ends a line; empty lines are kept; the final partial line comes with end()', () => {
    const { s, text } = splitter();
    expect(s.push(Buffer.from('a\n\nb\nc'))).toBe(true);
    expect(text()).toEqual(['a', '', 'b']);
    expect(s.buffered).toBe(1);
    expect(s.end()).toBe(true);
    expect(text()).toEqual(['a', '', 'b', 'c']);
  });

  test('CRLF: one trailing \\r is removed; a \\r inside a line or a second \\r stays', () => {
    const { s, text } = splitter();
    s.push(Buffer.from('a\r\nmid\rdle\r\nx\r\r\n\r\n'));
    s.end();
    expect(text()).toEqual(['a', 'mid\rdle', 'x\r', '']);
  });

  test('a \\r\\n split between two chunks', () => {
    const { s, text } = splitter();
    s.push(Buffer.from('abc\r'));
    expect(text()).toEqual([]);
    s.push(Buffer.from('\ndef\r'));
    s.end(); // final line: its trailing \r is removed too
    expect(text()).toEqual(['abc', 'def']);
  });

  test('a multi-byte UTF-8 character split across chunks, byte by byte, is joined intact', () => {
    const input = Buffer.from('héllo €uro 😀\nnext 日本\n', 'utf8');
    const { s, lines, text } = splitter();
    for (const byte of input) s.push(Buffer.from([byte]));
    s.end();
    expect(text()).toEqual(['héllo €uro 😀', 'next 日本']);
    expect(lines.every((l) => !l.toString('utf8').includes('\uFFFD'))).toBe(true);
  });

  test('every split point of a mixed input gives the same lines', () => {
    const input = Buffer.from('{"a":"é"}\r\n\n€€\n😀 x\r\nlast', 'utf8');
    const { s: ref, text: refText } = splitter();
    ref.push(input);
    ref.end();
    for (let i = 0; i <= input.length; i++) {
      for (let j = i; j <= input.length; j++) {
        const { s, text } = splitter();
        s.push(input.subarray(0, i));
        s.push(input.subarray(i, j));
        s.push(input.subarray(j));
        s.end();
        expect(text()).toEqual(refText());
      }
    }
    expect(refText()).toEqual(['{"a":"é"}', '', '€€', '😀 x', 'last']);
  });

  test('empty chunks and an empty input deliver nothing', () => {
    const { s, lines } = splitter();
    expect(s.push(Buffer.alloc(0))).toBe(true);
    expect(s.end()).toBe(true);
    expect(lines).toEqual([]);
  });

  test('bytes that are not UTF-8 pass through unchanged (decoding is the caller’s business)', () => {
    const { s, lines } = splitter();
    s.push(b('a', 0xff, 0xfe, '\n'));
    expect(lines[0]).toEqual(b('a', 0xff, 0xfe));
  });
});

describe('line cap (bytes, not characters)', () => {
  test('a line of exactly max bytes is delivered, with or without \\r', () => {
    const { s, text } = splitter(10);
    s.push(Buffer.from('0123456789\r\n0123456789\nabc'));
    s.end();
    expect(text()).toEqual(['0123456789', '0123456789', 'abc']);
    expect(s.overflowed).toBe(false);
  });

  test('max counts bytes: 5 two-byte characters fit 10, 6 do not', () => {
    const ok = splitter(10);
    ok.s.push(Buffer.from('ééééé\n'));
    expect(ok.text()).toEqual(['ééééé']);
    const { s, lines } = splitter(10);
    expect(s.push(Buffer.from('éééééé\n'))).toBe(false);
    expect(s.overflowed).toBe(true);
    expect(lines).toEqual([]);
  });

  test('an over-long line stops everything: not delivered, nor anything after it', () => {
    const { s, text } = splitter(4);
    expect(s.push(Buffer.from('ok\ntoolong\nafter\n'))).toBe(false);
    expect(text()).toEqual(['ok']);
    expect(s.overflowed).toBe(true);
    expect(s.push(Buffer.from('more\n'))).toBe(false);
    expect(s.end()).toBe(false);
    expect(text()).toEqual(['ok']);
  });

  test('an unterminated line is cut off as soon as it exceeds the cap (memory stays bounded)', () => {
    const { s, lines } = splitter(1000);
    let accepted = 0;
    for (let i = 0; i < 100; i++) {
      if (!s.push(Buffer.alloc(100, 0x61))) break;
      accepted++;
      expect(s.buffered).toBeLessThanOrEqual(1001);
    }
    expect(accepted).toBe(10);
    expect(s.overflowed).toBe(true);
    expect(s.buffered).toBe(0);
    expect(lines).toEqual([]);
  });

  test('max + 1 bytes are held when the last one may be a \\r that will be stripped', () => {
    const { s, text } = splitter(3);
    expect(s.push(Buffer.from('abc\r'))).toBe(true);
    expect(s.push(Buffer.from('\n'))).toBe(true);
    expect(text()).toEqual(['abc']);
    // Without the \r the held line is over the cap: refused at end(), or at once beyond max + 1.
    const held = splitter(3);
    expect(held.s.push(Buffer.from('abcd'))).toBe(true);
    expect(held.s.end()).toBe(false);
    expect(held.lines).toEqual([]);
    expect(splitter(3).s.push(Buffer.from('abcde'))).toBe(false);
  });

  test('a final unterminated line over the cap is not delivered', () => {
    const { s, text } = splitter(10);
    s.push(Buffer.from('ok\n01234567890'));
    expect(s.end()).toBe(false);
    expect(text()).toEqual(['ok']);
    expect(s.overflowed).toBe(true);
  });
});

describe('stop()', () => {
  test('stop() from inside onLine ends delivery at once, even within the same chunk', () => {
    const seen: string[] = [];
    const s: LineSplitter = new LineSplitter(100, (l) => {
      seen.push(l.toString());
      if (l.toString() === 'two') s.stop();
    });
    expect(s.push(Buffer.from('one\ntwo\nthree\nfour'))).toBe(false);
    expect(s.end()).toBe(false);
    expect(seen).toEqual(['one', 'two']);
    expect(s.overflowed).toBe(false);
  });
});
