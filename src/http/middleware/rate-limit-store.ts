/**
 * Token-bucket store for express-rate-limit: a bucket of `burst` tokens per client,
 * refilled continuously at `rps`, starting full; idle buckets dropped; at most 10 000 buckets (LRU).
 */
import type { ClientRateLimitInfo, Store } from 'express-rate-limit';

interface Bucket {
  tokens: number;
  updated: number;
}

export const MAX_BUCKETS = 10_000;

export class TokenBucketStore implements Store {
  readonly localKeys = true;
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly rps: number,
    readonly burst: number,
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(idleMs, 60_000)));
    this.sweeper.unref();
  }

  /**
   * Takes a token. `totalHits` > burst means the request is over the limit (then `resetTime` is
   * when one token is back: Retry-After); otherwise `burst - totalHits` tokens remain and
   * `resetTime` is when the bucket is full again (the `t` of the RateLimit header). Both ≥ 1 s.
   */
  increment(key: string): ClientRateLimitInfo {
    const t = this.now();
    const b = this.refill(key, t);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { totalHits: this.burst - Math.floor(b.tokens), resetTime: this.after(t, this.burst - b.tokens) };
    }
    return { totalHits: this.burst + 1, resetTime: this.after(t, 1 - b.tokens) };
  }

  /** Tokens remaining for a key (tests, diagnostics); a new key has a full bucket. */
  tokens(key: string): number {
    const b = this.buckets.get(key);
    if (!b) return this.burst;
    return Math.min(this.burst, b.tokens + ((this.now() - b.updated) / 1000) * this.rps);
  }

  get size(): number {
    return this.buckets.size;
  }

  private after(t: number, tokens: number): Date {
    return new Date(t + Math.max(1000, Math.ceil((tokens / this.rps) * 1000)));
  }

  decrement(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.burst, b.tokens + 1);
  }

  resetKey(key: string): void {
    this.buckets.delete(key);
  }

  shutdown(): void {
    clearInterval(this.sweeper);
  }

  private refill(key: string, t: number): Bucket {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.updated) / 1000) * this.rps);
      b.updated = t;
    } else {
      b = { tokens: this.burst, updated: t };
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    return b;
  }

  private sweep(): void {
    const cutoff = this.now() - this.idleMs;
    for (const [k, b] of this.buckets) if (b.updated < cutoff) this.buckets.delete(k);
  }
}
