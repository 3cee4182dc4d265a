/**
 * The JobStore on PostgreSQL (tables `jobs` and `job_events`, docs/postgres.md): records, results,
 * terminal events and stored events survive the process and are visible to every process on the
 * same database and schema.
 *
 * A record is one row (the columns lists filter and sort on, plus the whole record as jsonb),
 * written by an upsert; writes of one job are serialized so that the last `put` is the one that
 * stays (as with the file store). Each batch of events is one multi-row INSERT, committed when it
 * returns (`syncEvents` has nothing left to do).
 *
 * Several processes share the tables: a queued job is claimed by one conditional UPDATE (exactly
 * one node gets it), a record is written only by the node that holds it (a node taken over after
 * its heartbeat lapsed cannot overwrite the outcome), and every record change and every event batch
 * is announced with NOTIFY in the same statement (`coordinator.ts` listens).
 */
import { DatabaseUnavailable, MigrationError, describeDbError, isConnectionError } from '../../db/postgres';
import type { PostgresDatabase } from '../../db/postgres';
import { ApiError } from '../../errors';
import type { JobCoordinator } from '../coordination';
import type { HeldJob, JobFilter, JobRecord, JobStatus, JobStore, QueueEntry, StoredEvent } from '../types';
import { channelOf, PostgresJobCoordinator, statusMessage, type CoordinatorLogger } from './coordinator';
import { KeyedMutex } from '../../lib/mutex';

export interface PostgresJobStoreOptions {
  db: PostgresDatabase;
  logger?: CoordinatorLogger;
}

/** Events per INSERT statement (keeps the parameter count far below PostgreSQL's 65535). */
const EVENTS_PER_INSERT = 1000;

export class PostgresJobStore implements JobStore {
  /** Readers on other nodes follow the stored events: batches are written at most 20 ms apart. */
  readonly eventBatchMs = 20;
  private readonly db: PostgresDatabase;
  /** The pending record write per job. */
  /** Writes of one record are serialized, so that the last `put` is the one that stays. */
  private readonly writes = new KeyedMutex();
  private opened = false;
  private closed = false;
  private readonly channel: string;
  /** This process's node (the sender of announcements). */
  private node = '-';
  private coord?: PostgresJobCoordinator;

  constructor(private readonly opts: PostgresJobStoreOptions) {
    this.db = opts.db;
    this.channel = channelOf(opts.db.schema);
  }

  coordinator(node: string, leaseMs: number): JobCoordinator {
    this.node = node;
    this.coord ??= new PostgresJobCoordinator(this.db, this.channel, node, leaseMs, this.opts.logger);
    return this.coord;
  }

  async open(): Promise<void> {
    if (!this.opened) {
      this.opened = true;
      this.db.acquire();
    }
    await this.run(() => this.db.ready());
  }

  async put(record: JobRecord): Promise<void> {
    const copy = structuredClone(record);
    return this.writes.run(record.id, () => this.write(copy));
  }

  /** The upsert; an existing row is replaced only when the record names the node holding it. */
  private async write(r: JobRecord): Promise<void> {
    await this.run(() =>
      this.db.query(
        `WITH w AS (
           INSERT INTO jobs (id, queue_seq, status, operation, backend, owner, finished_at, idempotency_key, node, record)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (id) DO UPDATE SET queue_seq = EXCLUDED.queue_seq, status = EXCLUDED.status,
             operation = EXCLUDED.operation, backend = EXCLUDED.backend, owner = EXCLUDED.owner,
             finished_at = EXCLUDED.finished_at, idempotency_key = EXCLUDED.idempotency_key, record = EXCLUDED.record
           WHERE jobs.node IS NOT DISTINCT FROM EXCLUDED.node
           RETURNING 1)
         SELECT pg_notify($11, $12) FROM w`,
        [
          r.id,
          r.queue_seq,
          r.status,
          r.operation,
          r.backend ?? null,
          r.owner,
          r.finished_at ?? null,
          r.idempotency?.key ?? null,
          r.node ?? null,
          JSON.stringify(r),
          this.channel,
          statusMessage(this.node, r.id, r.status, r.node, r.queue_seq),
        ],
      ),
    );
  }

  /** The record; a running job's event counts are those stored so far (its node writes them as they come). */
  async get(id: string): Promise<JobRecord | undefined> {
    const rows = await this.run(() =>
      this.db.query<{ record: JobRecord; ev: { count: number; last_sequence: number } | null }>(
        `SELECT record, CASE WHEN status = 'running' THEN (
           SELECT json_build_object('count', count(*), 'last_sequence', coalesce(max(sequence), 0))
           FROM job_events WHERE job_id = $1) END AS ev
         FROM jobs WHERE id = $1`,
        [id],
      ),
    );
    const row = rows[0];
    if (row?.ev && row.ev.last_sequence > row.record.events.last_sequence) row.record.events = row.ev;
    return row?.record;
  }

  async list(filter: JobFilter, limit: number, offset: number): Promise<{ jobs: JobRecord[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [Math.max(0, limit), Math.max(0, offset)];
    for (const key of ['status', 'operation', 'backend', 'owner'] as const) {
      if (filter[key] === undefined) continue;
      params.push(filter[key]);
      where.push(`${key} = $${params.length}`);
    }
    const cond = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const rows = await this.run(() =>
      this.db.query<{ total: number; record: JobRecord | null }>(
        `SELECT t.total, p.record FROM (SELECT count(*)::int AS total FROM jobs ${cond}) t
         LEFT JOIN LATERAL (SELECT record FROM jobs ${cond} ORDER BY queue_seq DESC LIMIT $1 OFFSET $2) p ON true`,
        params,
      ),
    );
    const jobs: JobRecord[] = [];
    for (const row of rows) if (row.record) jobs.push(row.record);
    return { jobs, total: rows[0]?.total ?? 0 };
  }

  async countByStatus(status: JobStatus): Promise<number> {
    const rows = await this.run(() =>
      this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE status = $1', [status]),
    );
    return rows[0].n;
  }

  async findIdempotent(owner: string, key: string): Promise<JobRecord | undefined> {
    const rows = await this.run(() =>
      this.db.query<{ record: JobRecord }>(
        'SELECT record FROM jobs WHERE owner = $1 AND idempotency_key = $2 ORDER BY queue_seq DESC LIMIT 1',
        [owner, key],
      ),
    );
    return rows[0]?.record;
  }

  async unfinished(): Promise<JobRecord[]> {
    const rows = await this.run(() =>
      this.db.query<{ record: JobRecord }>(
        `SELECT record FROM jobs WHERE status IN ('queued', 'running') ORDER BY queue_seq`,
      ),
    );
    return rows.map((r) => r.record);
  }

  async nextQueueSeq(): Promise<number> {
    const rows = await this.run(() => this.db.query<{ n: number }>(`SELECT nextval('jobs_queue_seq')::float8 AS n`));
    return rows[0].n;
  }

  async queued(): Promise<QueueEntry[]> {
    return this.run(() =>
      this.db.query<QueueEntry>(
        `SELECT id, queue_seq::float8 AS queue_seq FROM jobs WHERE status = 'queued' AND node IS NULL ORDER BY queue_seq`,
      ),
    );
  }

  async claim(id: string, node: string): Promise<JobRecord | undefined> {
    return this.move(id, `status = 'queued' AND node IS NULL`, [], node);
  }

  async takeOver(id: string, from: string | undefined, node: string): Promise<JobRecord | undefined> {
    return this.move(id, `status IN ('queued', 'running') AND node IS NOT DISTINCT FROM $5`, [from ?? null], node);
  }

  /** One conditional UPDATE giving job `id` to `node` when `cond` holds, announced in the same statement. */
  private async move(id: string, cond: string, extra: unknown[], node: string): Promise<JobRecord | undefined> {
    const rows = await this.run(() =>
      this.db.query<{ record: JobRecord }>(
        `WITH m AS (
           UPDATE jobs SET node = $2, record = jsonb_set(record, '{node}', to_jsonb($2::text))
           WHERE id = $1 AND ${cond}
           RETURNING record, status, queue_seq)
         SELECT record, pg_notify($3, $4 || ' ' || status || ' ' || $2 || ' ' || queue_seq) FROM m`,
        [id, node, this.channel, `${this.node} s ${id}`, ...extra],
      ),
    );
    return rows[0]?.record;
  }

  async release(id: string, node: string): Promise<void> {
    await this.run(() =>
      this.db.query(
        `WITH m AS (
           UPDATE jobs SET node = NULL, record = record - 'node'
           WHERE id = $1 AND node = $2 AND status = 'queued'
           RETURNING queue_seq)
         SELECT pg_notify($3, $4 || ' ' || queue_seq) FROM m`,
        [id, node, this.channel, `${this.node} s ${id} queued -`],
      ),
    );
  }

  async heldElsewhere(node: string): Promise<HeldJob[]> {
    const rows = await this.run(() =>
      this.db.query<HeldJob & { node: string | null }>(
        `SELECT id, queue_seq::float8 AS queue_seq, status, node FROM jobs
         WHERE status IN ('queued', 'running') AND node IS DISTINCT FROM $1
           AND (node IS NOT NULL OR status = 'running') ORDER BY queue_seq`,
        [node],
      ),
    );
    return rows.map((r) => ({
      id: r.id,
      queue_seq: r.queue_seq,
      status: r.status,
      ...(r.node ? { node: r.node } : {}),
    }));
  }

  async finishedBefore(beforeMs: number): Promise<string[]> {
    const rows = await this.run(() =>
      this.db.query<{ id: string }>(
        `SELECT id FROM jobs WHERE status IN ('succeeded', 'failed', 'canceled') AND finished_at < $1`,
        [new Date(beforeMs).toISOString()],
      ),
    );
    return rows.map((r) => r.id);
  }

  async delete(id: string): Promise<boolean> {
    return this.run(() =>
      this.db.transaction(async (c) => {
        await c.query('DELETE FROM job_events WHERE job_id = $1', [id]);
        const r = await c.query('DELETE FROM jobs WHERE id = $1', [id]);
        return (r.rowCount ?? 0) > 0;
      }),
    );
  }

  /**
   * Appends events of a job this node holds: a node whose job was taken over (its heartbeat lapsed)
   * adds nothing after the terminal event the other node stored.
   */
  async appendEvents(id: string, events: StoredEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += EVENTS_PER_INSERT) {
      const batch = events.slice(i, i + EVENTS_PER_INSERT);
      const params: unknown[] = [id, this.node, this.channel, `${this.node} e ${id}`];
      const values: string[] = [];
      for (const e of batch) {
        params.push(e.sequence, e.line);
        values.push(`($${params.length - 1}::int, $${params.length}::text)`);
      }
      // A sequence stored already (a retried batch) is kept as it was; readers on other nodes are told.
      await this.run(() =>
        this.db.query(
          `WITH i AS (
             INSERT INTO job_events (job_id, sequence, line)
             SELECT $1, v.sequence, v.line FROM (VALUES ${values.join(', ')}) AS v (sequence, line)
             WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $1 AND node IS NOT DISTINCT FROM $2)
             ON CONFLICT DO NOTHING RETURNING 1)
           SELECT pg_notify($3, $4) WHERE EXISTS (SELECT 1 FROM i)`,
          params,
        ),
      );
    }
  }

  async syncEvents(): Promise<void> {
    // Every append is committed when it returns.
  }

  async readEvents(id: string, after: number): Promise<StoredEvent[]> {
    const rows = await this.run(() =>
      this.db.query<StoredEvent>(
        'SELECT sequence, line FROM job_events WHERE job_id = $1 AND sequence > $2 ORDER BY sequence',
        [id, after],
      ),
    );
    return rows;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes.idle();
    await this.coord?.stop();
    if (this.opened) await this.db.release();
  }

  /** Database unreachable → 503 `session_store_unavailable` (the durable store is down). */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ApiError('session_store_unavailable', 'job store unavailable: closed');
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ApiError) throw e;
      if (e instanceof DatabaseUnavailable || e instanceof MigrationError || isConnectionError(e)) {
        throw new ApiError('session_store_unavailable', `job store unavailable: ${describeDbError(e)}`);
      }
      throw e;
    }
  }
}
