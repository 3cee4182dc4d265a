/**
 * Keeps only the last `limit` bytes written to it (a CLI's stderr: only the end is needed to build
 * an error message, and memory per run must stay bounded whatever the CLI prints).
 */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly limit: number) {}

  /** Bytes currently kept (at most `limit`). */
  get size(): number {
    return this.bytes;
  }

  push(chunk: Buffer): void {
    if (this.limit <= 0) return;
    if (chunk.length >= this.limit) {
      // Copy: a subarray would pin the whole (possibly large) chunk in memory.
      this.chunks = [Buffer.from(chunk.subarray(chunk.length - this.limit))];
      this.bytes = this.limit;
      return;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes > this.limit) {
      const first = this.chunks[0]!;
      const excess = this.bytes - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.bytes -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.bytes -= excess;
      }
    }
  }

  /** The kept bytes as one buffer. */
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.bytes);
  }

  /**
   * The kept bytes as UTF-8. When the cut landed inside a multi-byte character, its leading
   * continuation bytes (at most 3) are dropped instead of becoming a U+FFFD.
   */
  toString(): string {
    const buf = this.toBuffer();
    let start = 0;
    while (start < buf.length && start < 3 && (buf[start]! & 0xc0) === 0x80) start++;
    return buf.subarray(start).toString('utf8');
  }
}
