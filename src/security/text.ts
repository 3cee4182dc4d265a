/**
 * String checks for values that reach a CLI argument:
 * no U+0000, well-formed Unicode (no lone surrogates), not blank, UTF-8 byte limits.
 */
import type { ValidationDetail } from '../errors';

/** True when `s` contains U+0000. */
export function hasNul(s: string): boolean {
  return s.includes('\u0000');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `s` has no lone surrogate (`String.prototype.isWellFormed`, with a fallback). */
export function isWellFormedUnicode(s: string): boolean {
  const fn = (s as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  if (typeof fn === 'function') return fn.call(s);
  return !LONE_SURROGATE.test(s);
}

/** True when `s` is empty or only whitespace (as `String.prototype.trim` defines it). */
export function isBlank(s: string): boolean {
  return s.trim().length === 0;
}

/** UTF-8 length in bytes (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export interface ArgTextOptions {
  /** Maximum UTF-8 length; violation → `exceeds <n> bytes` (or `<label> exceeds <n> bytes`). */
  maxBytes?: number;
  /**
   * Optional noun put in front of the size message, e.g. `assembled prompt` →
   * `assembled prompt exceeds 100000 bytes` (useful when the limit applies to a combined value).
   */
  label?: string;
  /** Accept blank values (default false → `must not be blank`). */
  allowBlank?: boolean;
  /**
   * Accept the empty string (only meaningful with `allowBlank`; default = `allowBlank`). With
   * `allowBlank: true, allowEmpty: false`, `""` → `must not be empty` but `" "` is accepted.
   */
  allowEmpty?: boolean;
}

/**
 * All problems of one string that will become (part of) a CLI argument. Every applicable problem
 * is reported (NUL, lone surrogate, blank/empty, size), each as `{path, message}`.
 */
export function checkArgText(value: string, path: string, opts: ArgTextOptions = {}): ValidationDetail[] {
  const details: ValidationDetail[] = [];
  if (hasNul(value)) details.push({ path, message: 'must not contain NUL characters' });
  if (!isWellFormedUnicode(value)) details.push({ path, message: 'must be well-formed Unicode' });
  const allowBlank = opts.allowBlank ?? false;
  const allowEmpty = opts.allowEmpty ?? allowBlank;
  if (!allowBlank && isBlank(value)) {
    details.push({ path, message: 'must not be blank' });
  } else if (!allowEmpty && value.length === 0) {
    details.push({ path, message: 'must not be empty' });
  }
  if (opts.maxBytes !== undefined && utf8Bytes(value) > opts.maxBytes) {
    const label = opts.label ? `${opts.label} ` : '';
    details.push({ path, message: `${label}exceeds ${opts.maxBytes} bytes` });
  }
  return details;
}

/**
 * `s` reduced to at most `maxBytes` UTF-8 bytes of its own text: the start and the end are kept
 * (never cutting a character) around a `[… <n> bytes omitted …]` line. Unchanged when it fits.
 */
export function shortenMiddle(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  const isContinuation = (i: number) => i < buf.length && (buf[i]! & 0xc0) === 0x80;
  let headEnd = Math.floor(maxBytes / 2);
  while (headEnd > 0 && isContinuation(headEnd)) headEnd--;
  let tailStart = buf.length - (maxBytes - headEnd);
  while (isContinuation(tailStart)) tailStart++;
  const omitted = tailStart - headEnd;
  return `${buf.toString('utf8', 0, headEnd)}\n[… ${omitted} bytes omitted …]\n${buf.toString('utf8', tailStart)}`;
}
