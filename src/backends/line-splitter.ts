/**
 * Splits a byte stream (a CLI's stdout in stream mode) into lines: `\n` ends a line, one trailing
 * `\r` is removed, empty lines are kept, and a final line without `\n` is delivered by `end()`.
 * Works on bytes, not strings: a multi-byte UTF-8 character split across chunks is joined before
 * decoding (a `\n` byte never occurs inside a multi-byte character), and the length limit is in
 * bytes. A line longer than `maxLineBytes` (without its `\r`) is never delivered: the splitter
 * stops (`overflowed`), and it stops as soon as the unterminated part exceeds the limit, so memory
 * stays bounded by the limit whatever the producer writes.
 */

const NEWLINE = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private stopped = false;
  private tooLong = false;

  /**
   * `onLine` is called synchronously, once per line, in order. It may call `stop()`; no further
   * line is delivered after that (not even from the rest of the current chunk).
   */
  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: Buffer) => void,
  ) {}

  /** True once a line exceeded the limit (nothing more is delivered). */
  get overflowed(): boolean {
    return this.tooLong;
  }

  /** Bytes held for the current unterminated line. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Stops delivery for good and drops what is held. */
  stop(): void {
    this.stopped = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Feeds a chunk. Returns false when the splitter is (now) stopped or overflowed. */
  push(chunk: Buffer): boolean {
    const max = this.maxLineBytes;
    let start = 0;
    while (!this.stopped) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) break;
      const segment = chunk.subarray(start, nl);
      start = nl + 1;
      let line: Buffer;
      if (this.pendingBytes === 0) {
        line = segment;
      } else {
        this.pending.push(segment);
        line = Buffer.concat(this.pending, this.pendingBytes + segment.length);
        this.pending = [];
        this.pendingBytes = 0;
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      if (line.length > max) return this.overflow();
      this.onLine(line);
    }
    if (this.stopped) return false;
    if (start >= chunk.length) return true;
    const rest = chunk.subarray(start);
    // +1: a trailing `\r` that will be stripped does not count against the limit.
    if (this.pendingBytes + rest.length > max + 1) return this.overflow();
    this.pending.push(rest);
    this.pendingBytes += rest.length;
    return true;
  }

  /** End of input: delivers the final unterminated line, if any. Returns false on overflow/stop. */
  end(): boolean {
    if (this.stopped) return false;
    if (this.pendingBytes === 0) return true;
    let line = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > this.maxLineBytes) return this.overflow();
    this.onLine(line);
    return !this.stopped;
  }

  private overflow(): false {
    this.tooLong = true;
    this.stop();
    return false;
  }
}
