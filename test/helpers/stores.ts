/**
 * The two sets of durable stores an HTTP suite runs against: the file stores (the default) and the
 * PostgreSQL stores (sessions, jobs and usage in a fresh schema per server). A suite takes its
 * config overrides from `config()` and looks at the stored usage records through `usageRecords`, so
 * the same cases run on both (`describe.each(storeBackings(schemas))`). Against a cluster
 * (`CLINVK_TEST_TARGET=cluster`) there is one backing: the cluster's own PostgreSQL schema.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../src/config/types';
import type { UsageRecord } from '../../src/usage/types';
import { postgresConfig, type SchemaPool, sql } from './postgres';
import { ON_CLUSTER } from './server';

export interface StoreBacking {
  /** Config overrides selecting the stores (merged into a test's own overrides). */
  config(): Record<string, unknown>;
  /** The stored usage records of one UTC day, in the order they were written. */
  usageRecords(env: { home: string; config: Config }, day: string): Promise<UsageRecord[]>;
}

interface UsageRow {
  time: Date;
  model: string | null;
  session_id: string | null;
  job_id: string | null;
  duration_ms: string;
  input_tokens: string;
  output_tokens: string;
  cached_tokens: string;
  [column: string]: unknown;
}

/** A `usage_records` row as the record it was written from (absent optional fields left out). */
function recordOf(row: UsageRow): UsageRecord {
  const { time, day: _day, model, session_id, job_id, ...rest } = row;
  return {
    ...rest,
    time: time.toISOString(),
    duration_ms: Number(rest.duration_ms),
    input_tokens: Number(rest.input_tokens),
    output_tokens: Number(rest.output_tokens),
    cached_tokens: Number(rest.cached_tokens),
    ...(model === null ? {} : { model }),
    ...(session_id === null ? {} : { session_id }),
    ...(job_id === null ? {} : { job_id }),
  } as UsageRecord;
}

// the table is only ever appended to, so its physical order is the order of the inserts
const postgresUsageRecords: StoreBacking['usageRecords'] = async (env, day) =>
  (
    await sql<UsageRow>(
      `SELECT * FROM "${env.config.cluster.postgres_schema}".usage_records WHERE day = $1 ORDER BY ctid`,
      [day],
    )
  ).map(recordOf);

export function storeBackings(schemas: SchemaPool): [string, StoreBacking][] {
  // a cluster keeps everything in PostgreSQL, in its own schema: the suite runs once, there
  if (ON_CLUSTER) return [['cluster', { config: () => ({}), usageRecords: postgresUsageRecords }]];
  return [
    [
      'file',
      {
        config: () => ({}),
        usageRecords: async (env, day) => {
          const file = path.join(env.home, 'usage', `${day}.ndjson`);
          if (!fs.existsSync(file)) return [];
          return fs
            .readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as UsageRecord);
        },
      },
    ],
    [
      'postgres',
      {
        config: () => postgresConfig(schemas.schema()),
        usageRecords: postgresUsageRecords,
      },
    ],
  ];
}
