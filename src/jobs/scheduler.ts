/**
 * The durable FIFO queue of jobs and its admission to execution slots: a queued job starts
 * whenever an execution slot is free for the job lane (synchronous requests waiting for a slot go
 * first) and fewer than `jobs.max_running` jobs run or wait for their slot. Once shutdown begins
 * nothing new starts; queued jobs stay queued for the next start.
 */
import type { ExecutionLimiter } from '../execution/limiter';
import type { ActiveJob } from './active-job';
import type { JobRunner } from './runner';

export class JobScheduler {
  /** Queued jobs in FIFO order. */
  private queue: ActiveJob[] = [];
  /** Jobs whose CLI runs. */
  private running = 0;
  /** Jobs started but still waiting for their execution slot. */
  private pending = 0;
  private stopping = false;
  private drainCut = false;

  constructor(
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

  get queued(): readonly ActiveJob[] {
    return this.queue;
  }

  /** Adds jobs at the end of the queue (without starting any: call `pump`). */
  add(job: ActiveJob): void {
    this.queue.push(job);
  }

  remove(job: ActiveJob): void {
    this.queue = this.queue.filter((j) => j !== job);
  }

  /** Starts queued jobs while the limits allow. */
  pump(): void {
    while (
      !this.stopping &&
      this.queue.length > 0 &&
      this.running + this.pending < this.maxRunning &&
      this.pending < this.limiter.freeJobSlots()
    ) {
      const job = this.queue.shift()!;
      void this.start(job);
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

  private async start(job: ActiveJob): Promise<void> {
    job.phase = 'starting';
    job.pendingSlot = true;
    this.pending++;
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
