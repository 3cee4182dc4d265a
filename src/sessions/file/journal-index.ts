/**
 * The journal-backed index of one process: a snapshot (`index.json`) plus an append-only journal
 * (`index.journal`), kept in memory as a SortedIndex with a read position in the journal.
 *
 * Before each read the journal is stat'ed and only the bytes appended since the last read are
 * applied, so other processes' writes become visible without rereading anything else. Mutations
 * (under the store lock) append one line per changed record: their cost does not depend on the
 * number of sessions. When the journal has more lines than max(compactMinLines, sessions), a
 * compaction writes a new snapshot and replaces the journal by a fresh one whose header names the
 * previous journal and its final length, so that processes that have read the whole old journal
 * (through their still-open descriptor) switch over without reloading the snapshot.
 *
 * The index is derived data: a missing or unparsable snapshot or journal, a journal that does not
 * match the snapshot, or a garbled journal line → rebuilt from the record files (under the lock).
 */
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as path from 'path';
import { errnoCode } from '../../lib/errno';
import { isFsError } from '../../lib/fs-error';
import { yieldToEventLoop } from '../../lib/yield-to-event-loop';
import { storeUnavailable } from '../errors';
import { closeQuietly, fsyncDir, tempPath, writeFileAtomic } from './atomic-file';
import {
  formatHeader,
  formatOps,
  formatSnapshot,
  isJournalOp,
  newJournalId,
  parseSnapshot,
  putOp,
  readHeader,
  readTail,
  type JournalOp,
  type Snapshot,
  type TailChunk,
} from './journal';
import type { StoreLogger } from './options';
import { RECORD_FILE_RE, readRecordFile } from './record-file';
import { SortedIndex } from './sorted-index';

export const SNAPSHOT_FILE = 'index.json';
export const JOURNAL_FILE = 'index.journal';

/** More journal lines than this in one read → sort once instead of one insertion per entry. */
const BULK_APPLY_LINES = 256;
/** Work items between event-loop yields during scans of the directory. */
const SCAN_CHUNK = 1000;
/** The journal is opened read-write in append mode, never created implicitly. */
const JOURNAL_OPEN_FLAGS = fs.constants.O_RDWR | fs.constants.O_APPEND;

/** Where this process stands in the current journal. */
interface JournalCursor {
  fd: number;
  ino: number;
  dev: number;
  journalId: string;
  /** Journal bytes consumed (always at a line boundary). */
  offset: number;
  /** Journal lines since the header. */
  lines: number;
  /** The last read ended inside a line (an append in progress, or garbage left by a crash). */
  partial: boolean;
}

/** A SortedIndex and the journal position it reflects. */
class LoadedIndex {
  readonly index = new SortedIndex();
  readonly cursor: JournalCursor = { fd: -1, ino: -1, dev: -1, journalId: '', offset: 0, lines: 0, partial: false };

  /** Applies a tail read; false when the index must be reloaded. */
  applyTail(chunk: TailChunk): boolean {
    if (!chunk.ok) return false;
    const bulk = chunk.ops.length > BULK_APPLY_LINES;
    for (const op of chunk.ops) this.index.apply(op, bulk);
    this.cursor.lines += chunk.ops.length;
    this.cursor.offset += chunk.consumed;
    this.cursor.partial = chunk.partial;
    return true;
  }

  readTail(): boolean {
    return this.applyTail(readTail(this.cursor.fd, this.cursor.offset));
  }

  /** Points the cursor at the start of a journal open as `fd`. */
  attach(fd: number, stats: fs.Stats, journalId: string, offset: number): void {
    Object.assign(this.cursor, { fd, ino: stats.ino, dev: stats.dev, journalId, offset, lines: 0, partial: false });
  }
}

export interface JournalIndexOptions {
  dir: string;
  logger: StoreLogger;
  compactMinLines: number;
  /** Called for every record found unreadable (the store logs each id once). */
  onUnreadable(id: string, reason: string): void;
}

export class JournalIndex {
  private readonly dir: string;
  private readonly log: StoreLogger;
  private readonly snapshotPath: string;
  private readonly journalPath: string;
  private loaded: LoadedIndex | undefined;
  /** Ids whose journal append failed after their record was written (repaired under the next lock). */
  private readonly pendingRepair = new Set<string>();
  /** The journal could not be re-read after an append: reload under the next lock. */
  private forceReload = false;

  constructor(private readonly opts: JournalIndexOptions) {
    this.dir = opts.dir;
    this.log = opts.logger;
    this.snapshotPath = path.join(this.dir, SNAPSHOT_FILE);
    this.journalPath = path.join(this.dir, JOURNAL_FILE);
  }

  /** The index as last read (throws `session_store_unavailable` before the first load). */
  current(unavailableReason: string): SortedIndex {
    if (!this.loaded) throw storeUnavailable(unavailableReason || 'index not loaded');
    return this.loaded.index;
  }

  get isLoaded(): boolean {
    return this.loaded !== undefined;
  }

  close(): void {
    if (this.loaded) closeQuietly(this.loaded.cursor.fd);
    this.loaded = undefined;
  }

  /**
   * Reader path, synchronous: applies new journal lines. False when a reload under the lock is
   * needed. When the journal file was replaced by a compaction, the old descriptor is drained first;
   * if this process had then read exactly what the new snapshot contains, it switches to the new
   * journal in place.
   */
  catchUp(): boolean {
    const state = this.loaded;
    if (!state) return false;
    let st: fs.Stats;
    try {
      st = fs.statSync(this.journalPath);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return false;
      throw e;
    }
    const cursor = state.cursor;
    if (st.ino === cursor.ino && st.dev === cursor.dev) return state.readTail();
    if (!state.readTail() || cursor.partial) return false;
    let fd: number;
    try {
      fd = fs.openSync(this.journalPath, JOURNAL_OPEN_FLAGS);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return false;
      throw e;
    }
    let switched = false;
    try {
      const h = readHeader(fd);
      if (h && h.prevId === cursor.journalId && h.prevLen === cursor.offset) {
        const previousFd = cursor.fd;
        state.attach(fd, fs.fstatSync(fd), h.id, h.length);
        closeQuietly(previousFd);
        switched = true;
      }
    } finally {
      if (!switched) closeQuietly(fd);
    }
    return switched && state.readTail();
  }

  /** Under the lock: index fully up to date (a trailing partial line here is garbage from a crash). */
  async syncLocked(): Promise<void> {
    if (!(this.loaded && !this.forceReload && this.catchUp() && !this.loaded.cursor.partial)) {
      this.forceReload = false;
      await this.loadLocked();
    }
    if (this.pendingRepair.size > 0) {
      const ids = [...this.pendingRepair];
      this.pendingRepair.clear();
      this.repairLocked(ids);
    }
  }

  /** Under the lock (index caught up): appends journal lines and applies them. */
  appendLocked(ops: readonly JournalOp[]): void {
    if (ops.length === 0) return;
    const state = this.requireLoaded();
    const data = Buffer.from(formatOps(ops));
    let written = 0;
    try {
      while (written < data.length) written += fs.writeSync(state.cursor.fd, data, written, data.length - written);
    } catch (e) {
      // The records are already written: the index catches up under the next lock.
      for (const op of ops) this.pendingRepair.add(op[1]);
      throw e;
    }
    if (!state.readTail()) this.forceReload = true;
  }

  /** The entries of `ids` are repaired from their record files under the next lock (after a failed write). */
  markForRepair(ids: Iterable<string>): void {
    for (const id of ids) this.pendingRepair.add(id);
  }

  /** Under the lock: makes the entries of `ids` match their record files. */
  repairLocked(ids: Iterable<string>): void {
    const index = this.requireLoaded().index;
    const ops: JournalOp[] = [];
    for (const id of new Set(ids)) {
      const r = readRecordFile(this.dir, id);
      let op: JournalOp | undefined;
      if (r.kind === 'missing') op = index.has(id) ? ['d', id] : undefined;
      else if (r.kind === 'unreadable') {
        this.opts.onUnreadable(id, r.reason);
        op = ['x', id, r.mtimeMs, r.size];
      } else op = putOp(r.record, r.mtimeMs, r.size);
      if (op && !index.matches(op)) ops.push(op);
    }
    this.appendLocked(ops);
  }

  /**
   * Start-up consistency check (no lock): stats every record file and returns the ids whose index
   * entry does not match (mtime/size), or that have a file but no entry, or an entry but no file.
   */
  async findChangedRecords(): Promise<string[]> {
    const index = this.requireLoaded().index;
    const changed: string[] = [];
    const seen = new Set<string>();
    let n = 0;
    for (const name of await fsp.readdir(this.dir)) {
      const m = RECORD_FILE_RE.exec(name);
      if (!m) continue;
      const id = m[1];
      seen.add(id);
      let st: fs.Stats;
      try {
        st = fs.statSync(path.join(this.dir, name));
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue;
        throw e;
      }
      const e = index.get(id);
      if (!e || e.mtimeMs !== st.mtimeMs || e.size !== st.size) changed.push(id);
      if (++n % SCAN_CHUNK === 0) await yieldToEventLoop();
    }
    for (const id of index.ids()) if (!seen.has(id)) changed.push(id);
    return changed;
  }

  needsCompaction(): boolean {
    const state = this.loaded;
    return state !== undefined && state.cursor.lines >= Math.max(this.opts.compactMinLines, state.index.size);
  }

  /** Under the lock: a new snapshot and a fresh journal continuing it (unless another process compacted). */
  async compactLocked(): Promise<void> {
    if (!this.needsCompaction()) return;
    const state = this.requireLoaded();
    const journal = newJournalId();
    const { journalId, offset } = state.cursor;
    await writeFileAtomic(this.dir, this.snapshotPath, formatSnapshot(state.index.toOps(), journal, journalId));
    await this.installFreshJournalLocked(state, journal, journalId, offset);
    this.log.debug('session index compacted', { journal, sessions: state.index.readable });
  }

  private requireLoaded(): LoadedIndex {
    if (!this.loaded) throw storeUnavailable('index not loaded');
    return this.loaded;
  }

  /** Under the lock: loads snapshot + journal, or rebuilds them from the records. */
  private async loadLocked(): Promise<void> {
    let snapshot: Snapshot | undefined;
    let reason = '';
    try {
      snapshot = parseSnapshot(await fsp.readFile(this.snapshotPath, 'utf8'));
      if (!snapshot) reason = 'index snapshot is invalid';
    } catch (e) {
      if (isFsError(e) && e.code !== 'ENOENT') throw e;
      reason = isFsError(e) ? 'index snapshot is missing' : 'index snapshot is unreadable';
    }
    if (!snapshot) {
      return this.rebuildLocked(reason, reason === 'index snapshot is missing' && !fs.existsSync(this.journalPath));
    }

    let fd: number;
    try {
      fd = fs.openSync(this.journalPath, JOURNAL_OPEN_FLAGS);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return this.rebuildLocked('index journal is missing');
      throw e;
    }
    const state = new LoadedIndex();
    let installed = false;
    try {
      const h = readHeader(fd);
      if (!h) return await this.rebuildLocked('index journal header is unreadable');
      for (const op of snapshot.entries) {
        if (!isJournalOp(op)) return await this.rebuildLocked('index snapshot is invalid');
        state.index.apply(op, true);
      }
      if (h.id === snapshot.journal) {
        state.attach(fd, fs.fstatSync(fd), h.id, h.length);
        if (!state.readTail() || state.cursor.partial) return await this.rebuildLocked('index journal is damaged');
        state.index.ordered();
        this.install(state);
        installed = true;
        this.log.debug('session index loaded', { journal: h.id, sessions: state.index.readable });
        return;
      }
      if (h.id === snapshot.prevJournal) {
        // A compaction was interrupted after its snapshot: the snapshot already holds this journal.
        state.index.ordered();
        await this.installFreshJournalLocked(state, snapshot.journal, null, -1);
        installed = true;
        return;
      }
      return await this.rebuildLocked('index journal does not match the snapshot');
    } finally {
      if (!installed || state.cursor.fd !== fd) closeQuietly(fd);
    }
  }

  private install(state: LoadedIndex): void {
    const old = this.loaded;
    this.loaded = state;
    if (old && old.cursor.fd !== state.cursor.fd) closeQuietly(old.cursor.fd);
  }

  /** Under the lock: rebuilds the index from the record files (one scan). */
  private async rebuildLocked(reason: string, fresh = false): Promise<void> {
    const state = new LoadedIndex();
    let n = 0;
    for (const name of await fsp.readdir(this.dir)) {
      const m = RECORD_FILE_RE.exec(name);
      if (!m) continue;
      const r = readRecordFile(this.dir, m[1]);
      if (r.kind === 'ok') state.index.apply(putOp(r.record, r.mtimeMs, r.size), true);
      else if (r.kind === 'unreadable') {
        this.opts.onUnreadable(m[1], r.reason);
        state.index.apply(['x', m[1], r.mtimeMs, r.size], true);
      }
      if (++n % SCAN_CHUNK === 0) await yieldToEventLoop();
    }
    state.index.ordered();
    // A new, empty store has no index yet: nothing to warn about.
    const quiet = fresh && state.index.size === 0;
    if (!quiet) this.log.warn('rebuilding the session index from the records', { dir: this.dir, reason });
    const journal = newJournalId();
    await writeFileAtomic(this.dir, this.snapshotPath, formatSnapshot(state.index.toOps(), journal, null));
    await this.installFreshJournalLocked(state, journal, null, -1);
    if (quiet) this.log.debug('session index created', { dir: this.dir });
    else {
      const unreadable = state.index.size - state.index.readable;
      this.log.info('session index rebuilt', { sessions: state.index.readable, unreadable });
    }
  }

  /** Writes a new journal (header only) atomically and makes `state` current, reading from it. */
  private async installFreshJournalLocked(
    state: LoadedIndex,
    id: string,
    prevId: string | null,
    prevLen: number,
  ): Promise<void> {
    const header = formatHeader(id, prevId, prevLen);
    const tmp = tempPath(this.dir);
    const previousFd = state.cursor.fd;
    let fd = -1;
    try {
      const flags = fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_EXCL;
      fd = fs.openSync(tmp, flags, 0o600);
      fs.writeSync(fd, header);
      await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
      const st = fs.fstatSync(fd);
      // Rename and switch in one synchronous step so that no reader of this process sees a gap.
      fs.renameSync(tmp, this.journalPath);
      state.attach(fd, st, id, Buffer.byteLength(header));
      fd = -1;
      this.install(state);
      if (previousFd >= 0) closeQuietly(previousFd); // compaction of the current state
    } catch (e) {
      closeQuietly(fd);
      await fsp.unlink(tmp).catch(() => undefined);
      throw e;
    }
    await fsyncDir(this.dir);
  }
}
