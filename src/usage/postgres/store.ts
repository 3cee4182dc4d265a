/**
 * The UsageStore on PostgreSQL (docs/postgres.md): one row per finished execution in
 * `usage_records`, shared by every process on the database, and `usage_daily`, the per-day sums of
 * each combination of the group fields (kept by a trigger in the transaction of every insert).
 * `/api/v1/usage` is one SQL aggregation: whole UTC days of the range come from the daily sums, the
 * cut days at its ends from the records (`GROUP BY GROUPING SETS` gives the rows and the totals in
 * one statement); the daily quota counters are the sums of one day.
 */
import { DatabaseUnavailable, MigrationError, describeDbError, isConnectionError } from '../../db/postgres';
import type { PostgresDatabase } from '../../db/postgres';
import { ApiError } from '../../errors';
import {
  dayOf,
  emptyTotals,
  type DailyUsage,
  type UsageQuery,
  type UsageQueryResult,
  type UsageRecord,
  type UsageRow,
  type UsageStore,
  type UsageTotals,
} from '../types';

const COLUMNS = [
  'time',
  'day',
  'key',
  'api_style',
  'operation',
  'backend',
  'model',
  'working_dir',
  'approval_mode',
  'sandbox_mode',
  'status',
  'duration_ms',
  'input_tokens',
  'output_tokens',
  'cached_tokens',
  'estimated',
  'session_id',
  'job_id',
  'request_id',
] as const;
/** Records per INSERT (19 parameters each, far below PostgreSQL's 65535). */
const ROWS_PER_INSERT = 2000;

/** SQL of a group field (all are columns). */
const GROUP_SQL: Record<string, string> = {
  day: 'day',
  key: 'key',
  backend: 'backend',
  model: 'model',
  api_style: 'api_style',
  status: 'status',
};

/** The columns both parts of a query give: the group fields, then the sums. */
const PART_COLUMNS = 'day, key, backend, model, api_style, status';
const SUM_COLUMNS = 'input_tokens, output_tokens, cached_tokens, duration_ms';

const SUMS = `coalesce(sum(requests), 0)::float8 AS requests,
  coalesce(sum(requests) FILTER (WHERE status <> 'succeeded'), 0)::float8 AS failed,
  coalesce(sum(input_tokens), 0)::float8 AS input_tokens, coalesce(sum(output_tokens), 0)::float8 AS output_tokens,
  coalesce(sum(cached_tokens), 0)::float8 AS cached_tokens, coalesce(sum(duration_ms), 0)::float8 AS duration_ms`;

const DAY_MS = 86_400_000;

/**
 * How a range `[from, to)` is read: the whole UTC days inside it from the daily sums, the rest (the
 * cut days at either end, or all of a range shorter than a day) from the records.
 */
export function splitRange(from: number, to: number): { days?: [string, string]; records: [number, number][] } {
  const firstWhole = Math.ceil(from / DAY_MS) * DAY_MS;
  const endWhole = Math.floor(to / DAY_MS) * DAY_MS;
  if (firstWhole >= endWhole) return { records: from < to ? [[from, to]] : [] };
  const records: [number, number][] = [];
  if (from < firstWhole) records.push([from, firstWhole]);
  if (endWhole < to) records.push([endWhole, to]);
  return { days: [dayOf(firstWhole), dayOf(endWhole)], records };
}

export class PostgresUsageStore implements UsageStore {
  private opened = false;
  private closed = false;

  constructor(private readonly db: PostgresDatabase) {}

  async open(): Promise<void> {
    if (!this.opened) {
      this.opened = true;
      this.db.acquire();
    }
    await this.run(() => this.db.ready());
  }

  async append(records: readonly UsageRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += ROWS_PER_INSERT) {
      const batch = records.slice(i, i + ROWS_PER_INSERT);
      const params: unknown[] = [];
      const values: string[] = [];
      for (const r of batch) {
        const row = [
          r.time,
          dayOf(Date.parse(r.time)),
          r.key,
          r.api_style,
          r.operation,
          r.backend,
          r.model ?? null,
          r.working_dir,
          r.approval_mode,
          r.sandbox_mode,
          r.status,
          r.duration_ms,
          r.input_tokens,
          r.output_tokens,
          r.cached_tokens,
          r.estimated,
          r.session_id ?? null,
          r.job_id ?? null,
          r.request_id,
        ];
        values.push(`(${row.map((_, j) => `$${params.length + j + 1}`).join(', ')})`);
        params.push(...row);
      }
      await this.run(() =>
        this.db.query(`INSERT INTO usage_records (${COLUMNS.join(', ')}) VALUES ${values.join(', ')}`, params),
      );
    }
  }

  async query(q: UsageQuery): Promise<UsageQueryResult> {
    const fields = q.groupBy.map((f) => GROUP_SQL[f]);
    const params: unknown[] = [];
    const param = (v: unknown): string => `$${params.push(v)}`;
    const byKey = q.key === undefined ? '' : ` AND key = ${param(q.key)}`;
    const range = splitRange(q.from, q.to);
    const parts: string[] = [];
    if (range.days) {
      parts.push(
        `SELECT ${PART_COLUMNS}, requests, ${SUM_COLUMNS} FROM usage_daily
          WHERE day >= ${param(range.days[0])} AND day < ${param(range.days[1])}${byKey}`,
      );
    }
    if (range.records.length > 0) {
      const times = range.records.map(
        ([a, b]) => `(time >= ${param(new Date(a).toISOString())} AND time < ${param(new Date(b).toISOString())})`,
      );
      parts.push(
        `SELECT ${PART_COLUMNS}, 1::bigint AS requests, ${SUM_COLUMNS} FROM usage_records
          WHERE (${times.join(' OR ')})${byKey}`,
      );
    }
    if (parts.length === 0) return { rows: [], totals: emptyTotals() };
    // The groups and the totals (the empty grouping set, marked by GROUPING() = 1) in one statement.
    const rows = await this.run(() =>
      this.db.query<Record<string, unknown> & { is_total: number }>(
        `SELECT ${fields.join(', ')}, GROUPING(${fields.join(', ')})::int AS is_total, ${SUMS}
           FROM (${parts.join(' UNION ALL ')}) AS parts
          GROUP BY GROUPING SETS ((${fields.join(', ')}), ())
          ORDER BY GROUPING(${fields.join(', ')}), ${fields.map((f) => `${f} ASC NULLS FIRST`).join(', ')}`,
        params,
      ),
    );
    let totals: UsageTotals = emptyTotals();
    const out: UsageRow[] = [];
    for (const row of rows) {
      const sums: UsageTotals = {
        requests: Number(row.requests),
        failed: Number(row.failed),
        input_tokens: Number(row.input_tokens),
        output_tokens: Number(row.output_tokens),
        cached_tokens: Number(row.cached_tokens),
        duration_ms: Number(row.duration_ms),
      };
      if (row.is_total !== 0) {
        totals = sums;
        continue;
      }
      const group: Record<string, unknown> = {};
      for (const f of q.groupBy) group[f] = f === 'model' ? ((row[f] as string | null) ?? null) : row[f];
      out.push({ ...group, ...sums } as UsageRow);
    }
    return { rows: out, totals };
  }

  async dailyUsage(day: string): Promise<Map<string, DailyUsage>> {
    const rows = await this.run(() =>
      this.db.query<{ key: string; requests: number; tokens: number }>(
        `SELECT key, sum(requests)::float8 AS requests, sum(input_tokens + output_tokens)::float8 AS tokens
           FROM usage_daily WHERE day = $1 GROUP BY key`,
        [day],
      ),
    );
    return new Map(rows.map((r) => [r.key, { requests: Number(r.requests), tokens: Number(r.tokens) }]));
  }

  async prune(beforeDay: string): Promise<void> {
    // whole days: the records and their daily sums go together
    await this.run(() =>
      this.db.query('WITH sums AS (DELETE FROM usage_daily WHERE day < $1) DELETE FROM usage_records WHERE day < $1', [
        beforeDay,
      ]),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.opened) await this.db.release();
  }

  /** Database unreachable → 503 `session_store_unavailable` (the durable store is down). */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('usage store is closed');
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ApiError) throw e;
      if (e instanceof DatabaseUnavailable || e instanceof MigrationError || isConnectionError(e)) {
        throw new ApiError('session_store_unavailable', `usage store unavailable: ${describeDbError(e)}`);
      }
      throw e;
    }
  }
}
