/**
 * The SessionStore on PostgreSQL (table `sessions`, docs/postgres.md): every process pointed at the
 * same database and schema serves the same sessions.
 *
 * - The claim of a turn is one conditional `UPDATE … RETURNING` (it succeeds unless a valid claim is
 *   held); when it changes no row, a lookup decides between 404 (no such session) and 409 (busy).
 * - Completion, the release of a claim and the recording of a dead holder's turn are
 *   read-modify-writes of one row under its row lock (`SELECT … FOR UPDATE`), so concurrent
 *   processes lose no update.
 * - Lists filter, sort (last_used descending, then id) and count in one statement; a prefix lookup
 *   is a range scan of the primary key.
 * - The database unreachable → `session_store_unavailable`; the pool reconnects by itself.
 */
import { randomBytes } from 'crypto';
import type { PoolClient } from 'pg';
import { DatabaseUnavailable, MigrationError, describeDbError, isConnectionError } from '../../db/postgres';
import type { PostgresDatabase } from '../../db/postgres';
import { ApiError } from '../../errors';
import { currentProcessIdentity, isProvablyDead, parseProcessIdentity } from '../../lib/process-identity';
import { ambiguousSessionId, sessionBusy, sessionNotFound, storeInternalError, storeUnavailable } from '../errors';
import {
  claimedByDeadProcess,
  completeRecord,
  newRecord,
  recordInterruptedTurn,
  type HolderCheck,
} from '../transitions';
import type {
  ClaimHolder,
  ListFilter,
  ListPage,
  NewSession,
  SessionRecord,
  SessionStatus,
  SessionStore,
  StoreHealth,
  TurnClaim,
  TurnOutcome,
} from '../types';

export interface PostgresSessionStoreOptions {
  db: PostgresDatabase;
  logger?: { warn(msg: string, meta?: object): void; info(msg: string, meta?: object): void };
  /** Clock for record timestamps and claim staleness (tests). */
  now?: () => Date;
  /** The process recorded with this store's claims (default: this process). */
  holder?: ClaimHolder;
  /** Whether a claim holder is provably dead (default: same host and boot, pid gone or reused). */
  isHolderDead?: HolderCheck;
}

interface Row {
  id: string;
  backend: string;
  owner: string | null;
  status: string;
  created_at: Date;
  last_used: Date;
  claimed_by: unknown;
  data: Record<string, unknown>;
}

const COLUMNS = 'id, backend, owner, status, created_at, last_used, claimed_by, data';
/** Fields kept in `data` (the rest of the record is in columns), in the record's key order. */
const DATA_KEYS = [
  'working_dir',
  'backend_session_id',
  'model',
  'initial_prompt',
  'turn_count',
  'token_usage',
  'tags',
  'title',
  'parent_id',
  'error_message',
  'metadata',
  'backend_cumulative_usage',
  'node',
] as const;
const COLUMN_KEYS: ReadonlySet<string> = new Set([
  'id',
  'backend',
  'owner',
  'status',
  'created_at',
  'last_used',
  'claimed_by',
]);

/** A full session id (32 hex, or a legacy 16-hex id): anything else names no row. */
function isSessionId(v: string): boolean {
  return (v.length === 32 || v.length === 16) && /^[0-9a-f]+$/.test(v);
}

/** The record of a row, in the documented key order. */
function toRecord(row: Row): SessionRecord {
  const d = row.data;
  const rec: Record<string, unknown> = {
    id: row.id,
    backend: row.backend,
    created_at: row.created_at.toISOString(),
    last_used: row.last_used.toISOString(),
  };
  const put = (k: string, v: unknown): void => {
    if (v !== undefined && v !== null) rec[k] = v;
  };
  put('working_dir', d.working_dir ?? '');
  put('backend_session_id', d.backend_session_id);
  put('model', d.model);
  put('initial_prompt', d.initial_prompt);
  rec.status = row.status;
  put('turn_count', d.turn_count ?? 0);
  put('token_usage', d.token_usage ?? { input_tokens: 0, output_tokens: 0 });
  put('tags', d.tags ?? []);
  for (const k of ['title', 'parent_id', 'error_message', 'metadata', 'backend_cumulative_usage', 'node'] as const)
    put(k, d[k]);
  const holder = parseProcessIdentity(row.claimed_by);
  if (holder) rec.claimed_by = holder;
  if (row.owner !== null) rec.owner = row.owner;
  for (const [k, v] of Object.entries(d)) if (!(k in rec) && v !== undefined && v !== null) rec[k] = v;
  return rec as unknown as SessionRecord;
}

/** The `data` column of a record: every field that has no column of its own. */
function dataOf(rec: SessionRecord): Record<string, unknown> {
  const src = rec as unknown as Record<string, unknown>;
  const data: Record<string, unknown> = {};
  for (const k of DATA_KEYS) if (src[k] !== undefined) data[k] = src[k];
  for (const [k, v] of Object.entries(src)) if (!COLUMN_KEYS.has(k) && !(k in data) && v !== undefined) data[k] = v;
  return data;
}

function ownerOf(rec: SessionRecord): string | null {
  const owner = (rec as unknown as { owner?: unknown }).owner;
  return typeof owner === 'string' ? owner : null;
}

/** The exclusive upper bound of the ids starting with `prefix` (ids are lowercase hex). */
function prefixEnd(prefix: string): string {
  return `${prefix}g`;
}

export class PostgresSessionStore implements SessionStore {
  private readonly db: PostgresDatabase;
  private readonly log: NonNullable<PostgresSessionStoreOptions['logger']>;
  private readonly now: () => Date;
  private readonly holder: ClaimHolder;
  private readonly isDead: HolderCheck;
  private closed = false;
  private readonly warned = new Set<string>();

  private constructor(opts: PostgresSessionStoreOptions) {
    this.db = opts.db;
    this.log = opts.logger ?? { warn() {}, info() {} };
    this.now = opts.now ?? (() => new Date());
    this.holder = opts.holder ?? currentProcessIdentity();
    this.isDead = opts.isHolderDead ?? isProvablyDead;
  }

  /**
   * Opens the store on `db` (shared: released when the store closes). Never throws for an
   * unreachable database: that shows in `health()` and as 503s until it answers again.
   */
  static async open(opts: PostgresSessionStoreOptions): Promise<PostgresSessionStore> {
    const store = new PostgresSessionStore(opts);
    opts.db.acquire();
    try {
      await store.releaseDeadClaims();
    } catch (e) {
      store.log.warn('session store not ready at start-up', { error: describeDbError(e) });
    }
    return store;
  }

  // ---------------------------------------------------------------------------------- public API

  async create(input: NewSession): Promise<SessionRecord> {
    return this.guard('create', async () => {
      for (;;) {
        const rec = newRecord(randomBytes(16).toString('hex'), input, this.now(), this.holder);
        const rows = await this.db.query(
          `INSERT INTO sessions (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id`,
          this.params(rec),
        );
        if (rows.length === 1) return rec;
      }
    });
  }

  async resolve(idOrPrefix: string, owner?: string): Promise<SessionRecord> {
    return this.guard('resolve', async () => {
      if (!/^[0-9a-f]{1,32}$/.test(idOrPrefix)) throw sessionNotFound(idOrPrefix);
      // The exact id sorts first; `matches` counts every id starting with the input. With an owner,
      // other owners' sessions are not there at all (not found, and not counted).
      const params: unknown[] = [idOrPrefix, prefixEnd(idOrPrefix)];
      if (owner !== undefined) params.push(owner);
      const rows = await this.db.query<Row & { matches: number }>(
        `SELECT ${COLUMNS}, count(*) OVER ()::int AS matches FROM sessions
          WHERE id >= $1 AND id < $2${owner !== undefined ? ' AND owner = $3' : ''}
          ORDER BY (id = $1) DESC, id LIMIT 1`,
        params,
      );
      const row = rows[0];
      if (!row) throw sessionNotFound(idOrPrefix);
      if (row.id !== idOrPrefix && row.matches > 1) throw ambiguousSessionId(idOrPrefix, row.matches);
      return this.decode(row);
    });
  }

  async list(filter: ListFilter): Promise<ListPage> {
    return this.guard('list', async () => {
      const where: string[] = [];
      const params: unknown[] = [Math.max(0, filter.limit), Math.max(0, filter.offset)];
      if (filter.backend !== undefined) {
        params.push(filter.backend);
        where.push(`backend = $${params.length}`);
      }
      if (filter.status !== undefined) {
        params.push(filter.status);
        where.push(`status = $${params.length}`);
      }
      if (filter.owner !== undefined) {
        params.push(filter.owner);
        where.push(`owner = $${params.length}`);
      }
      const cond = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
      // One statement (one snapshot): the total of the filtered set and the page. The page's keys
      // are found on the index alone (skipping `offset` entries costs no row reads); only the
      // page's rows are then read.
      const rows = await this.db.query<Row & { total: number }>(
        `SELECT t.total, p.* FROM (SELECT count(*)::int AS total FROM sessions ${cond}) t
         LEFT JOIN LATERAL (
           SELECT ${COLUMNS.split(', ')
             .map((c) => `s.${c}`)
             .join(', ')}
             FROM (SELECT id, last_used FROM sessions ${cond} ORDER BY last_used DESC, id LIMIT $1 OFFSET $2) k
             JOIN sessions s ON s.id = k.id
            ORDER BY k.last_used DESC, k.id
         ) p ON true`,
        params,
      );
      const total = rows[0]?.total ?? 0;
      const sessions: SessionRecord[] = [];
      for (const row of rows) if (row.id !== null) sessions.push(this.decode(row));
      return { sessions, total };
    });
  }

  async claimTurn(id: string, staleClaimMs: number): Promise<TurnClaim> {
    return this.guard('claimTurn', async () => {
      if (!isSessionId(id)) throw sessionNotFound(id);
      for (let attempt = 0; ; attempt++) {
        const now = this.now();
        const at = now.toISOString();
        const rows = await this.db.query<{ status: SessionStatus; last_used: Date; claimed_by: unknown }>(
          `UPDATE sessions s SET status = 'active', last_used = $2, claimed_by = $3
             FROM (SELECT id, status, last_used, claimed_by FROM sessions WHERE id = $1 FOR UPDATE) old
            WHERE s.id = old.id AND NOT (old.status = 'active' AND old.last_used > $4)
            RETURNING old.status, old.last_used, old.claimed_by`,
          [id, at, JSON.stringify(this.holder), new Date(now.getTime() - staleClaimMs).toISOString()],
        );
        const prev = rows[0];
        if (prev) {
          const claim: TurnClaim = { id, previousStatus: prev.status, previousLastUsed: prev.last_used.toISOString() };
          const previousHolder = parseProcessIdentity(prev.claimed_by);
          if (previousHolder) claim.previousClaimedBy = previousHolder;
          claim.claimedAt = at;
          return claim;
        }
        // No row changed: the session does not exist (404) or holds a claim (409) — unless that
        // claim's process is provably dead, whose turn is then recorded as interrupted.
        if (!(await this.releaseIfDead(id))) throw sessionBusy(id);
        if (attempt >= 2) throw sessionBusy(id);
      }
    });
  }

  async releaseClaim(claim: TurnClaim): Promise<void> {
    return this.guard('releaseClaim', async () => {
      if (!isSessionId(claim.id)) return;
      const restoreHolder =
        claim.previousStatus === 'active' && claim.previousClaimedBy ? claim.previousClaimedBy : null;
      const params: unknown[] = [
        claim.id,
        claim.previousStatus,
        claim.previousLastUsed,
        restoreHolder ? JSON.stringify(restoreHolder) : null,
      ];
      // Only a record still holding this claim is restored (not one completed or claimed again since).
      let cond = '';
      if (claim.claimedAt !== undefined) {
        params.push(claim.claimedAt);
        cond = ` AND last_used = $${params.length}`;
      }
      await this.db.query(
        `UPDATE sessions SET status = $2, last_used = $3, claimed_by = $4 WHERE id = $1 AND status = 'active'${cond}`,
        params,
      );
    });
  }

  async completeTurn(id: string, outcome: TurnOutcome, storeTokenUsage: boolean): Promise<SessionRecord> {
    return this.guard('completeTurn', async () => {
      if (!isSessionId(id)) throw sessionNotFound(id);
      return this.db.transaction(async (client) => {
        const rec = await this.lockRow(client, id);
        if (!rec) throw sessionNotFound(id);
        completeRecord(rec, outcome, storeTokenUsage);
        await this.write(client, rec);
        return rec;
      });
    });
  }

  async delete(id: string, staleClaimMs: number): Promise<string> {
    return this.guard('delete', async () => {
      if (!isSessionId(id)) throw sessionNotFound(id);
      for (let attempt = 0; ; attempt++) {
        const threshold = new Date(this.now().getTime() - staleClaimMs).toISOString();
        const rows = await this.db.query(
          `DELETE FROM sessions WHERE id = $1 AND NOT (status = 'active' AND last_used > $2) RETURNING id`,
          [id, threshold],
        );
        if (rows.length === 1) return id;
        if (!(await this.releaseIfDead(id))) throw sessionBusy(id);
        if (attempt >= 2) throw sessionBusy(id);
      }
    });
  }

  async discard(id: string): Promise<void> {
    return this.guard('discard', async () => {
      if (!isSessionId(id)) return;
      await this.db.query('DELETE FROM sessions WHERE id = $1', [id]);
    });
  }

  async count(): Promise<number> {
    return this.guard('count', async () => {
      const rows = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions');
      return rows[0].n;
    });
  }

  async health(): Promise<StoreHealth> {
    if (this.closed) return { available: false, session_count: 0, error: 'session store is closed' };
    try {
      return { available: true, session_count: await this.count() };
    } catch (e) {
      return { available: false, session_count: 0, error: e instanceof Error ? e.message : String(e) };
    }
  }

  async purgeOlderThan(cutoff: Date, staleClaimMs: number): Promise<number> {
    return this.guard('purgeOlderThan', async () => {
      const threshold = new Date(this.now().getTime() - staleClaimMs).toISOString();
      const removed = await this.db.query(
        `DELETE FROM sessions WHERE last_used < $1 AND NOT (status = 'active' AND last_used > $2) RETURNING id`,
        [cutoff.toISOString(), threshold],
      );
      let n = removed.length;
      // Old sessions whose claim is still recent: deleted only when the claim's process is dead.
      const held = await this.db.query<Row>(
        `SELECT ${COLUMNS} FROM sessions WHERE status = 'active' AND last_used < $1 AND last_used > $2`,
        [cutoff.toISOString(), threshold],
      );
      for (const row of held) {
        const rec = this.decode(row);
        if (!claimedByDeadProcess(rec, this.isDead)) continue;
        const gone = await this.db.query(
          `DELETE FROM sessions WHERE id = $1 AND status = 'active' AND last_used = $2 RETURNING id`,
          [rec.id, rec.last_used],
        );
        n += gone.length;
      }
      return n;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.release();
  }

  // ------------------------------------------------------------------------------- internals

  /** Column values of a record, in COLUMNS order. */
  private params(rec: SessionRecord): unknown[] {
    return [
      rec.id,
      rec.backend,
      ownerOf(rec),
      rec.status,
      rec.created_at,
      rec.last_used,
      rec.claimed_by ? JSON.stringify(rec.claimed_by) : null,
      JSON.stringify(dataOf(rec)),
    ];
  }

  private decode(row: Row): SessionRecord {
    try {
      return toRecord(row);
    } catch (e) {
      if (!this.warned.has(row.id)) {
        this.warned.add(row.id);
        this.log.warn('session row is unreadable', { id: row.id, error: describeDbError(e) });
      }
      throw storeInternalError();
    }
  }

  /** The row of `id`, locked until the transaction ends (undefined when there is none). */
  private async lockRow(client: PoolClient, id: string): Promise<SessionRecord | undefined> {
    const r = await client.query<Row>(`SELECT ${COLUMNS} FROM sessions WHERE id = $1 FOR UPDATE`, [id]);
    return r.rows[0] ? this.decode(r.rows[0]) : undefined;
  }

  private async write(client: PoolClient, rec: SessionRecord): Promise<void> {
    await client.query(
      `UPDATE sessions SET backend = $2, owner = $3, status = $4, created_at = $5, last_used = $6,
         claimed_by = $7, data = $8 WHERE id = $1`,
      this.params(rec),
    );
  }

  /**
   * After a claim or delete changed nothing: 404 when the session does not exist; true when its
   * claim belonged to a provably dead process (the interrupted turn is now recorded, so the caller
   * tries again); false when a valid claim is held.
   */
  private async releaseIfDead(id: string): Promise<boolean> {
    return this.db.transaction(async (client) => {
      const rec = await this.lockRow(client, id);
      if (!rec) throw sessionNotFound(id);
      if (rec.status !== 'active') return true; // released meanwhile: try again
      if (!claimedByDeadProcess(rec, this.isDead)) return false;
      this.log.info('session claim of a dead process released; its turn is recorded as interrupted', {
        session_id: rec.id,
        holder_pid: rec.claimed_by?.pid,
      });
      recordInterruptedTurn(rec);
      await this.write(client, rec);
      return true;
    });
  }

  /**
   * Start-up: turns of sessions claimed by processes of this host that are provably dead (a previous
   * incarnation killed while its turns ran) are recorded as interrupted.
   */
  private async releaseDeadClaims(): Promise<void> {
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM sessions WHERE status = 'active' AND claimed_by->>'host' = $1`,
      [this.holder.host],
    );
    for (const row of rows) {
      if (claimedByDeadProcess(this.decode(row), this.isDead)) await this.releaseIfDead(row.id);
    }
  }

  /** Maps failures to the store's typed errors (database unreachable → session_store_unavailable). */
  private async guard<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw storeUnavailable('session store is closed');
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ApiError) throw e;
      if (e instanceof DatabaseUnavailable || isConnectionError(e)) {
        throw storeUnavailable(`PostgreSQL unreachable: ${describeDbError(e)}`);
      }
      if (e instanceof MigrationError) throw storeUnavailable(e.message);
      this.log.warn('session store internal error', { op, error: (e as { stack?: string })?.stack ?? String(e) });
      throw storeInternalError();
    }
  }
}
