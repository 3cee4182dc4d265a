/**
 * The embedded, durable SessionStore: one JSON file per session under `$CLINVK_HOME/sessions`
 * (written atomically), a derived journal-backed index and a cross-process lock; the files and
 * their crash guarantees are described in docs/architecture.md and src/sessions/README.md.
 *
 * Mutations are read-modify-writes of record files under the lock, grouped into batches (one lock
 * hold, one directory fsync) by group-commit.ts; readers never take the lock. A background check
 * after start-up repairs index entries that differ from their record files, and releases claims of
 * dead processes. Pages read by `list` are checked against the index too, and an exact id unknown
 * to the index is looked up on disk: a stale index never loses an update.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as path from 'path';
import { ApiError } from '../../errors';
import { errorMessage } from '../../lib/error-message';
import { describeFsError, isFsError } from '../../lib/fs-error';
import { ambiguousSessionId, sessionBusy, sessionNotFound, storeInternalError, storeUnavailable } from '../errors';
import {
  claimedByDeadProcess,
  claimRecord,
  completeRecord,
  holdsValidClaim,
  newRecord,
  recordInterruptedTurn,
  releaseRecord,
  type HolderCheck,
} from '../transitions';
import { currentProcessIdentity, isProvablyDead } from '../../lib/process-identity';
import type {
  ClaimHolder,
  ListFilter,
  ListPage,
  NewSession,
  SessionRecord,
  SessionStore,
  StoreHealth,
  TurnClaim,
  TurnOutcome,
} from '../types';
import { removeOldTemps } from './atomic-file';
import { GroupCommitter, type Plan, type Transaction } from './group-commit';
import { JournalIndex } from './journal-index';
import { StoreLock } from './lock';
import { Readiness } from './readiness';
import { silentLogger, type FileSessionStoreOptions, type StoreLogger } from './options';
import { isSessionId } from './record-codec';
import { RecordCache } from './record-cache';
import { readRecordFile, recordPath } from './record-file';
import type { SortedIndex } from './sorted-index';

const LOCK_FILE = 'store.lock';
const TMP_MAX_AGE_MS = 60 * 60 * 1000;
/** Sessions deleted per lock hold by retention. */
const PURGE_BATCH = 200;
/** Records kept by the list cache (a few pages of the largest size). */
const RECORD_CACHE_SIZE = 2000;

export class FileSessionStore implements SessionStore {
  readonly dir: string;
  private readonly log: StoreLogger;
  private readonly now: () => Date;
  /** This process, recorded with its claims. */
  private readonly holder: ClaimHolder;
  private readonly isDead: HolderCheck;
  private readonly lock: StoreLock;
  private readonly index: JournalIndex;
  private readonly commits: GroupCommitter;
  /** Records read by `list`, reused while their index entry and the directory are unchanged. */
  private readonly records: RecordCache;
  /** Ids already reported unreadable (each is logged once). */
  private readonly warned = new Set<string>();

  private readonly state: Readiness;
  private compaction: Promise<void> | undefined;
  private reconciling: Promise<void> | undefined;

  private constructor(opts: FileSessionStoreOptions) {
    this.dir = path.resolve(opts.dir);
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? (() => new Date());
    this.holder = opts.holder ?? currentProcessIdentity();
    this.isDead = opts.isHolderDead ?? isProvablyDead;
    this.state = new Readiness(this.dir, this.log, () => this.init());
    this.lock = new StoreLock({
      dir: this.dir,
      lockPath: path.join(this.dir, LOCK_FILE),
      timeoutMs: opts.lockTimeoutMs ?? 30_000,
      staleMs: Math.max(2000, opts.lockStaleMs ?? 10_000),
      logger: this.log,
      holder: this.holder,
      isHolderDead: this.isDead,
    });
    this.index = new JournalIndex({
      dir: this.dir,
      logger: this.log,
      compactMinLines: Math.max(1, opts.compactMinLines ?? 5000),
      onUnreadable: (id, reason) => this.warnUnreadable(id, reason),
    });
    this.records = new RecordCache(this.dir, RECORD_CACHE_SIZE);
    this.commits = new GroupCommitter({
      dir: this.dir,
      journal: this.index,
      index: () => this.sessions(),
      withLock: (fn) => this.withLock(fn),
      afterBatch: () => this.maybeCompact(),
    });
  }

  /** Opens (and creates, mode 0700) the store. Never throws: an unusable directory shows in `health()`. */
  static async open(opts: FileSessionStoreOptions): Promise<FileSessionStore> {
    const store = new FileSessionStore(opts);
    await store.state.tryInit(true);
    return store;
  }

  // ---------------------------------------------------------------------------------- public API

  async create(input: NewSession): Promise<SessionRecord> {
    return this.mutation('create', (txn) => {
      let id: string;
      do id = randomBytes(16).toString('hex');
      while (txn.exists(id));
      const rec = newRecord(id, input, this.now(), this.holder);
      txn.put(rec);
      return rec;
    });
  }

  async resolve(idOrPrefix: string, owner?: string): Promise<SessionRecord> {
    return this.guard('resolve', async () => {
      await this.state.ensureReady();
      if (!/^[0-9a-f]{1,32}$/.test(idOrPrefix)) throw sessionNotFound(idOrPrefix);
      await this.refresh();
      for (let attempt = 0; ; attempt++) {
        const id = await this.matchId(idOrPrefix, owner);
        const r = readRecordFile(this.dir, id);
        // The record file is the truth: an index entry naming another owner is stale (repaired below).
        if (r.kind === 'ok' && (owner === undefined || r.record.owner === owner)) return r.record;
        // Unreadable, or gone (deleted meanwhile, or a stale entry): bring the entry up to date.
        await this.withLock(async () => this.index.repairLocked([id]));
        if (r.kind === 'unreadable') {
          this.warnUnreadable(id, r.reason);
          throw storeInternalError();
        }
        if (attempt >= 2) throw sessionNotFound(idOrPrefix);
      }
    });
  }

  async list(filter: ListFilter): Promise<ListPage> {
    return this.guard('list', async () => {
      await this.state.ensureReady();
      for (let attempt = 0; ; attempt++) {
        await this.refresh();
        const { page, total } = this.sessions().page(filter);
        const sessions: SessionRecord[] = [];
        const stale: string[] = [];
        const cached = this.records.lookup(page);
        for (const [i, e] of page.entries()) {
          const hit = cached[i];
          if (hit) {
            sessions.push(hit);
            continue;
          }
          const r = readRecordFile(this.dir, e.id);
          const rec = r.kind === 'ok' ? r.record : undefined;
          if (
            rec &&
            rec.backend === e.backend &&
            rec.status === e.status &&
            rec.last_used === e.lastUsed &&
            rec.owner === e.owner
          ) {
            sessions.push(rec);
            if (r.kind === 'ok') this.records.set(e, rec, r.mtimeMs, r.size);
          } else {
            if (r.kind === 'unreadable') this.warnUnreadable(e.id, r.reason);
            stale.push(e.id);
          }
        }
        if (stale.length === 0 || attempt >= 2) return { sessions, total };
        await this.withLock(async () => this.index.repairLocked(stale));
      }
    });
  }

  async claimTurn(id: string, staleClaimMs: number): Promise<TurnClaim> {
    return this.mutation(
      'claimTurn',
      (txn) => {
        const rec = this.readForUpdate(txn, id);
        const now = this.now();
        if (claimedByDeadProcess(rec, this.isDead)) this.releaseDeadClaim(rec);
        if (holdsValidClaim(rec, staleClaimMs, now)) throw sessionBusy(rec.id);
        const claim = claimRecord(rec, now, this.holder);
        txn.put(rec);
        return claim;
      },
      id,
    );
  }

  async releaseClaim(claim: TurnClaim): Promise<void> {
    if (!isSessionId(claim.id)) return this.guard('releaseClaim', () => this.state.ensureReady());
    return this.mutation('releaseClaim', (txn) => {
      const r = txn.read(claim.id);
      if (r.kind === 'ok' && releaseRecord(r.record, claim)) txn.put(r.record);
    });
  }

  async completeTurn(id: string, outcome: TurnOutcome, storeTokenUsage: boolean): Promise<SessionRecord> {
    return this.mutation(
      'completeTurn',
      (txn) => {
        const rec = this.readForUpdate(txn, id);
        completeRecord(rec, outcome, storeTokenUsage);
        txn.put(rec);
        return rec;
      },
      id,
    );
  }

  async delete(id: string, staleClaimMs: number): Promise<string> {
    return this.mutation(
      'delete',
      (txn) => {
        const r = txn.read(id);
        if (r.kind === 'missing') {
          txn.repair(id);
          throw sessionNotFound(id);
        }
        if (r.kind === 'ok' && holdsValidClaim(r.record, staleClaimMs, this.now(), this.isDead)) throw sessionBusy(id);
        txn.remove(id);
        return id;
      },
      id,
    );
  }

  async discard(id: string): Promise<void> {
    if (!isSessionId(id)) return this.guard('discard', () => this.state.ensureReady());
    return this.mutation('discard', (txn) => txn.remove(id));
  }

  async count(): Promise<number> {
    return this.guard('count', async () => {
      await this.state.ensureReady();
      await this.refresh();
      return this.sessions().readable;
    });
  }

  async health(): Promise<StoreHealth> {
    if (this.state.closed) return { available: false, session_count: 0, error: 'session store is closed' };
    if (!this.state.ready) await this.state.tryInit(true);
    if (!this.state.ready) return { available: false, session_count: 0, error: this.state.lastError };
    const dirError = await this.state.checkDir();
    if (dirError) {
      this.state.markUnavailable(dirError);
      return { available: false, session_count: 0, error: dirError };
    }
    try {
      await this.refresh();
      return { available: true, session_count: this.sessions().readable };
    } catch (e) {
      const reason = e instanceof ApiError ? e.message : describeFsError(e);
      return { available: false, session_count: 0, error: reason };
    }
  }

  async purgeOlderThan(cutoff: Date, staleClaimMs: number): Promise<number> {
    return this.guard('purgeOlderThan', async () => {
      await this.state.ensureReady();
      await this.refresh();
      const limit = cutoff.getTime();
      const candidates: string[] = [];
      for (const e of this.sessions().entries()) if (!e.unreadable && e.lastUsedMs < limit) candidates.push(e.id);
      let removed = 0;
      for (let i = 0; i < candidates.length; i += PURGE_BATCH) {
        const batch = candidates.slice(i, i + PURGE_BATCH);
        removed += await this.commits.submit((txn) => {
          const now = this.now();
          let n = 0;
          for (const id of batch) {
            const r = txn.read(id);
            if (r.kind === 'missing') txn.repair(id);
            if (r.kind !== 'ok') continue; // an unreadable record is never deleted by retention
            if (!(Date.parse(r.record.last_used) < limit)) continue;
            if (holdsValidClaim(r.record, staleClaimMs, now, this.isDead)) continue;
            txn.remove(id);
            n++;
          }
          return n;
        });
      }
      return removed;
    });
  }

  async close(): Promise<void> {
    if (this.state.closed) return;
    this.state.closed = true;
    await this.idle();
    await this.lock.drain();
    this.index.close();
    this.records.clear();
    this.state.ready = false;
  }

  /** Resolves once the start-up consistency check and any background compaction have finished. */
  async idle(): Promise<void> {
    while (this.reconciling || this.compaction) {
      await this.reconciling;
      await this.compaction;
    }
  }

  // ------------------------------------------------------------------------- initialisation

  private async init(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const dirError = await this.state.checkDir();
    if (dirError) throw storeUnavailable(dirError);
    await removeOldTemps(this.dir, TMP_MAX_AGE_MS, (file) =>
      this.log.info('removed leftover temporary file', { file }),
    );
    await this.withLock(async () => undefined); // loads (or rebuilds) the index
    for (const e of this.sessions().entries()) if (e.unreadable) this.warnUnreadable(e.id, 'unreadable record');
    // Checking every record file against the index costs one stat per session: done in the
    // background so that start-up does not wait for it (the loaded index is served meanwhile).
    this.reconciling = this.reconcile()
      .catch((e: unknown) => this.log.warn('session index check failed', { error: errorMessage(e) }))
      .finally(() => {
        this.reconciling = undefined;
      });
  }

  private async reconcile(): Promise<void> {
    const changed = await this.index.findChangedRecords();
    if (changed.length > 0) {
      this.log.info('session index out of date; repairing from the records', { entries: changed.length });
      await this.withLock(async () => this.index.repairLocked(changed));
    }
    await this.releaseDeadClaims();
  }

  /**
   * Start-up: the turns of sessions claimed by processes that are provably dead (a previous
   * incarnation killed with its turns running) are recorded as interrupted, so that these sessions
   * accept a turn at once instead of after the stale-claim time.
   */
  private async releaseDeadClaims(): Promise<void> {
    const candidates: string[] = [];
    for (const e of this.sessions().entries()) {
      if (e.status !== 'active') continue;
      const r = readRecordFile(this.dir, e.id);
      if (r.kind === 'ok' && claimedByDeadProcess(r.record, this.isDead)) candidates.push(e.id);
    }
    if (candidates.length === 0) return;
    await this.commits.submit((txn) => {
      for (const id of candidates) {
        const r = txn.read(id);
        if (r.kind !== 'ok' || !claimedByDeadProcess(r.record, this.isDead)) continue;
        this.releaseDeadClaim(r.record);
        txn.put(r.record);
      }
    });
  }

  /** Records the interrupted turn of a dead claim holder (in place; the caller writes the record). */
  private releaseDeadClaim(rec: SessionRecord): void {
    this.log.info('session claim of a dead process released; its turn is recorded as interrupted', {
      session_id: rec.id,
      holder_pid: rec.claimed_by?.pid,
    });
    recordInterruptedTurn(rec);
  }

  // ---------------------------------------------------------------------- locking and index

  /** The index as last read. */
  private sessions(): SortedIndex {
    return this.index.current(this.state.lastError);
  }

  /** Runs `fn` holding the store lock, with the index up to date. */
  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      await this.index.syncLocked();
      return fn();
    });
  }

  /**
   * A mutation: `plan` runs in the next group commit (a full session id is required: anything else
   * can name no record, and no other path). Resolves once its changes are durable.
   */
  private mutation<T>(op: string, plan: Plan<T>, id?: string): Promise<T> {
    return this.guard(op, async () => {
      await this.state.ensureReady();
      if (id !== undefined && !isSessionId(id)) throw sessionNotFound(id);
      return this.commits.submit(plan);
    });
  }

  /** Reader path: applies new journal lines; reloads under the lock when the journal was replaced or is damaged. */
  private async refresh(): Promise<void> {
    if (this.index.isLoaded && this.index.catchUp()) return;
    await this.withLock(async () => undefined);
  }

  /** Schedules a background compaction when the journal has grown past max(compactMinLines, sessions). */
  private maybeCompact(): void {
    if (this.compaction || this.state.closed || !this.index.needsCompaction()) return;
    this.compaction = this.withLock(() => this.index.compactLocked())
      .catch((e: unknown) => this.log.warn('session index compaction failed', { error: errorMessage(e) }))
      .finally(() => {
        this.compaction = undefined;
      });
  }

  // ------------------------------------------------------------------------------- records

  /** In a plan: the current record, or session_not_found / internal_error. */
  private readForUpdate(txn: Transaction, id: string): SessionRecord {
    const r = txn.read(id);
    if (r.kind === 'ok') return r.record;
    txn.repair(id);
    if (r.kind === 'missing') throw sessionNotFound(id);
    this.warnUnreadable(id, r.reason);
    throw storeInternalError();
  }

  // ---------------------------------------------------------------------------- resolution

  /**
   * Exact id wins; otherwise the unique id starting with the input. With `owner`, other owners'
   * sessions are not there at all (not found, and not counted as prefix matches).
   */
  private async matchId(input: string, owner: string | undefined): Promise<string> {
    if (this.sessions().visibleTo(input, owner)) return input;
    if (!this.sessions().has(input) && isSessionId(input) && fs.existsSync(recordPath(this.dir, input))) {
      // A record the index does not know yet (written by a crashed process): index it.
      await this.withLock(async () => this.index.repairLocked([input]));
      if (this.sessions().visibleTo(input, owner)) return input;
    }
    const match = this.sessions().findByPrefix(input, owner);
    if (match.count === 0) throw sessionNotFound(input);
    if (match.count > 1) throw ambiguousSessionId(input, match.count);
    return match.id;
  }

  private warnUnreadable(id: string, reason: string): void {
    if (this.warned.has(id)) return;
    this.warned.add(id);
    this.log.warn('session record is unreadable; skipped', { id, reason });
  }

  /** Maps failures to the store's typed errors (I/O → session_store_unavailable). */
  private async guard<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ApiError) throw e;
      if (isFsError(e)) {
        this.log.warn('session store I/O error', { op, error: e.message });
        const dirError = await this.state.checkDir();
        if (dirError) this.state.markUnavailable(dirError);
        throw storeUnavailable(describeFsError(e));
      }
      const detail = (e as { stack?: string } | null)?.stack ?? errorMessage(e);
      this.log.warn('session store internal error', { op, error: detail });
      throw storeInternalError();
    }
  }
}
