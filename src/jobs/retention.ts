/**
 * Retention: terminal jobs (record and events) are deleted `jobs.retention_secs` after they
 * finished, by a sweep at start-up and then every min(retention, 60 s) (at least every second).
 */
import type { Logger } from '../observability/logger';
import type { JobStore } from './types';

export class RetentionSweeper {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: JobStore,
    private readonly retentionSecs: number,
    private readonly logger: Logger,
  ) {}

  /** One sweep now, then periodic ones (the timer does not keep the process alive). */
  async start(): Promise<void> {
    await this.sweep();
    const every = Math.max(1, Math.min(60, this.retentionSecs)) * 1000;
    this.timer = setInterval(() => void this.sweep(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sweep(): Promise<void> {
    try {
      const ids = await this.store.finishedBefore(Date.now() - this.retentionSecs * 1000);
      for (const id of ids) await this.store.delete(id);
    } catch (err) {
      this.logger.warn('job retention sweep failed', { error: (err as Error).message });
    }
  }
}
