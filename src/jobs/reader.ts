/**
 * One reader of a job's events: stored events after its cursor, then live ones until the terminal
 * event. The reader pulls at its own pace (the run never waits for it). A job this node does not
 * hold (queued, or driven by another node) is followed in the store: its node stores events in
 * small batches and announces them, which wakes the reader.
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
        const batch = await this.followStore(waitFor);
        if (batch) return batch;
        continue;
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

  /**
   * One step of following a job in the store: stored events after the cursor (the end once the job
   * is terminal), or nothing new yet → wait for a wake-up; undefined: look again (the job may be
   * held here now).
   */
  private async followStore(waitFor: Promise<unknown>): Promise<ReadBatch | undefined> {
    const sub = this.jobs.subscribe(this.id);
    try {
      const stored = await this.jobs.readStored(this.id, this.cursor);
      this.advance(stored);
      if (stored.length > 0) return { events: stored, end: stored.some(isJobEnd) };
      // nothing new: the state decides (once terminal, what is stored after it is all there is)
      if (!(await this.jobs.followStored(this.id))) {
        const rest = await this.jobs.readStored(this.id, this.cursor);
        this.advance(rest);
        return { events: rest, end: true };
      }
      if (this.jobs.hubOf(this.id)) return undefined;
      const woke = await Promise.race([sub.changed(this.jobs.storePollMs), waitFor.then(() => 'wait' as const)]);
      return woke === 'wait' ? { events: [], end: false } : undefined;
    } finally {
      sub.cancel();
    }
  }

  private advance(events: (StoredEvent | LiveEvent)[]): void {
    if (events.length > 0) this.cursor = Math.max(this.cursor, events[events.length - 1].sequence);
  }
}

/** The job's own terminal event (an aggregate item's events carry `item`). */
function isJobEnd(e: StoredEvent): boolean {
  return /^\{"type":"(done|error)"/.test(e.line) && !e.line.includes('"item":');
}
