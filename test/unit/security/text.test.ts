import {
  checkArgText,
  hasNul,
  isBlank,
  isWellFormedUnicode,
  shortenMiddle,
  utf8Bytes,
} from '../../../src/security/text';

describe('text helpers', () => {
  it('hasNul', () => {
    expect(hasNul('abc')).toBe(false);
    expect(hasNul('a\u0000b')).toBe(true);
    expect(hasNul('\u0000')).toBe(true);
  });

  it('isWellFormedUnicode', () => {
    expect(isWellFormedUnicode('hello')).toBe(true);
    expect(isWellFormedUnicode('emoji 😀 ok')).toBe(true);
    expect(isWellFormedUnicode('\ud800')).toBe(false);
    expect(isWellFormedUnicode('a\udc00b')).toBe(false);
    expect(isWellFormedUnicode('\ude00\ud83d')).toBe(false);
  });

  it('isBlank', () => {
    expect(isBlank('')).toBe(true);
    expect(isBlank('  \n\t')).toBe(true);
    expect(isBlank('\u00a0\u2003')).toBe(true);
    expect(isBlank(' x ')).toBe(false);
  });

  it('utf8Bytes', () => {
    expect(utf8Bytes('abc')).toBe(3);
    expect(utf8Bytes('é')).toBe(2);
    expect(utf8Bytes('😀')).toBe(4);
    expect(utf8Bytes('')).toBe(0);
  });
});

describe('checkArgText', () => {
  it('accepts a normal string', () => {
    expect(checkArgText('hello', 'body.prompt', { maxBytes: 100000 })).toEqual([]);
  });

  it('rejects NUL (§9 row 11)', () => {
    expect(checkArgText('a\u0000b', 'body.prompt')).toEqual([
      { path: 'body.prompt', message: 'must not contain NUL characters' },
    ]);
  });

  it('rejects a lone surrogate (§9 row 11)', () => {
    expect(checkArgText('\ud800', 'body.prompt')).toEqual([
      { path: 'body.prompt', message: 'must be well-formed Unicode' },
    ]);
  });

  it('rejects blank values (§9 row 5)', () => {
    expect(checkArgText('', 'body.prompt')).toEqual([{ path: 'body.prompt', message: 'must not be blank' }]);
    expect(checkArgText('  \n\t', 'body.prompt')).toEqual([{ path: 'body.prompt', message: 'must not be blank' }]);
  });

  it('allowBlank / allowEmpty', () => {
    expect(checkArgText('  ', 'body.system_prompt', { allowBlank: true })).toEqual([]);
    expect(checkArgText('', 'body.system_prompt', { allowBlank: true })).toEqual([]);
    expect(checkArgText('', 'body.extra[0]', { allowBlank: true, allowEmpty: false })).toEqual([
      { path: 'body.extra[0]', message: 'must not be empty' },
    ]);
    expect(checkArgText(' ', 'body.extra[0]', { allowBlank: true, allowEmpty: false })).toEqual([]);
  });

  it('enforces the byte limit in UTF-8 bytes (§9 row 10)', () => {
    expect(checkArgText('a'.repeat(100000), 'body.prompt', { maxBytes: 100000 })).toEqual([]);
    expect(checkArgText('a'.repeat(100001), 'body.prompt', { maxBytes: 100000 })).toEqual([
      { path: 'body.prompt', message: 'exceeds 100000 bytes' },
    ]);
    expect(checkArgText('é'.repeat(50001), 'body.prompt', { maxBytes: 100000 })).toEqual([
      { path: 'body.prompt', message: 'exceeds 100000 bytes' },
    ]);
    expect(checkArgText('x'.repeat(200000), 'body.prompt', { maxBytes: 100000, label: 'assembled prompt' })).toEqual([
      { path: 'body.prompt', message: 'assembled prompt exceeds 100000 bytes' },
    ]);
  });

  it('reports every problem', () => {
    expect(checkArgText('\u0000\ud800' + 'x'.repeat(20), 'body.tasks[1].prompt', { maxBytes: 10 })).toEqual([
      { path: 'body.tasks[1].prompt', message: 'must not contain NUL characters' },
      { path: 'body.tasks[1].prompt', message: 'must be well-formed Unicode' },
      { path: 'body.tasks[1].prompt', message: 'exceeds 10 bytes' },
    ]);
  });
});

describe('shortenMiddle', () => {
  it('keeps a text that fits', () => {
    expect(shortenMiddle('abc', 3)).toBe('abc');
  });

  it('keeps the start and the end, never cutting a character', () => {
    const s = `${'ä'.repeat(10)}${'x'.repeat(100)}${'€'.repeat(10)}`;
    const out = shortenMiddle(s, 21);
    const [head, marker, tail] = out.split('\n');
    expect(head).toBe('ä'.repeat(5));
    expect(tail).toBe('€'.repeat(3));
    expect(marker).toBe(`[… ${Buffer.byteLength(s) - 10 - 9} bytes omitted …]`);
    expect(out).not.toContain('\uFFFD');
  });
});
