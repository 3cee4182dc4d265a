/**
 * Embedded, durable SessionStore: one pretty-printed JSON file per session under
 * `$CLINVK_HOME/sessions`, plus a derived index made of a snapshot (`index.json`) and an
 * append-only journal (`index.journal`).
 *
 * Layout
 * - `<id>.json`      the record (source of truth), written atomically (temp 0600 → fsync → rename →
 *                    fsync dir).
 * - `index.json`     snapshot `{"clinvk_index":1,"journal":J,"prev_journal":P,"entries":[op…]}` of
 *                    every session's index entry (id, backend, status, last_used, record mtime and
 *                    size), in list order; `journal` names the journal that continues it.
 * - `index.journal`  header line `{"clinvk_index":1,"id":J,"prev_id":P,"prev_len":L}` (random ids) followed by
 *                    one JSON array per mutation: `["p",id,backend,status,last_used,mtimeMs,size]`
 *                    (put), `["x",id,mtimeMs,size]` (record unreadable), `["d",id]` (delete).
 * - `store.lock`     proper-lockfile lock directory (cross-process mutual exclusion; a lock whose
 *                    holder died is taken over once its mtime is older than `lockStaleMs`).
 * - `.tmp-<random>`  in-flight atomic writes; leftovers older than one hour are removed at start-up.
 *
 * Every process keeps the index in memory and keeps the journal open. Before each read it stats the
 * journal and applies only the bytes appended since its last read (another process's writes become
 * visible without rereading anything else). A mutation, under the lock, writes one record and
 * appends one journal line: its cost does not depend on the number of sessions. When the journal
 * has more lines than max(compactMinLines, sessions), a background compaction (under the lock)
 * writes a new snapshot and replaces the journal by a fresh one whose header names the previous
 * journal and its final length, so that other processes that have read the whole old
 * journal (through their still-open descriptor) switch over without reloading the snapshot.
 *
 * The index is derived data: a missing/unparsable snapshot or journal, a journal that does not match
 * the snapshot, or a garbled journal line → rebuilt from the records (under the lock). After start-up
 * a background check stats every record file and compares it with the index (mtime/size);
 * differences (e.g. a writer killed between its record rename and its journal append, or files
 * edited by hand) are repaired from the records. A page read by `list` is checked against the index
 * too (a stale entry is repaired and the page recomputed), and an exact id unknown to the index is
 * looked up on disk. Mutations always read the record file itself, so a stale index never loses an
 * update.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as path from 'path';
import * as lockfile from 'proper-lockfile';
import { BACKEND_NAMES, type TokenUsage } from '../backends/types';
import { addUsage } from '../backends/usage';
import { Mutex } from '../lib/mutex';
import { sleep } from '../lib/sleep';
import { ApiError } from '../errors';
import type {
  ListFilter,
  ListPage,
  NewSession,
  SessionRecord,
  SessionStore,
  StoreHealth,
  TurnClaim,
  TurnOutcome,
} from './types';

export interface StoreLogger {
  warn(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  debug(msg: string, meta?: object): void;
}

export interface FileSessionStoreOptions {
  /** The sessions directory (`$CLINVK_HOME/sessions`). */
  dir: string;
  logger?: StoreLogger;
  /** Clock for record timestamps and claim staleness (tests). */
  now?: () => Date;
  /** Minimum journal lines before a compaction (default 5000; the threshold is max(this, sessions)). */
  compactMinLines?: number;
  /** How long a mutation waits for the cross-process lock before failing (default 30 000 ms). */
  lockTimeoutMs?: number;
  /** A lock not refreshed for this long belongs to a dead process and is taken over (default 10 000 ms, min 2000). */
  lockStaleMs?: number;
}

const RECORD_RE = /^([0-9a-f]{32}|[0-9a-f]{16})\.json$/;
const TMP_PREFIX = '.tmp-';
const SNAPSHOT_FILE = 'index.json';
const JOURNAL_FILE = 'index.journal';
const LOCK_FILE = 'store.lock';
const TMP_MAX_AGE_MS = 60 * 60 * 1000;
const INDEX_FORMAT = 1;
const BACKENDS: ReadonlySet<string> = new Set(BACKEND_NAMES);
const STATUSES: ReadonlySet<string> = new Set(['active', 'completed', 'error', 'paused']);
const INITIAL_PROMPT_MAX = 4096;
/** More journal lines than this in one read → re-sort once instead of per-entry inserts. */
const BULK_APPLY_LINES = 256;
/** Work items between event-loop yields during scans. */
const SCAN_CHUNK = 1000;
const INIT_RETRY_MS = 1000;
const PURGE_BATCH = 200;
/** Journal opened read-write in append mode, never created implicitly. */
const JOURNAL_OPEN_FLAGS = fs.constants.O_RDWR | fs.constants.O_APPEND;

const noopLogger: StoreLogger = { warn() {}, info() {}, debug() {} };

// ------------------------------------------------------------------------------------------------
// Index entries and journal operations

type PutOp = ['p', string, string, string, string, number, number];
type BadOp = ['x', string, number, number];
type DelOp = ['d', string];
type JournalOp = PutOp | BadOp | DelOp;

interface Entry {
  readonly id: string;
  readonly backend: string;
  readonly status: string;
  readonly lastUsed: string;
  /** `last_used` in epoch ms (sort key). */
  readonly lu: number;
  /** Record file mtimeMs and size when the entry was written (start-up consistency check). */
  readonly m: number;
  readonly z: number;
  /** The record could not be read/parsed: excluded from listing and counts, resolvable (→ 500). */
  readonly bad: boolean;
}

interface JournalHeader {
  /** Random id of this journal (never reused, unlike inode numbers or counters). */
  id: string;
  /** The journal this one replaced by a compaction (null after a rebuild). */
  prevId: string | null;
  /** Final length of that journal, i.e. what the matching snapshot contains. */
  prevLen: number;
  /** Byte length of the header line including its newline. */
  len: number;
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && (v.length === 32 || v.length === 16) && /^[0-9a-f]+$/.test(v);
}

function validOp(v: unknown): v is JournalOp {
  if (!Array.isArray(v)) return false;
  switch (v[0]) {
    case 'p':
      return (
        v.length === 7 &&
        isId(v[1]) &&
        BACKENDS.has(v[2]) &&
        STATUSES.has(v[3]) &&
        typeof v[4] === 'string' &&
        isNum(v[5]) &&
        isInt(v[6])
      );
    case 'x':
      return v.length === 4 && isId(v[1]) && isNum(v[2]) && isInt(v[3]);
    case 'd':
      return v.length === 2 && isId(v[1]);
    default:
      return false;
  }
}

function compareEntries(a: Entry, b: Entry): number {
  if (a.lu !== b.lu) return b.lu - a.lu;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The in-memory index of one process, plus its position in the journal. */
class IndexState {
  readonly entries = new Map<string, Entry>();
  /** Valid entries sorted by last_used desc, id asc (rebuilt lazily when `sortedDirty`). */
  sorted: Entry[] = [];
  sortedDirty = false;
  valid = 0;
  journalId = '';
  fd = -1;
  ino = -1;
  dev = -1;
  /** Journal bytes consumed (always at a line boundary). */
  offset = 0;
  /** Journal lines since the header. */
  lines = 0;
  /** The last read ended inside a line (an append in progress, or garbage left by a crash). */
  partial = false;

  /** Applies one operation; false (nothing changed) when its timestamp does not parse. */
  apply(op: JournalOp, bulk: boolean): boolean {
    const lu = op[0] === 'p' ? Date.parse(op[4]) : 0;
    if (!Number.isFinite(lu)) return false;
    if (bulk) this.sortedDirty = true;
    const id = op[1];
    const old = this.entries.get(id);
    if (old) {
      this.entries.delete(id);
      if (!old.bad) {
        this.valid--;
        if (!this.sortedDirty) this.removeSorted(old);
      }
    }
    if (op[0] === 'd') return true;
    const e: Entry =
      op[0] === 'p'
        ? { id, backend: op[2], status: op[3], lastUsed: op[4], lu, m: op[5], z: op[6], bad: false }
        : { id, backend: '', status: '', lastUsed: '', lu: 0, m: op[2], z: op[3], bad: true };
    this.entries.set(id, e);
    if (!e.bad) {
      this.valid++;
      if (!this.sortedDirty) this.sorted.splice(this.lowerBound(e), 0, e);
    }
    return true;
  }

  ensureSorted(): Entry[] {
    if (this.sortedDirty) {
      const arr: Entry[] = [];
      for (const e of this.entries.values()) if (!e.bad) arr.push(e);
      arr.sort(compareEntries);
      this.sorted = arr;
      this.sortedDirty = false;
    }
    return this.sorted;
  }

  private lowerBound(e: Entry): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareEntries(this.sorted[mid], e) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private removeSorted(e: Entry): void {
    const i = this.lowerBound(e);
    if (this.sorted[i] === e) this.sorted.splice(i, 1);
    else this.sortedDirty = true; // should not happen; recover by re-sorting
  }

  /** Entries in list order (so that loading sorts an already sorted array), then unreadable ones. */
  toSnapshot(journal: string, prevJournal: string | null): string {
    const parts: string[] = [];
    for (const e of this.ensureSorted())
      parts.push(JSON.stringify(['p', e.id, e.backend, e.status, e.lastUsed, e.m, e.z]));
    for (const e of this.entries.values()) if (e.bad) parts.push(JSON.stringify(['x', e.id, e.m, e.z]));
    const head = JSON.stringify({ clinvk_index: INDEX_FORMAT, journal, prev_journal: prevJournal }).slice(0, -1);
    return `${head},"entries":[\n${parts.join(',\n')}\n]}\n`;
  }
}

// ------------------------------------------------------------------------------------------------
// Records

type ReadResult =
  | { kind: 'ok'; rec: SessionRecord; m: number; z: number }
  | { kind: 'missing' }
  | { kind: 'corrupt'; reason: string; m: number; z: number };

const RECORD_KEYS = [
  'id',
  'backend',
  'created_at',
  'last_used',
  'working_dir',
  'backend_session_id',
  'model',
  'initial_prompt',
  'status',
  'turn_count',
  'token_usage',
  'tags',
  'title',
  'parent_id',
  'error_message',
  'metadata',
  'backend_cumulative_usage',
] as const;
const KNOWN_KEYS: ReadonlySet<string> = new Set<string>(RECORD_KEYS);
const OPTIONAL_STRINGS = [
  'backend_session_id',
  'model',
  'initial_prompt',
  'title',
  'parent_id',
  'error_message',
] as const;

function parseUsage(v: unknown): TokenUsage | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const n = (x: unknown): number => (isNum(x) && x > 0 ? Math.floor(x) : 0);
  const u: TokenUsage = { input_tokens: n(o.input_tokens), output_tokens: n(o.output_tokens) };
  if (o.cached_tokens !== undefined && o.cached_tokens !== null) u.cached_tokens = n(o.cached_tokens);
  if (o.reasoning_tokens !== undefined && o.reasoning_tokens !== null) u.reasoning_tokens = n(o.reasoning_tokens);
  return u;
}

/**
 * Parses and normalises a record file. Required: an object whose `id` is the file's id, a known
 * `backend` and `status`, and parseable `created_at`/`last_used`. Missing optional fields get their
 * defaults (legacy records); unknown fields are kept.
 */
export function parseRecord(text: string, id: string): SessionRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `invalid JSON: ${(e as Error).message}`;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o.id !== id) return 'id does not match the file name';
  if (typeof o.backend !== 'string' || !BACKENDS.has(o.backend)) return 'invalid backend';
  if (typeof o.status !== 'string' || !STATUSES.has(o.status)) return 'invalid status';
  for (const k of ['created_at', 'last_used'] as const) {
    if (typeof o[k] !== 'string' || !Number.isFinite(Date.parse(o[k] as string))) return `invalid ${k}`;
  }
  const rec: Record<string, unknown> = { ...o };
  rec.working_dir = typeof o.working_dir === 'string' ? o.working_dir : '';
  rec.turn_count = isInt(o.turn_count) && o.turn_count >= 0 ? o.turn_count : 0;
  rec.token_usage = parseUsage(o.token_usage) ?? { input_tokens: 0, output_tokens: 0 };
  rec.tags = Array.isArray(o.tags) ? o.tags.filter((t): t is string => typeof t === 'string') : [];
  for (const k of OPTIONAL_STRINGS) if (o[k] !== undefined && typeof o[k] !== 'string') delete rec[k];
  if (o.metadata !== undefined) {
    if (o.metadata && typeof o.metadata === 'object' && !Array.isArray(o.metadata)) {
      const md: Record<string, string> = {};
      for (const [k, val] of Object.entries(o.metadata as Record<string, unknown>))
        if (typeof val === 'string') md[k] = val;
      rec.metadata = md;
    } else delete rec.metadata;
  }
  if (o.backend_cumulative_usage !== undefined) {
    const u = parseUsage(o.backend_cumulative_usage);
    if (u) rec.backend_cumulative_usage = u;
    else delete rec.backend_cumulative_usage;
  }
  return rec as unknown as SessionRecord;
}

/** Pretty-printed JSON in the record key order (unknown legacy keys kept at the end). */
export function serializeRecord(rec: SessionRecord): string {
  const src = rec as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of RECORD_KEYS) if (src[k] !== undefined) out[k] = src[k];
  for (const k of Object.keys(src)) if (!KNOWN_KEYS.has(k) && src[k] !== undefined) out[k] = src[k];
  return `${JSON.stringify(out, null, 2)}\n`;
}

function truncateChars(s: string, max: number): string {
  if (s.length <= max) return s;
  const cps = Array.from(s);
  return cps.length <= max ? s : cps.slice(0, max).join('');
}

function putOp(rec: SessionRecord, m: number, z: number): PutOp {
  return ['p', rec.id, rec.backend, rec.status, rec.last_used, m, z];
}

function entryMatches(e: Entry | undefined, op: JournalOp): boolean {
  if (!e) return false;
  if (op[0] === 'p')
    return (
      !e.bad && e.backend === op[2] && e.status === op[3] && e.lastUsed === op[4] && e.m === op[5] && e.z === op[6]
    );
  if (op[0] === 'x') return e.bad && e.m === op[2] && e.z === op[3];
  return false;
}

// ------------------------------------------------------------------------------------------------
// Errors and small helpers

interface ErrnoLike {
  code?: unknown;
  syscall?: unknown;
  message: string;
}

/** Duck-typed (errors may come from another realm, e.g. under a test runner's VM context). */
function isErrorLike(e: unknown): e is ErrnoLike {
  return typeof e === 'object' && e !== null && typeof (e as ErrnoLike).message === 'string';
}

function isFsError(e: unknown): e is NodeJS.ErrnoException {
  return isErrorLike(e) && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code);
}

/** `ENOTDIR: not a directory (mkdir)` — the reason without the path. */
function describeError(e: unknown): string {
  if (!isErrorLike(e)) return String(e);
  const m = /^([A-Z]+): ([^,]+)/.exec(e.message);
  const syscall = typeof e.syscall === 'string' ? ` (${e.syscall})` : '';
  return m ? `${m[1]}: ${m[2]}${syscall}` : e.message;
}

function unavailable(reason: string): ApiError {
  return new ApiError('session_store_unavailable', `session store unavailable: ${reason}`);
}

function notFound(input: string): ApiError {
  return new ApiError('session_not_found', `session not found: ${input}`);
}

function internalError(): ApiError {
  return new ApiError('internal_error', 'internal server error');
}

/** Full ids only (16 or 32 lowercase hex): anything else can name no record (and no other path). */
function checkId(id: string): void {
  if (!isId(id)) throw notFound(id);
}

function busy(id: string): ApiError {
  return new ApiError('session_busy', `session ${id} is busy: a turn is already running`);
}

const newJournalId = (): string => randomBytes(8).toString('hex');
const yieldLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try {
    fs.closeSync(fd);
  } catch {
    /* already closed */
  }
}

/** Reads the journal header line of `fd`; undefined when absent or malformed. */
function readHeader(fd: number): JournalHeader | undefined {
  const buf = Buffer.alloc(512);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  const nl = buf.subarray(0, n).indexOf(10);
  if (nl < 0) return undefined;
  try {
    const h = JSON.parse(buf.toString('utf8', 0, nl)) as Record<string, unknown>;
    if (h.clinvk_index !== INDEX_FORMAT || typeof h.id !== 'string' || !h.id || !isInt(h.prev_len)) return undefined;
    if (h.prev_id !== null && typeof h.prev_id !== 'string') return undefined;
    return { id: h.id, prevId: h.prev_id, prevLen: h.prev_len, len: nl + 1 };
  } catch {
    return undefined;
  }
}

/**
 * Applies the complete journal lines appended after `s.offset`. Returns false when the journal
 * shrank or holds a garbled line (the index must then be reloaded/rebuilt).
 */
function readTail(s: IndexState): boolean {
  const size = fs.fstatSync(s.fd).size;
  if (size < s.offset) return false;
  if (size === s.offset) {
    s.partial = false;
    return true;
  }
  const len = size - s.offset;
  const buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const n = fs.readSync(s.fd, buf, got, len - got, s.offset + got);
    if (n === 0) break;
    got += n;
  }
  const last = buf.lastIndexOf(10, got - 1);
  if (last < 0) {
    s.partial = got > 0;
    return true;
  }
  const lines = buf.toString('utf8', 0, last).split('\n');
  const bulk = lines.length > BULK_APPLY_LINES;
  for (const line of lines) {
    if (line === '') continue;
    let op: unknown;
    try {
      op = JSON.parse(line);
    } catch {
      return false;
    }
    if (!validOp(op) || !s.apply(op, bulk)) return false;
    s.lines++;
  }
  s.offset += last + 1;
  s.partial = last + 1 < got;
  return true;
}

// ------------------------------------------------------------------------------------------------

export class FileSessionStore implements SessionStore {
  readonly dir: string;
  private readonly log: StoreLogger;
  private readonly now: () => Date;
  private readonly compactMinLines: number;
  private readonly lockTimeoutMs: number;
  private readonly lockStaleMs: number;
  private readonly snapshotPath: string;
  private readonly journalPath: string;
  private readonly lockPath: string;
  private readonly mutex = new Mutex();
  private readonly warned = new Set<string>();

  private s: IndexState | undefined;
  private ready = false;
  private closed = false;
  private lastError = 'not initialised';
  private lastInitAttempt = 0;
  private initPromise: Promise<void> | undefined;
  private compaction: Promise<void> | undefined;
  private reconciling: Promise<void> | undefined;
  /** Ids whose journal append failed after their record was written (repaired under the next lock). */
  private readonly pendingRepair = new Set<string>();
  /** The journal could not be re-read after an append: reload the index under the next lock. */
  private forceReload = false;

  private constructor(opts: FileSessionStoreOptions) {
    this.dir = path.resolve(opts.dir);
    this.log = opts.logger ?? noopLogger;
    this.now = opts.now ?? (() => new Date());
    this.compactMinLines = Math.max(1, opts.compactMinLines ?? 5000);
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 30_000;
    this.lockStaleMs = Math.max(2000, opts.lockStaleMs ?? 10_000);
    this.snapshotPath = path.join(this.dir, SNAPSHOT_FILE);
    this.journalPath = path.join(this.dir, JOURNAL_FILE);
    this.lockPath = path.join(this.dir, LOCK_FILE);
  }

  /** Opens (and creates, mode 0700) the store. Never throws: an unusable directory shows in `health()`. */
  static async open(opts: FileSessionStoreOptions): Promise<FileSessionStore> {
    const store = new FileSessionStore(opts);
    await store.tryInit(true);
    return store;
  }

  // ---------------------------------------------------------------------------------- public API

  async create(input: NewSession): Promise<SessionRecord> {
    return this.guard('create', async () => {
      await this.ensureReady();
      const rec = await this.withLock(async () => {
        const s = this.state();
        let id: string;
        do id = randomBytes(16).toString('hex');
        while (s.entries.has(id) || fs.existsSync(this.recordPath(id)));
        const now = this.now().toISOString();
        const r: SessionRecord = {
          id,
          backend: input.backend,
          created_at: now,
          last_used: now,
          working_dir: input.working_dir,
          status: input.status,
          turn_count: input.turn_count,
          token_usage: { input_tokens: 0, output_tokens: 0 },
          tags: [...input.tags],
        };
        if (input.model !== undefined) r.model = input.model;
        if (input.initial_prompt !== undefined)
          r.initial_prompt = truncateChars(input.initial_prompt, INITIAL_PROMPT_MAX);
        if (input.metadata && Object.keys(input.metadata).length > 0) r.metadata = { ...input.metadata };
        await this.writeRecordLocked(r);
        return r;
      });
      this.maybeCompact();
      return rec;
    });
  }

  async resolve(idOrPrefix: string): Promise<SessionRecord> {
    return this.guard('resolve', async () => {
      await this.ensureReady();
      if (!/^[0-9a-f]{1,32}$/.test(idOrPrefix)) throw notFound(idOrPrefix);
      await this.refresh();
      for (let attempt = 0; ; attempt++) {
        const id = await this.matchId(idOrPrefix);
        const r = this.readRecord(id);
        if (r.kind === 'ok') return r.rec;
        if (r.kind === 'corrupt') {
          this.warnCorrupt(id, r.reason);
          await this.withLock(() => this.repairLocked([id]));
          throw internalError();
        }
        // The index named a record that is gone (deleted meanwhile, or a stale entry).
        await this.withLock(() => this.repairLocked([id]));
        if (attempt >= 2) throw notFound(idOrPrefix);
      }
    });
  }

  async list(filter: ListFilter): Promise<ListPage> {
    return this.guard('list', async () => {
      await this.ensureReady();
      for (let attempt = 0; ; attempt++) {
        await this.refresh();
        const sorted = this.state().ensureSorted();
        const start = Math.max(0, filter.offset);
        const end = start + Math.max(0, filter.limit);
        let total = 0;
        const page: Entry[] = [];
        for (const e of sorted) {
          if (filter.backend !== undefined && e.backend !== filter.backend) continue;
          if (filter.status !== undefined && e.status !== filter.status) continue;
          if (total >= start && total < end) page.push(e);
          total++;
        }
        const sessions: SessionRecord[] = [];
        const stale: string[] = [];
        for (const e of page) {
          const r = this.readRecord(e.id);
          if (
            r.kind === 'ok' &&
            r.rec.backend === e.backend &&
            r.rec.status === e.status &&
            r.rec.last_used === e.lastUsed
          ) {
            sessions.push(r.rec);
          } else {
            if (r.kind === 'corrupt') this.warnCorrupt(e.id, r.reason);
            stale.push(e.id);
          }
        }
        if (stale.length === 0 || attempt >= 2) return { sessions, total };
        await this.withLock(() => this.repairLocked(stale));
      }
    });
  }

  async claimTurn(id: string, staleClaimMs: number): Promise<TurnClaim> {
    return this.guard('claimTurn', async () => {
      await this.ensureReady();
      checkId(id);
      const claim = await this.withLock(async () => {
        const rec = await this.readForUpdateLocked(id);
        const now = this.now();
        if (this.holdsValidClaim(rec, staleClaimMs, now)) throw busy(rec.id);
        const claim: TurnClaim = { id: rec.id, previousStatus: rec.status, previousLastUsed: rec.last_used };
        rec.status = 'active';
        rec.last_used = now.toISOString();
        claim.claimedAt = rec.last_used;
        await this.writeRecordLocked(rec);
        return claim;
      });
      this.maybeCompact();
      return claim;
    });
  }

  async releaseClaim(claim: TurnClaim): Promise<void> {
    return this.guard('releaseClaim', async () => {
      await this.ensureReady();
      if (!isId(claim.id)) return;
      await this.withLock(async () => {
        const r = this.readRecord(claim.id);
        if (r.kind !== 'ok') return;
        const rec = r.rec;
        if (rec.status !== 'active') return;
        if (claim.claimedAt !== undefined && rec.last_used !== claim.claimedAt) return; // claimed again since
        rec.status = claim.previousStatus;
        rec.last_used = claim.previousLastUsed;
        await this.writeRecordLocked(rec);
      });
      this.maybeCompact();
    });
  }

  async completeTurn(id: string, outcome: TurnOutcome, storeTokenUsage: boolean): Promise<SessionRecord> {
    return this.guard('completeTurn', async () => {
      await this.ensureReady();
      checkId(id);
      const rec = await this.withLock(async () => {
        const rec = await this.readForUpdateLocked(id);
        rec.turn_count += 1;
        if (outcome.backend_session_id) rec.backend_session_id = outcome.backend_session_id;
        if (storeTokenUsage && outcome.usage)
          rec.token_usage = addUsage(rec.token_usage, outcome.usage) ?? outcome.usage;
        if (outcome.backend_cumulative_usage) rec.backend_cumulative_usage = { ...outcome.backend_cumulative_usage };
        if (outcome.success) {
          rec.status = 'completed';
          delete rec.error_message;
        } else {
          rec.status = 'error';
          rec.error_message = outcome.error_message ?? 'turn failed';
        }
        if (outcome.model !== undefined) rec.model = outcome.model;
        await this.writeRecordLocked(rec);
        return rec;
      });
      this.maybeCompact();
      return rec;
    });
  }

  async delete(id: string, staleClaimMs: number): Promise<string> {
    return this.guard('delete', async () => {
      await this.ensureReady();
      checkId(id);
      const deleted = await this.withLock(async () => {
        const r = this.readRecord(id);
        if (r.kind === 'missing') {
          if (this.state().entries.has(id)) this.appendOps([['d', id]]);
          throw notFound(id);
        }
        if (r.kind === 'ok' && this.holdsValidClaim(r.rec, staleClaimMs, this.now())) throw busy(id);
        await this.removeRecordsLocked([id]);
        return id;
      });
      this.maybeCompact();
      return deleted;
    });
  }

  async discard(id: string): Promise<void> {
    return this.guard('discard', async () => {
      await this.ensureReady();
      if (!isId(id)) return;
      await this.withLock(() => this.removeRecordsLocked([id]));
      this.maybeCompact();
    });
  }

  async count(): Promise<number> {
    return this.guard('count', async () => {
      await this.ensureReady();
      await this.refresh();
      return this.state().valid;
    });
  }

  async health(): Promise<StoreHealth> {
    if (this.closed) return { available: false, session_count: 0, error: 'session store is closed' };
    if (!this.ready) await this.tryInit(true);
    if (!this.ready) return { available: false, session_count: 0, error: this.lastError };
    const dirError = await this.checkDir();
    if (dirError) {
      this.markUnavailable(dirError);
      return { available: false, session_count: 0, error: dirError };
    }
    try {
      await this.refresh();
      return { available: true, session_count: this.state().valid };
    } catch (e) {
      const reason = e instanceof ApiError ? e.message : describeError(e);
      return { available: false, session_count: 0, error: reason };
    }
  }

  async purgeOlderThan(cutoff: Date, staleClaimMs: number): Promise<number> {
    return this.guard('purgeOlderThan', async () => {
      await this.ensureReady();
      await this.refresh();
      const limit = cutoff.getTime();
      const candidates: string[] = [];
      for (const e of this.state().entries.values()) if (!e.bad && e.lu < limit) candidates.push(e.id);
      let removed = 0;
      for (let i = 0; i < candidates.length; i += PURGE_BATCH) {
        const batch = candidates.slice(i, i + PURGE_BATCH);
        removed += await this.withLock(async () => {
          const now = this.now();
          const doomed: string[] = [];
          const gone: JournalOp[] = [];
          for (const id of batch) {
            const r = this.readRecord(id);
            if (r.kind === 'missing') {
              if (this.state().entries.has(id)) gone.push(['d', id]);
              continue;
            }
            if (r.kind !== 'ok') continue; // an unreadable record is never deleted by retention
            if (!(Date.parse(r.rec.last_used) < limit)) continue;
            if (this.holdsValidClaim(r.rec, staleClaimMs, now)) continue;
            doomed.push(id);
          }
          if (gone.length) this.appendOps(gone);
          await this.removeRecordsLocked(doomed);
          return doomed.length;
        });
      }
      this.maybeCompact();
      return removed;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.idle();
    await this.mutex.run(async () => undefined);
    if (this.s) closeQuietly(this.s.fd);
    this.s = undefined;
    this.ready = false;
  }

  // ------------------------------------------------------------------------- initialisation

  private async tryInit(force: boolean): Promise<void> {
    if (this.ready || this.closed) return;
    if (this.initPromise) return this.initPromise;
    if (!force && Date.now() - this.lastInitAttempt < INIT_RETRY_MS) return;
    this.lastInitAttempt = Date.now();
    this.initPromise = this.init()
      .then(
        () => {
          this.ready = true;
          this.lastError = '';
        },
        (e: unknown) => {
          const reason =
            e instanceof ApiError ? e.message.replace(/^session store unavailable: /, '') : describeError(e);
          this.lastError = reason;
          this.log.warn('session store unavailable', { dir: this.dir, error: isErrorLike(e) ? e.message : String(e) });
        },
      )
      .finally(() => {
        this.initPromise = undefined;
      });
    return this.initPromise;
  }

  private async init(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const dirError = await this.checkDir();
    if (dirError) throw unavailable(dirError);
    await this.removeOldTemps();
    await this.withLock(async () => undefined); // loads (or rebuilds) the index
    for (const e of this.state().entries.values()) if (e.bad) this.warnCorrupt(e.id, 'unreadable record');
    // Checking every record file against the index costs one stat per session: done in the
    // background so that start-up does not wait for it (the loaded index is served meanwhile).
    this.reconciling = this.reconcile()
      .catch((e: unknown) =>
        this.log.warn('session index check failed', { error: isErrorLike(e) ? e.message : String(e) }),
      )
      .finally(() => {
        this.reconciling = undefined;
      });
  }

  /** Resolves once the start-up consistency check and any background compaction have finished. */
  async idle(): Promise<void> {
    while (this.reconciling || this.compaction) {
      await this.reconciling;
      await this.compaction;
    }
  }

  private async checkDir(): Promise<string | undefined> {
    try {
      const st = await fsp.stat(this.dir);
      if (!st.isDirectory()) return 'ENOTDIR: sessions path is not a directory';
      await fsp.access(this.dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
      return undefined;
    } catch (e) {
      return describeError(e);
    }
  }

  private markUnavailable(reason: string): void {
    if (this.ready) this.log.warn('session store became unavailable', { dir: this.dir, error: reason });
    this.ready = false;
    this.lastError = reason;
  }

  private async ensureReady(): Promise<void> {
    if (this.closed) throw unavailable('session store is closed');
    if (!this.ready) await this.tryInit(false);
    if (!this.ready) throw unavailable(this.lastError);
  }

  private async removeOldTemps(): Promise<void> {
    const cutoff = Date.now() - TMP_MAX_AGE_MS;
    for (const name of await fsp.readdir(this.dir)) {
      if (!name.startsWith(TMP_PREFIX)) continue;
      const p = path.join(this.dir, name);
      try {
        const st = await fsp.lstat(p);
        if (st.isFile() && st.mtimeMs < cutoff) {
          await fsp.unlink(p);
          this.log.info('removed leftover temporary file', { file: name });
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }

  /** Start-up consistency check: record files vs index entries (mtime/size); differences are repaired. */
  private async reconcile(): Promise<void> {
    const s = this.state();
    const names = await fsp.readdir(this.dir);
    const suspicious: string[] = [];
    const seen = new Set<string>();
    let n = 0;
    for (const name of names) {
      const m = RECORD_RE.exec(name);
      if (!m) continue;
      const id = m[1];
      seen.add(id);
      let st: fs.Stats;
      try {
        st = fs.statSync(path.join(this.dir, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const e = s.entries.get(id);
      if (!e || e.m !== st.mtimeMs || e.z !== st.size) suspicious.push(id);
      if (++n % SCAN_CHUNK === 0) await yieldLoop();
    }
    for (const id of s.entries.keys()) if (!seen.has(id)) suspicious.push(id);
    if (suspicious.length > 0) {
      this.log.info('session index out of date; repairing from the records', { entries: suspicious.length });
      await this.withLock(() => this.repairLocked(suspicious));
    }
  }

  // ------------------------------------------------------------------------------- locking

  private state(): IndexState {
    if (!this.s) throw unavailable(this.lastError || 'index not loaded');
    return this.s;
  }

  /** Runs `fn` holding the in-process mutex and the cross-process lock, with the index up to date. */
  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const release = await this.acquireLock();
      try {
        await this.syncLocked();
        return await fn();
      } finally {
        await release().catch((e: Error) => this.log.warn('session store lock release failed', { error: e.message }));
      }
    });
  }

  private async acquireLock(): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.lockTimeoutMs;
    let backoff = 1;
    for (;;) {
      try {
        return await lockfile.lock(this.dir, {
          realpath: false,
          lockfilePath: this.lockPath,
          stale: this.lockStaleMs,
          retries: 0,
          onCompromised: (err: Error) => this.log.warn('session store lock compromised', { error: err.message }),
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
        if (Date.now() >= deadline) throw unavailable('timed out waiting for the store lock');
        await sleep(1 + Math.random() * backoff);
        backoff = Math.min(backoff * 2, 20);
      }
    }
  }

  // ---------------------------------------------------------------------------- index sync

  /** Reader path: applies new journal lines; reloads under the lock when the journal was replaced or is damaged. */
  private async refresh(): Promise<void> {
    if (this.s && this.catchUp()) return;
    await this.withLock(async () => undefined);
  }

  /** Under the lock: index fully up to date (a trailing partial line here is garbage from a crash). */
  private async syncLocked(): Promise<void> {
    if (!(this.s && !this.forceReload && this.catchUp() && !this.s.partial)) {
      this.forceReload = false;
      await this.loadLocked();
    }
    if (this.pendingRepair.size > 0) {
      const ids = [...this.pendingRepair];
      this.pendingRepair.clear();
      await this.repairLocked(ids);
    }
  }

  /**
   * Synchronous catch-up with the journal. Returns false when a full reload is needed. When the
   * journal file was replaced by a compaction, the old descriptor is drained first; if this process
   * had then read exactly what the new snapshot contains, it switches to the new journal in place.
   */
  private catchUp(): boolean {
    const s = this.s;
    if (!s) return false;
    let st: fs.Stats;
    try {
      st = fs.statSync(this.journalPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    if (st.ino === s.ino && st.dev === s.dev) return readTail(s);
    if (!readTail(s) || s.partial) return false;
    let fd: number;
    try {
      fd = fs.openSync(this.journalPath, JOURNAL_OPEN_FLAGS);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    let switched = false;
    try {
      const h = readHeader(fd);
      if (h && h.prevId === s.journalId && h.prevLen === s.offset) {
        const nst = fs.fstatSync(fd);
        closeQuietly(s.fd);
        s.fd = fd;
        s.ino = nst.ino;
        s.dev = nst.dev;
        s.journalId = h.id;
        s.offset = h.len;
        s.lines = 0;
        s.partial = false;
        switched = true;
      }
    } finally {
      if (!switched) closeQuietly(fd);
    }
    return switched && readTail(s);
  }

  /** Under the lock: loads snapshot + journal, or rebuilds them from the records. */
  private async loadLocked(): Promise<void> {
    let snapshot: { journal: string; prevJournal: unknown; ops: unknown[] } | undefined;
    let reason = '';
    try {
      const v = JSON.parse(await fsp.readFile(this.snapshotPath, 'utf8')) as Record<string, unknown>;
      if (v && v.clinvk_index === INDEX_FORMAT && typeof v.journal === 'string' && Array.isArray(v.entries)) {
        snapshot = { journal: v.journal, prevJournal: v.prev_journal, ops: v.entries as unknown[] };
      } else reason = 'index snapshot is invalid';
    } catch (e) {
      if (isFsError(e) && e.code !== 'ENOENT') throw e;
      reason = isFsError(e) ? 'index snapshot is missing' : 'index snapshot is unreadable';
    }
    if (!snapshot)
      return this.rebuildLocked(reason, reason === 'index snapshot is missing' && !fs.existsSync(this.journalPath));

    let fd: number;
    try {
      fd = fs.openSync(this.journalPath, JOURNAL_OPEN_FLAGS);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.rebuildLocked('index journal is missing');
      throw e;
    }
    const ns = new IndexState();
    let installed = false;
    try {
      const h = readHeader(fd);
      if (!h) return await this.rebuildLocked('index journal header is unreadable');
      for (const op of snapshot.ops) {
        if (!validOp(op) || !ns.apply(op, true)) return await this.rebuildLocked('index snapshot is invalid');
      }
      if (h.id === snapshot.journal) {
        const st = fs.fstatSync(fd);
        ns.fd = fd;
        ns.ino = st.ino;
        ns.dev = st.dev;
        ns.journalId = h.id;
        ns.offset = h.len;
        if (!readTail(ns) || ns.partial) return await this.rebuildLocked('index journal is damaged');
        ns.ensureSorted();
        this.install(ns);
        installed = true;
        this.log.debug('session index loaded', { journal: ns.journalId, sessions: ns.valid });
        return;
      }
      if (h.id === snapshot.prevJournal) {
        // A compaction was interrupted after its snapshot: the snapshot already holds this journal.
        ns.ensureSorted();
        await this.installFreshJournalLocked(ns, snapshot.journal, null, -1);
        installed = true;
        return;
      }
      return await this.rebuildLocked('index journal does not match the snapshot');
    } finally {
      if (!installed || ns.fd !== fd) closeQuietly(fd);
    }
  }

  private install(ns: IndexState): void {
    const old = this.s;
    this.s = ns;
    if (old && old.fd !== ns.fd) closeQuietly(old.fd);
  }

  /** Under the lock: rebuilds the index from the record files (one scan). */
  private async rebuildLocked(reason: string, fresh = false): Promise<void> {
    const ns = new IndexState();
    let n = 0;
    for (const name of await fsp.readdir(this.dir)) {
      const m = RECORD_RE.exec(name);
      if (!m) continue;
      const r = this.readRecord(m[1]);
      if (r.kind === 'ok') ns.apply(putOp(r.rec, r.m, r.z), true);
      else if (r.kind === 'corrupt') {
        this.warnCorrupt(m[1], r.reason);
        ns.apply(['x', m[1], r.m, r.z], true);
      }
      if (++n % SCAN_CHUNK === 0) await yieldLoop();
    }
    ns.ensureSorted();
    // A new, empty store has no index yet: nothing to warn about.
    const quiet = fresh && ns.entries.size === 0;
    if (!quiet) this.log.warn('rebuilding the session index from the records', { dir: this.dir, reason });
    const journal = newJournalId();
    await this.writeAtomic(this.snapshotPath, ns.toSnapshot(journal, null));
    await this.installFreshJournalLocked(ns, journal, null, -1);
    if (quiet) this.log.debug('session index created', { dir: this.dir });
    else this.log.info('session index rebuilt', { sessions: ns.valid, unreadable: ns.entries.size - ns.valid });
  }

  /** Writes a new journal (header only) atomically and makes `ns` the current state using it. */
  private async installFreshJournalLocked(
    ns: IndexState,
    id: string,
    prevId: string | null,
    prevLen: number,
  ): Promise<void> {
    const header = `${JSON.stringify({ clinvk_index: INDEX_FORMAT, id, prev_id: prevId, prev_len: prevLen })}\n`;
    const tmp = this.tmpPath();
    const previousFd = ns.fd;
    let fd = -1;
    try {
      fd = fs.openSync(
        tmp,
        fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_EXCL,
        0o600,
      );
      fs.writeSync(fd, header);
      await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
      const st = fs.fstatSync(fd);
      // Rename and switch in one synchronous step so that no reader of this process sees a gap.
      fs.renameSync(tmp, this.journalPath);
      ns.fd = fd;
      ns.ino = st.ino;
      ns.dev = st.dev;
      ns.journalId = id;
      ns.offset = Buffer.byteLength(header);
      ns.lines = 0;
      ns.partial = false;
      fd = -1;
      this.install(ns);
      if (previousFd >= 0) closeQuietly(previousFd); // compaction of the current state
    } catch (e) {
      closeQuietly(fd);
      await fsp.unlink(tmp).catch(() => undefined);
      throw e;
    }
    await this.fsyncDir();
  }

  /** Schedules a background compaction when the journal has grown past max(compactMinLines, sessions). */
  private maybeCompact(): void {
    const s = this.s;
    if (!s || this.compaction || this.closed) return;
    if (s.lines < Math.max(this.compactMinLines, s.entries.size)) return;
    this.compaction = this.withLock(async () => {
      const cur = this.state();
      if (cur.lines < Math.max(this.compactMinLines, cur.entries.size)) return; // another process compacted
      const journal = newJournalId();
      await this.writeAtomic(this.snapshotPath, cur.toSnapshot(journal, cur.journalId));
      await this.installFreshJournalLocked(cur, journal, cur.journalId, cur.offset);
      this.log.debug('session index compacted', { journal, sessions: cur.valid });
    })
      .catch((e: unknown) =>
        this.log.warn('session index compaction failed', { error: isErrorLike(e) ? e.message : String(e) }),
      )
      .finally(() => {
        this.compaction = undefined;
      });
  }

  // ------------------------------------------------------------------------------- records

  private recordPath(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  private tmpPath(): string {
    return path.join(this.dir, `${TMP_PREFIX}${randomBytes(8).toString('hex')}`);
  }

  /** Reads a record without the lock (renames are atomic, so the file is always complete). */
  private readRecord(id: string): ReadResult {
    let fd: number;
    try {
      fd = fs.openSync(this.recordPath(id), 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
      if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP')
        return { kind: 'corrupt', reason: describeError(e), m: 0, z: 0 };
      throw e;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) return { kind: 'corrupt', reason: 'not a regular file', m: st.mtimeMs, z: st.size };
      const text = fs.readFileSync(fd, 'utf8');
      const rec = parseRecord(text, id);
      if (typeof rec === 'string') return { kind: 'corrupt', reason: rec, m: st.mtimeMs, z: st.size };
      return { kind: 'ok', rec, m: st.mtimeMs, z: st.size };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EISDIR' || code === 'EACCES') return { kind: 'corrupt', reason: describeError(e), m: 0, z: 0 };
      throw e;
    } finally {
      closeQuietly(fd);
    }
  }

  /** Under the lock: the current record, or session_not_found / internal_error. */
  private async readForUpdateLocked(id: string): Promise<SessionRecord> {
    const r = this.readRecord(id);
    if (r.kind === 'ok') return r.rec;
    await this.repairLocked([id]);
    if (r.kind === 'missing') throw notFound(id);
    this.warnCorrupt(id, r.reason);
    throw internalError();
  }

  private holdsValidClaim(rec: SessionRecord, staleClaimMs: number, now: Date): boolean {
    return rec.status === 'active' && Date.parse(rec.last_used) > now.getTime() - staleClaimMs;
  }

  private async writeRecordLocked(rec: SessionRecord): Promise<void> {
    const st = await this.writeAtomic(this.recordPath(rec.id), serializeRecord(rec));
    this.appendOps([putOp(rec, st.mtimeMs, st.size)]);
  }

  private async removeRecordsLocked(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const removed: string[] = [];
    try {
      for (const id of ids) {
        try {
          await fsp.unlink(this.recordPath(id));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
        removed.push(id);
      }
      await this.fsyncDir();
    } finally {
      const s = this.state();
      const ops: JournalOp[] = removed.filter((id) => s.entries.has(id)).map((id): DelOp => ['d', id]);
      if (ops.length) this.appendOps(ops);
    }
  }

  /** Under the lock: makes the index entries of `ids` match their record files. */
  private async repairLocked(ids: string[]): Promise<void> {
    const s = this.state();
    const ops: JournalOp[] = [];
    for (const id of new Set(ids)) {
      const e = s.entries.get(id);
      const r = this.readRecord(id);
      if (r.kind === 'missing') {
        if (e) ops.push(['d', id]);
      } else if (r.kind === 'corrupt') {
        this.warnCorrupt(id, r.reason);
        const op: BadOp = ['x', id, r.m, r.z];
        if (!entryMatches(e, op)) ops.push(op);
      } else {
        const op = putOp(r.rec, r.m, r.z);
        if (!entryMatches(e, op)) ops.push(op);
      }
    }
    if (ops.length) this.appendOps(ops);
  }

  /** Under the lock (index caught up): appends journal lines and applies them. */
  private appendOps(ops: JournalOp[]): void {
    const s = this.state();
    const data = Buffer.from(ops.map((op) => `${JSON.stringify(op)}\n`).join(''));
    let written = 0;
    try {
      while (written < data.length) written += fs.writeSync(s.fd, data, written, data.length - written);
    } catch (e) {
      // The records are already written: the index catches up under the next lock.
      for (const op of ops) this.pendingRepair.add(op[1]);
      throw e;
    }
    if (!readTail(s)) this.forceReload = true;
  }

  private async writeAtomic(target: string, data: string): Promise<fs.Stats> {
    const tmp = this.tmpPath();
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(tmp, 'wx', 0o600);
      await fh.writeFile(data);
      await fh.sync();
      const st = await fh.stat();
      await fh.close();
      fh = undefined;
      await fsp.rename(tmp, target);
      await this.fsyncDir();
      return st;
    } catch (e) {
      if (fh) await fh.close().catch(() => undefined);
      await fsp.unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  private async fsyncDir(): Promise<void> {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(this.dir, 'r');
      await fh.sync();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw e;
    } finally {
      if (fh) await fh.close().catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------------------- resolution

  /** Exact id wins; otherwise the unique id starting with the input. */
  private async matchId(input: string): Promise<string> {
    let s = this.state();
    if (s.entries.has(input)) return input;
    if ((input.length === 32 || input.length === 16) && fs.existsSync(this.recordPath(input))) {
      // A record the index does not know yet (written by a crashed process): index it.
      await this.withLock(() => this.repairLocked([input]));
      s = this.state();
      if (s.entries.has(input)) return input;
    }
    let found: string | undefined;
    let n = 0;
    for (const id of s.entries.keys()) {
      if (id.startsWith(input)) {
        n++;
        found = id;
      }
    }
    if (n === 0 || found === undefined) throw notFound(input);
    if (n > 1)
      throw new ApiError('ambiguous_session_id', `ambiguous session id prefix "${input}": matches ${n} sessions`);
    return found;
  }

  private warnCorrupt(id: string, reason: string): void {
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
        const reason = describeError(e);
        this.log.warn('session store I/O error', { op, error: e.message });
        const dirError = await this.checkDir();
        if (dirError) this.markUnavailable(dirError);
        throw unavailable(reason);
      }
      this.log.warn('session store internal error', {
        op,
        error: isErrorLike(e) ? ((e as { stack?: string }).stack ?? e.message) : String(e),
      });
      throw internalError();
    }
  }
}
