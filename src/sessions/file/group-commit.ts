/**
 * Group commit: mutations that arrive while a write is in flight are queued and then applied
 * together, under one hold of the store lock, with their record files fsynced in parallel, one
 * directory fsync and one journal append. Each mutation is a synchronous plan that reads records
 * through the batch (so it sees the changes of the plans before it) and stages its writes; a plan
 * that throws leaves no trace. A plan's promise settles once the batch's records are durable (temp
 * file fsynced, renamed, directory fsynced), so a success still means the record is on disk.
 */
import * as fsp from 'fs/promises';
import { errnoCode } from '../../lib/errno';
import type { SessionRecord } from '../types';
import { fsyncDir, writeSyncedTemp } from './atomic-file';
import { putOp, type JournalOp } from './journal';
import type { JournalIndex } from './journal-index';
import { serializeRecord } from './record-codec';
import { readRecordFile, recordPath, type RecordRead } from './record-file';
import type { SortedIndex } from './sorted-index';

/** What a plan sees and does. */
export interface Transaction {
  /** The index as of the start of the batch (the batch's own changes are not in it yet). */
  readonly index: SortedIndex;
  /** The record as this batch has it so far: a copy the plan may change and `put`. */
  read(id: string): RecordRead;
  /** Whether `id` names a record: staged in this batch, in the index, or on disk. */
  exists(id: string): boolean;
  put(rec: SessionRecord): void;
  remove(id: string): void;
  /** Brings the index entry of `id` up to date with its file after the batch, even if the plan throws. */
  repair(id: string): void;
}

export type Plan<T> = (txn: Transaction) => T;

interface Queued {
  plan: Plan<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** Staged final states: a record to write, or null for a removal. */
type Staged = Map<string, SessionRecord | null>;

/** Plans per batch: bounds the time one batch takes. */
const MAX_BATCH = 256;
/** Back-to-back batches keep the lock this long at most (other processes wait for it meanwhile). */
const HOLD_MAX_MS = 50;

class BatchTransaction implements Transaction {
  readonly staged: Staged = new Map();
  readonly repairs = new Set<string>();
  private scope: Staged | undefined;

  constructor(
    private readonly dir: string,
    readonly index: SortedIndex,
  ) {}

  /** Runs one plan; its staged changes are kept only if it returns normally. */
  run<T>(plan: Plan<T>): { value: T; writes: boolean } {
    const scope: Staged = new Map();
    this.scope = scope;
    try {
      const value = plan(this);
      for (const [id, rec] of scope) this.staged.set(id, rec);
      return { value, writes: scope.size > 0 };
    } finally {
      this.scope = undefined;
    }
  }

  read(id: string): RecordRead {
    const staged = this.lookup(id);
    if (staged === undefined) return readRecordFile(this.dir, id);
    if (staged === null) return { kind: 'missing' };
    return { kind: 'ok', record: structuredClone(staged), mtimeMs: 0, size: 0 };
  }

  exists(id: string): boolean {
    const staged = this.lookup(id);
    if (staged !== undefined) return staged !== null;
    return this.index.has(id) || readRecordFile(this.dir, id).kind !== 'missing';
  }

  put(rec: SessionRecord): void {
    this.current().set(rec.id, rec);
  }

  remove(id: string): void {
    this.current().set(id, null);
  }

  repair(id: string): void {
    this.repairs.add(id);
  }

  private lookup(id: string): SessionRecord | null | undefined {
    if (this.scope?.has(id)) return this.scope.get(id);
    return this.staged.get(id);
  }

  private current(): Staged {
    if (!this.scope) throw new Error('transaction used outside of its plan');
    return this.scope;
  }
}

/** Writes the staged changes of a batch: every record durable first, then one journal append. */
async function writeBatch(dir: string, journal: JournalIndex, txn: BatchTransaction): Promise<void> {
  const puts: SessionRecord[] = [];
  const removals: string[] = [];
  for (const [id, rec] of txn.staged) {
    if (rec) puts.push(rec);
    else removals.push(id);
  }
  /** Temp files written and not renamed yet (removed if the batch fails). */
  const pending = new Set<string>();
  try {
    if (puts.length > 0 || removals.length > 0) {
      // Temp files are written and fsynced in parallel (the thread pool overlaps the fsyncs).
      const temps = await Promise.allSettled(puts.map((rec) => writeSyncedTemp(dir, serializeRecord(rec))));
      for (const t of temps) if (t.status === 'fulfilled') pending.add(t.value.tmp);
      const failed = temps.find((t): t is PromiseRejectedResult => t.status === 'rejected');
      if (failed) throw failed.reason;
      const ops: JournalOp[] = [];
      // Renames and unlinks are issued together (each waits in the thread pool behind other
      // commits' fsyncs; one after the other they added up), made durable by the directory fsync.
      const renamed = await Promise.allSettled(
        puts.map(async (rec, i) => {
          const { tmp, stats } = (temps[i] as PromiseFulfilledResult<Awaited<ReturnType<typeof writeSyncedTemp>>>)
            .value;
          await fsp.rename(tmp, recordPath(dir, rec.id));
          pending.delete(tmp);
          return putOp(rec, stats.mtimeMs, stats.size);
        }),
      );
      const renameFailed = renamed.find((t): t is PromiseRejectedResult => t.status === 'rejected');
      if (renameFailed) throw renameFailed.reason;
      for (const r of renamed) if (r.status === 'fulfilled') ops.push(r.value);
      await Promise.all(
        removals.map((id) =>
          fsp.unlink(recordPath(dir, id)).catch((e: unknown) => {
            if (errnoCode(e) !== 'ENOENT') throw e;
          }),
        ),
      );
      for (const id of removals) if (txn.index.has(id)) ops.push(['d', id]);
      await fsyncDir(dir);
      journal.appendLocked(ops);
    }
  } catch (e) {
    for (const tmp of pending) await fsp.unlink(tmp).catch(() => undefined);
    // Some records may be renamed or removed already: their entries are repaired under the next lock.
    journal.markForRepair([...txn.staged.keys(), ...txn.repairs]);
    throw e;
  }
  journal.repairLocked([...txn.repairs].filter((id) => !txn.staged.has(id)));
}

export interface GroupCommitOptions {
  dir: string;
  journal: JournalIndex;
  /** The index (loaded and up to date inside `withLock`). */
  index(): SortedIndex;
  /** Runs `fn` holding the store lock with the index up to date. */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  /** After each batch (e.g. to schedule a compaction). */
  afterBatch(): void;
  /** How long back-to-back batches keep the lock at most (ms; default HOLD_MAX_MS). */
  holdMaxMs?: number;
}

export class GroupCommitter {
  private queue: Queued[] = [];
  private draining = false;

  constructor(private readonly opts: GroupCommitOptions) {}

  /** Queues `plan`; resolves with its result once the batch it ran in is durable. */
  submit<T>(plan: Plan<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ plan, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) await this.runBatches();
    } finally {
      this.draining = false;
    }
  }

  /**
   * Runs batches under one hold of the lock: the next batch (the plans that arrived while one was
   * written) follows at once instead of releasing and taking the lock again, for at most
   * HOLD_MAX_MS and only after batches that succeeded (a failed one leaves repairs for the next
   * lock). A batch followed by another in the same hold settles at once; the last one settles once
   * the lock is released (as a lone mutation always did). Settles every plan taken from the queue;
   * never throws.
   */
  private async runBatches(): Promise<void> {
    let batch: Queued[] | undefined = this.queue.splice(0, MAX_BATCH);
    let settleLast: (() => void) | undefined;
    try {
      await this.opts.withLock(async () => {
        const until = Date.now() + (this.opts.holdMaxMs ?? HOLD_MAX_MS);
        for (;;) {
          const { ok, settle } = await this.runBatchLocked(batch!);
          batch = undefined;
          this.opts.afterBatch();
          if (!ok || this.queue.length === 0 || Date.now() >= until) {
            settleLast = settle;
            return;
          }
          settle();
          await this.opts.journal.syncLocked(); // what taking the lock again would do (cheap: nothing new)
          batch = this.queue.splice(0, MAX_BATCH);
        }
      });
    } catch (error) {
      // The lock could not be taken: the batch waiting for it fails.
      for (const item of batch ?? []) item.reject(error);
    } finally {
      settleLast?.();
    }
  }

  /** Runs one batch holding the lock; `ok` is false when its write failed. `settle` settles its plans. */
  private async runBatchLocked(batch: Queued[]): Promise<{ ok: boolean; settle: () => void }> {
    const outcomes: Array<{ ok: true; value: unknown; writes: boolean } | { ok: false; error: unknown }> = [];
    let failure: { error: unknown } | undefined;
    try {
      const txn = new BatchTransaction(this.opts.dir, this.opts.index());
      for (const item of batch) {
        try {
          outcomes.push({ ok: true, ...txn.run(item.plan) });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
      await writeBatch(this.opts.dir, this.opts.journal, txn);
    } catch (error) {
      failure = { error };
    }
    const settle = () => {
      for (const [i, item] of batch.entries()) {
        const outcome = outcomes[i];
        // A plan that never ran, or whose writes are not known to be durable, fails with the batch.
        if (failure && (!outcome || (outcome.ok && outcome.writes))) item.reject(failure.error);
        else if (outcome!.ok) item.resolve(outcome.value);
        else item.reject(outcome!.error);
      }
    };
    return { ok: failure === undefined, settle };
  }
}
