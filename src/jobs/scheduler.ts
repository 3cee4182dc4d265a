/**
 * The durable FIFO queue of jobs and its admission to execution slots: a queued job starts
 * whenever an execution slot is free for the job lane (synchronous requests waiting for a slot go
 * first) and fewer than `jobs.max_running` jobs run or wait for their slot. Once shutdown begins
 * nothing new starts; queued jobs stay queued for the next start.
 *
 * The queue here mirrors the store's queued jobs that no node claimed yet (those of every node
 * sharing the store). Starting one claims it in the store first: when another node was quicker (or
 * the job was canceled), the entry is dropped and the next one is tried.
 */
import type { ExecutionLimiter } from '../execution/limiter';
import type { ActiveJob } from './active-job';
import type { JobRunner } from './runner';
import { isTerminal, type QueueEntry } from './types';

/** Claims a queued job for this node; the job in memory, or undefined when it was not claimable. */
export type Claim = (entry: QueueEntry) => Promise<ActiveJob | undefined>;

export class JobScheduler {
  /** Queued jobs in FIFO order (queue position), with when each was added. */
  private queue: (QueueEntry & { added: number })[] = [];
  private readonly ids = new Set<string>();
  /** Jobs whose CLI runs. */
  private running = 0;
  /** Jobs started but still waiting for their execution slot. */
  private pending = 0;
  private stopping = false;
  private drainCut = false;

  constructor(
    private readonly claim: Claim,
    private readonly runner: JobRunner,
    private readonly limiter: ExecutionLimiter,
    private readonly maxRunning: number,
    private readonly onChange?: (queued: number, running: number) => void,
  ) {
    limiter.onSlotFree(() => this.pump());
  }

  get counts(): { queued: number; running: number } {
    return { queued: this.queue.length, running: this.running };
  }

  get stopped(): boolean {
    return this.stopping;
  }

  /** Adds a job at its place in the queue (without starting any: call `pump`). */
  add(entry: QueueEntry): void {
    if (this.ids.has(entry.id)) return;
    this.ids.add(entry.id);
    const item = { id: entry.id, queue_seq: entry.queue_seq, added: Date.now() };
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1].queue_seq > entry.queue_seq) i--;
    this.queue.splice(i, 0, item);
  }

  remove(id: string): void {
    if (!this.ids.delete(id)) return;
    this.queue = this.queue.filter((e) => e.id !== id);
  }

  /**
   * The store's queue as read at `since` (epoch ms): missing entries are added, entries added
   * before `since` that the store no longer holds as queued are dropped.
   */
  sync(entries: QueueEntry[], since: number): void {
    const present = new Set(entries.map((e) => e.id));
    for (const e of this.queue) if (!present.has(e.id) && e.added < since) this.ids.delete(e.id);
    this.queue = this.queue.filter((e) => this.ids.has(e.id));
    for (const e of entries) this.add(e);
  }

  /** Starts queued jobs while the limits allow. */
  pump(): void {
    while (
      !this.stopping &&
      this.queue.length > 0 &&
      this.running + this.pending < this.maxRunning &&
      this.pending < this.limiter.freeJobSlots()
    ) {
      const entry = this.queue.shift()!;
      this.ids.delete(entry.id);
      void this.start(entry);
    }
    this.changed();
  }

  /** Nothing new starts from now on. */
  stop(): void {
    this.stopping = true;
  }

  /** Resolves when no job is running any more (or after `ms`, or once `cutDrain` was called). */
  async drained(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.running + this.pending > 0 && Date.now() < end && !this.drainCut) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  cutDrain(): void {
    this.drainCut = true;
  }

  changed(): void {
    this.onChange?.(this.queue.length, this.running);
  }

  private async start(entry: QueueEntry): Promise<void> {
    // the place is taken while the claim is under way
    this.pending++;
    const job = await this.claim(entry).catch(() => undefined);
    // (a cancel may have ended the job between its claim and now)
    if (!job || isTerminal(job.record.status)) {
      this.pending--;
      this.pump();
      return;
    }
    job.pendingSlot = true;
    try {
      await this.runner.run(job, {
        granted: () => this.granted(job),
        running: () => {
          this.running++;
          this.changed();
        },
      });
    } finally {
      this.granted(job);
      if ((job.phase as ActiveJob['phase']) === 'running') this.running--;
      this.changed();
      this.pump();
    }
  }

  private granted(job: ActiveJob): void {
    if (!job.pendingSlot) return;
    job.pendingSlot = false;
    this.pending--;
  }
}
