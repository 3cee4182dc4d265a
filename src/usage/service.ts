/**
 * The usage service: records finished executions (buffered in memory, appended to the store in
 * batches at most `flushMs` later, so recording never delays a response and a `kill -9` loses at
 * most that much), the per-key limits of admission, queries, the caller's own view (`/me`) and
 * retention. A graceful shutdown flushes everything (`close`).
 */
import type { KeyLimits } from '../auth/principal';
import type { Logger } from '../observability/logger';
import { KeyLimiter, type KeyCounters, type KeyRef, type KeyToday } from './limits';
import { dayOf, type UsageQuery, type UsageQueryResult, type UsageRecord, type UsageStore } from './types';

const DAY_MS = 86_400_000;
/** Records kept in memory while the store fails; beyond that the oldest are dropped (logged). */
const MAX_BUFFERED = 100_000;

/** Per-key metrics of finished executions. */
export interface UsageObserver {
  usageRecorded(record: UsageRecord): void;
}

export interface UsageServiceOptions {
  /** Injected clock (tests): day boundaries, quota resets, `Retry-After`. */
  clock?: () => number;
  /** Longest a record waits in memory before it is appended (default 500 ms). */
  flushMs?: number;
  /** `usage.retention_days`; 0 keeps everything. */
  retentionDays: number;
  logger: Logger;
  observer?: UsageObserver;
  /** Where the per-key counters live (default: this process's memory; a cluster shares them in Redis). */
  counters?: KeyCounters;
  /** The current limits of a key by name (for runs without a request's principal: jobs). */
  limitsOf?: (name: string) => Readonly<KeyLimits> | undefined;
}

export class UsageService {
  readonly limits: KeyCounters;
  readonly clock: () => number;
  private buffer: UsageRecord[] = [];
  private timer?: NodeJS.Timeout;
  private retentionTimer?: NodeJS.Timeout;
  private inFlight: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly store: UsageStore,
    private readonly opts: UsageServiceOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.limits = opts.counters ?? new KeyLimiter(this.clock);
  }

  /** Opens the store, applies retention and rebuilds today's per-key counters from the records. */
  async start(): Promise<void> {
    await this.store.open();
    await this.prune();
    await this.rebuildCounters();
    if (this.opts.retentionDays > 0) {
      this.retentionTimer = setInterval(() => void this.prune(), 3600_000);
      this.retentionTimer.unref();
    }
  }

  /**
   * Sets today's per-key counters from the records (buffered ones appended first). Shared counters
   * take it only where they have none for today: after a restart of the engine that keeps them.
   */
  async rebuildCounters(): Promise<void> {
    if (this.buffer.length > 0) await this.flush();
    const today = dayOf(this.clock());
    await this.limits.rebuild(today, await this.store.dailyUsage(today));
  }

  /** The key whose limits apply to a run: the request's principal, or a job owner's current definition. */
  keyRef(principal: KeyRef | undefined, name: string | undefined): KeyRef | undefined {
    if (principal) return principal;
    if (name === undefined) return undefined;
    const limits = this.opts.limitsOf?.(name);
    return { name, limits: limits ?? { requests_per_day: null, tokens_per_day: null, max_concurrent: null } };
  }

  /** One finished execution: counted at once, stored within `flushMs`. Never throws. */
  record(rec: UsageRecord): void {
    this.limits.addTokens(rec.key, rec.input_tokens + rec.output_tokens);
    this.opts.observer?.usageRecorded(rec);
    if (this.closed) {
      this.opts.logger.error('usage record after shutdown dropped', { key: rec.key, request_id: rec.request_id });
      return;
    }
    this.buffer.push(rec);
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.opts.flushMs ?? 500);
      this.timer.unref();
    }
  }

  /** Appends everything recorded so far; resolves once it is in the store (errors are logged, records kept). */
  flush(): Promise<void> {
    const next = this.inFlight.then(() => this.flushNow());
    this.inFlight = next;
    return next;
  }

  /** Grouped usage; records still buffered are appended first, so a query sees every finished run. */
  async query(q: UsageQuery): Promise<UsageQueryResult> {
    await this.flush();
    return this.store.query(q);
  }

  /** Today's requests and tokens of a key, and its executions running or queued now. */
  today(name: string): Promise<KeyToday> {
    return this.limits.today(name);
  }

  /** Graceful shutdown: flushes every record, then closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.retentionTimer);
    await this.flush();
    if (this.buffer.length > 0) {
      this.opts.logger.error('usage records lost at shutdown: the store refused them', { count: this.buffer.length });
    }
    await this.store.close();
  }

  private async flushNow(): Promise<void> {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    try {
      await this.store.append(batch);
    } catch (err) {
      this.buffer = batch.concat(this.buffer);
      if (this.buffer.length > MAX_BUFFERED) {
        const dropped = this.buffer.length - MAX_BUFFERED;
        this.buffer = this.buffer.slice(dropped);
        this.opts.logger.error('usage records dropped: the store keeps failing', { count: dropped });
      }
      this.opts.logger.error('could not store usage records (will retry)', {
        count: batch.length,
        error: (err as Error).message,
      });
      if (!this.closed && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          void this.flush();
        }, 5000);
        this.timer.unref();
      }
    }
  }

  private async prune(): Promise<void> {
    const days = this.opts.retentionDays;
    if (days <= 0) return;
    try {
      await this.store.prune(dayOf(this.clock() - days * DAY_MS));
    } catch (err) {
      this.opts.logger.warn('usage retention failed', { error: (err as Error).message });
    }
  }
}
