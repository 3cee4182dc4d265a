/**
 * Fan-out of one job's events to any number of readers. The run appends; each reader keeps its own
 * cursor and pulls at its own pace, so a slow reader never slows the run or the other readers.
 * Only a bounded tail of events stays in memory: a reader that falls behind it reads the stored
 * log instead (events leave memory only once they are stored, so nothing is ever skipped except
 * the events the storage cap left out).
 */

export interface LiveEvent {
  sequence: number;
  type: string;
  line: string;
  terminal: boolean;
}

/** Events kept in memory beyond the ones still waiting to be stored. */
const TAIL_EVENTS = 512;

export class EventHub {
  private events: LiveEvent[] = [];
  /** Index of the first kept event in `events` (the array is compacted now and then). */
  private head = 0;
  private last = 0;
  /** Every event up to this sequence is stored (or deliberately left out of storage). */
  private settled = 0;
  private waiters: (() => void)[] = [];
  private ended = false;

  constructor(lastSequence = 0) {
    this.last = lastSequence;
    this.settled = lastSequence;
  }

  get lastSequence(): number {
    return this.last;
  }

  /** True once the terminal event was appended. */
  get finished(): boolean {
    return this.ended;
  }

  /** The next sequence number (the caller builds the event with it, then appends it). */
  nextSequence(): number {
    return this.last + 1;
  }

  append(ev: LiveEvent): void {
    this.last = ev.sequence;
    this.events.push(ev);
    if (ev.terminal) this.ended = true;
    this.wake();
  }

  /** Events up to `sequence` are stored (or skipped on purpose): they may leave memory. */
  settle(sequence: number): void {
    this.settled = Math.max(this.settled, sequence);
    this.trim();
  }

  /**
   * Events after `cursor` from memory; `undefined` when some of them already left memory (read
   * the stored log first).
   */
  since(cursor: number): LiveEvent[] | undefined {
    const first = this.events[this.head];
    if (!first) return cursor >= this.last ? [] : undefined;
    if (cursor + 1 < first.sequence) return undefined;
    const start = this.head + Math.max(0, cursor + 1 - first.sequence);
    return this.events.slice(start);
  }

  /** Sequence of the oldest event still in memory (or the next one when empty). */
  get oldestInMemory(): number {
    return this.events[this.head]?.sequence ?? this.last + 1;
  }

  /** Resolves on the next append (or at once when the job has ended). */
  wait(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Wakes every waiting reader (e.g. when the server stops). */
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private trim(): void {
    const kept = this.events.length - this.head;
    let drop = 0;
    while (kept - drop > TAIL_EVENTS && this.events[this.head + drop].sequence <= this.settled) drop++;
    if (drop === 0) return;
    this.head += drop;
    if (this.head > 4096 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }
}
