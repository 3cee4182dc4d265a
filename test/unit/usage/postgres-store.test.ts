/**
 * The PostgreSQL usage store's daily sums (`usage_daily`): whatever mix of whole days and cut days a
 * range has, the answers are those of the file store holding the same records (the reference), for
 * records written by two processes at once, records that existed before the sums did (the
 * migration adds them up), and after retention.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PostgresDatabase } from '../../../src/db/postgres';
import { MIGRATIONS } from '../../../src/db/postgres/migrations';
import { FileUsageStore } from '../../../src/usage/file/file-store';
import { PostgresUsageStore, splitRange } from '../../../src/usage/postgres/store';
import {
  dayStart,
  USAGE_GROUP_FIELDS,
  type UsageGroupField,
  type UsageQuery,
  type UsageRecord,
  type UsageStore,
} from '../../../src/usage/types';
import { SchemaPool, sql, TEST_POSTGRES_URL } from '../../helpers/postgres';
import { rec } from './store-contract';

const schemas = new SchemaPool();
afterAll(() => schemas.dropAll());

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = dayStart('2026-11-10');

/** A deterministic spread of records over 6 days (every group field varies, some at midnight exactly). */
function records(n: number, seed: number): UsageRecord[] {
  let x = seed;
  const next = (m: number): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % m;
  };
  const statuses = ['succeeded', 'succeeded', 'failed', 'timeout', 'canceled'] as const;
  const styles = ['native', 'openai', 'anthropic'] as const;
  const backends = ['claude', 'codex', 'gemini'] as const;
  return Array.from({ length: n }, (_, i) => {
    const t = i % 17 === 0 ? START + next(6) * DAY : START + next(6 * DAY);
    const model = [undefined, 'sonnet', 'opus'][next(3)];
    return rec({
      time: new Date(t).toISOString(),
      key: `team-${next(4)}`,
      api_style: styles[next(3)],
      backend: backends[next(3)],
      model,
      status: statuses[next(5)],
      duration_ms: next(10_000),
      input_tokens: next(5000),
      output_tokens: next(800),
      cached_tokens: next(50),
      request_id: `r-${seed}-${i}`,
    });
  });
}

/** Ranges of every kind: whole days, cut at one or both ends, inside one day, empty, beyond the data. */
const RANGES: [number, number][] = [
  [START, START + 6 * DAY],
  [START - 3 * DAY, START + 9 * DAY],
  [START + 2 * DAY, START + 4 * DAY],
  [START + 5 * HOUR, START + 4 * DAY],
  [START + DAY, START + 3 * DAY + 7 * HOUR + 1],
  [START + 3 * HOUR + 17, START + 5 * DAY - 1],
  [START + 2 * DAY + HOUR, START + 2 * DAY + 20 * HOUR],
  [START + DAY - 1, START + DAY + 1],
  [START + 4 * DAY, START + 4 * DAY],
];

const GROUPINGS: UsageGroupField[][] = [
  ['day'],
  ['key', 'backend'],
  ['day', 'key', 'backend', 'model'],
  [...USAGE_GROUP_FIELDS],
  ['status', 'model'],
];

async function expectSameAnswers(reference: UsageStore, store: UsageStore): Promise<void> {
  for (const [from, to] of RANGES) {
    for (const groupBy of GROUPINGS) {
      for (const key of [undefined, 'team-2']) {
        const q: UsageQuery = { from, to, groupBy, ...(key ? { key } : {}) };
        expect({ q, answer: await store.query(q) }).toEqual({ q, answer: await reference.query(q) });
      }
    }
  }
  for (let d = -1; d < 7; d++) {
    const day = new Date(START + d * DAY).toISOString().slice(0, 10);
    expect(await store.dailyUsage(day)).toEqual(await reference.dailyUsage(day));
  }
}

describe('PostgresUsageStore daily sums', () => {
  let dir: string;
  let reference: FileUsageStore;
  const opened: UsageStore[] = [];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-usage-ref-'));
    reference = new FileUsageStore(path.join(dir, 'usage'), { rollupIntervalMs: 0 });
    await reference.open();
  });

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
    await reference.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const open = async (schema: string, migrations = MIGRATIONS): Promise<PostgresUsageStore> => {
    // each store its own pool, as another process would have
    const store = new PostgresUsageStore(
      new PostgresDatabase({ url: TEST_POSTGRES_URL, schema, poolSize: 4, migrations }),
    );
    await store.open();
    opened.push(store);
    return store;
  };

  test('splitRange: whole days from the sums, the cut ends from the records', () => {
    expect(splitRange(START, START + 2 * DAY)).toEqual({ days: ['2026-11-10', '2026-11-12'], records: [] });
    expect(splitRange(START + HOUR, START + 2 * DAY + HOUR)).toEqual({
      days: ['2026-11-11', '2026-11-12'],
      records: [
        [START + HOUR, START + DAY],
        [START + 2 * DAY, START + 2 * DAY + HOUR],
      ],
    });
    expect(splitRange(START + HOUR, START + DAY + HOUR)).toEqual({
      records: [[START + HOUR, START + DAY + HOUR]],
    });
    expect(splitRange(START, START)).toEqual({ records: [] });
  });

  test('two writers at once, many batches: the same answers as the file store', async () => {
    const schema = schemas.schema();
    const a = await open(schema);
    const b = await open(schema);
    const all = [...records(1500, 1), ...records(1500, 2)];
    await reference.append(all);
    // batches of both writers interleaved, many hitting the same day and group at the same time
    const writes: Promise<void>[] = [];
    for (let i = 0; i < all.length; i += 100)
      writes.push((i / 100) % 2 ? a.append(all.slice(i, i + 100)) : b.append(all.slice(i, i + 100)));
    await Promise.all(writes);
    await expectSameAnswers(reference, a);
    const [{ n }] = await sql<{ n: string }>(`SELECT sum(requests)::text AS n FROM "${schema}".usage_daily`);
    expect(Number(n)).toBe(all.length);
  });

  test('records written before the daily sums existed are summed by the migration', async () => {
    const schema = schemas.schema();
    const old = await open(
      schema,
      MIGRATIONS.filter((m) => m.version < 5),
    );
    const all = records(2000, 3);
    await old.append(all);
    await reference.append(all);
    expect(await sql(`SELECT to_regclass('"${schema}".usage_daily') AS t`)).toEqual([{ t: null }]);
    await old.close();
    const store = await open(schema);
    await expectSameAnswers(reference, store);
    // appends after the migration are added to the sums
    const more = records(300, 4);
    await store.append(more);
    await reference.append(more);
    await expectSameAnswers(reference, store);
  });

  test('retention deletes the records and the sums of the days before', async () => {
    const schema = schemas.schema();
    const store = await open(schema);
    const all = records(1000, 5);
    await store.append(all);
    await reference.append(all);
    await store.prune('2026-11-13');
    await reference.prune('2026-11-13');
    await expectSameAnswers(reference, store);
    expect(await sql(`SELECT count(*)::int AS n FROM "${schema}".usage_daily WHERE day < '2026-11-13'`)).toEqual([
      { n: 0 },
    ]);
  });
});
