/**
 * Write-behind of one job's events to its store: appends are batched (written at most 50 ms — or
 * the store's `eventBatchMs` — after the first pending event, or as soon as 64 KiB are pending) and made durable at the terminal
 * event. Storage per job is capped: beyond the cap, non-terminal events are left out of storage
 * (one `truncated` progress event marks the gap, added by the caller); the terminal event is
 * always stored.
 */
import type { Logger } from '../observability/logger';
import type { EventHub, LiveEvent } from './fanout';
import type { JobStore, StoredEvent } from './types';

export const BATCH_MS = 50;
export const BATCH_BYTES = 64 * 1024;

export class EventLog {
  private pending: StoredEvent[] = [];
  private pendingBytes = 0;
  /** Highest sequence handed to this log (stored or left out). */
  private lastSeen = 0;
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private storedBytes: number;
  private storedCount: number;
  truncated = false;

  constructor(
    private readonly id: string,
    private readonly store: JobStore,
    private readonly hub: EventHub,
    private readonly maxBytes: number,
    private readonly logger: Logger,
    stored: { count: number; bytes: number } = { count: 0, bytes: 0 },
  ) {
    this.storedBytes = stored.bytes;
    this.storedCount = stored.count;
  }

  /** Number of events stored (or about to be). */
  get count(): number {
    return this.storedCount;
  }

  /** Whether a non-terminal event of this size still fits under the cap. */
  fits(bytes: number): boolean {
    return this.storedBytes + bytes + 1 <= this.maxBytes;
  }

  /** Adds an event; `store: false` leaves it out of storage (beyond the cap). */
  add(ev: LiveEvent, store = true): void {
    this.lastSeen = ev.sequence;
    if (!store) {
      if (this.pending.length === 0) this.hub.settle(ev.sequence);
      return;
    }
    const bytes = Buffer.byteLength(ev.line) + 1;
    this.storedBytes += bytes;
    this.storedCount++;
    this.pending.push({ sequence: ev.sequence, line: ev.line });
    this.pendingBytes += bytes;
    if (ev.terminal || this.pendingBytes >= BATCH_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.store.eventBatchMs ?? BATCH_MS);
      this.timer.unref();
    }
  }

  /** Writes what is pending; the returned promise resolves when everything so far is written. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    const upTo = this.lastSeen;
    this.pending = [];
    this.pendingBytes = 0;
    this.chain = this.chain.then(async () => {
      try {
        if (batch.length > 0) await this.store.appendEvents(this.id, batch);
      } catch (err) {
        this.logger.error('could not store job events', { job_id: this.id, error: (err as Error).message });
      }
      this.hub.settle(upTo);
    });
    return this.chain;
  }

  /** Flushes and makes the log durable (after the terminal event). */
  async finish(): Promise<void> {
    await this.flush();
    this.chain = this.chain.then(async () => {
      try {
        await this.store.syncEvents(this.id);
      } catch (err) {
        this.logger.error('could not sync job events', { job_id: this.id, error: (err as Error).message });
      }
    });
    await this.chain;
  }
}
