/**
 * The UsageStore on PostgreSQL (table `usage_records`, docs/postgres.md): one row per finished
 * execution, shared by every process on the database. `/api/v1/usage` is one SQL aggregation
 * (`GROUP BY GROUPING SETS` gives the rows and the totals in one statement); the daily quota
 * counters are one grouped query over one day.
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

const SUMS = `count(*)::float8 AS requests, count(*) FILTER (WHERE status <> 'succeeded')::float8 AS failed,
  coalesce(sum(input_tokens), 0)::float8 AS input_tokens, coalesce(sum(output_tokens), 0)::float8 AS output_tokens,
  coalesce(sum(cached_tokens), 0)::float8 AS cached_tokens, coalesce(sum(duration_ms), 0)::float8 AS duration_ms`;

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
    const params: unknown[] = [new Date(q.from).toISOString(), new Date(q.to).toISOString()];
    let where = 'time >= $1 AND time < $2';
    if (q.key !== undefined) {
      params.push(q.key);
      where += ` AND key = $${params.length}`;
    }
    // The groups and the totals (the empty grouping set, marked by GROUPING() = 1) in one statement.
    const rows = await this.run(() =>
      this.db.query<Record<string, unknown> & { is_total: number }>(
        `SELECT ${fields.join(', ')}, GROUPING(${fields.join(', ')})::int AS is_total, ${SUMS}
           FROM usage_records WHERE ${where}
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
        `SELECT key, count(*)::float8 AS requests, coalesce(sum(input_tokens + output_tokens), 0)::float8 AS tokens
           FROM usage_records WHERE day = $1 GROUP BY key`,
        [day],
      ),
    );
    return new Map(rows.map((r) => [r.key, { requests: Number(r.requests), tokens: Number(r.tokens) }]));
  }

  async prune(beforeDay: string): Promise<void> {
    await this.run(() => this.db.query('DELETE FROM usage_records WHERE day < $1', [beforeDay]));
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
