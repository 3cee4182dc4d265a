/**
 * One reader of a job's events: stored events after its cursor, then live ones until the terminal
 * event. The reader pulls at its own pace (the run never waits for it).
 */
import type { LiveEvent } from './fanout';
import type { JobService } from './service';
import type { StoredEvent } from './types';

export interface ReadBatch {
  events: (StoredEvent & { type?: string })[];
  /** No more events will come (terminal event delivered, job terminal, or not following). */
  end: boolean;
}

export class JobEventReader {
  private cursor: number;

  constructor(
    private readonly jobs: JobService,
    private readonly id: string,
    after: number,
    private readonly follow: boolean,
  ) {
    this.cursor = after;
  }

  /**
   * The next batch. Waits (when following) until something new exists; `signal` ends the wait
   * (client gone, heartbeat due).
   */
  async next(waitFor: Promise<unknown>): Promise<ReadBatch> {
    if (!this.follow) {
      // only what is stored now (pending writes first), then the end
      const stored = await this.jobs.readStoredNow(this.id, this.cursor);
      this.advance(stored);
      return { events: stored, end: true };
    }
    for (;;) {
      const hub = this.jobs.hubOf(this.id);
      if (!hub) {
        // terminal (or deleted): everything is in storage
        const stored = await this.jobs.readStored(this.id, this.cursor);
        this.advance(stored);
        return { events: stored, end: true };
      }
      const inMemory = hub.since(this.cursor);
      if (inMemory === undefined) {
        const stored = await this.jobs.readStored(this.id, this.cursor);
        const before = this.cursor;
        this.advance(stored);
        // events left out of storage (beyond its cap) are skipped like a resume would skip them
        if (this.cursor === before) this.cursor = Math.max(this.cursor, hub.oldestInMemory - 1);
        if (stored.length > 0) return { events: stored, end: false };
        continue;
      }
      if (inMemory.length > 0) {
        this.advance(inMemory);
        return { events: inMemory, end: inMemory[inMemory.length - 1].terminal };
      }
      if (hub.finished || this.jobs.abandoned(this.id)) return { events: [], end: true };
      const woke = await Promise.race([hub.wait().then(() => true), waitFor.then(() => false)]);
      if (!woke) return { events: [], end: false };
    }
  }

  private advance(events: (StoredEvent | LiveEvent)[]): void {
    if (events.length > 0) this.cursor = Math.max(this.cursor, events[events.length - 1].sequence);
  }
}
