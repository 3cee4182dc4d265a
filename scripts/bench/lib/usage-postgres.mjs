// The PostgreSQL rows of scripts/bench/usage.mjs: `records` usage records over `days` UTC days in a
// schema of their own (dropped at the end), populated with one INSERT … SELECT (the same field mix
// as the file rows), then
//   - the store's query (PostgresUsageStore.query), whole days and a range cut mid-day at both ends,
//   - GET /api/v1/usage through a real server process whose usage store is that schema,
//   - what an append of a typical batch (100 records, the service's batching) costs.
// Every timing is `queries` runs after one warm-up; p50 / p99 / max in ms.
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { PG_URL, ROOT, fmt, httpRequest, nowMs, startServerProcess, summarize } from './common.mjs';

const require = createRequire(import.meta.url);
const DAY_MS = 86_400_000;

/** GET /api/v1/usage?`query` through a server, checked to count `records` records; resolves with its ms. */
export async function getUsage(serverUrl, query, records) {
  const r = await httpRequest(undefined, `${serverUrl}/api/v1/usage?${query}`);
  if (r.status !== 200) throw new Error(`GET /api/v1/usage: ${r.status} ${r.text.slice(0, 200)}`);
  const total = JSON.parse(r.text).data.totals.requests;
  if (total !== records) throw new Error(`GET /api/v1/usage counted ${total} records`);
  return r.ms;
}

async function timed(runs, fn) {
  await fn(); // warm-up (plans, caches)
  const samples = [];
  let last;
  for (let i = 0; i < runs; i++) {
    const t0 = nowMs();
    last = await fn();
    samples.push(nowMs() - t0);
  }
  return { s: summarize(samples), last };
}

const cell = (s) => `p50 ${fmt(s.p50, 1)} ms, p99 ${fmt(s.p99, 1)} ms, max ${fmt(s.max, 1)} ms`;

/** Adds the PostgreSQL rows to `rows` ([measure, result, target, verdict]). */
export async function benchPostgresUsage({ opts, now, scratch, record, rows }) {
  const { PostgresDatabase } = require(path.join(ROOT, 'dist/src/db/postgres/index.js'));
  const { PostgresUsageStore } = require(path.join(ROOT, 'dist/src/usage/postgres/index.js'));
  const { Client } = require(path.join(ROOT, 'node_modules/pg'));
  const schema = `clinvk_bench_usage_${process.pid}`;
  const admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  const db = new PostgresDatabase({ url: PG_URL, schema, poolSize: 4 });
  const store = new PostgresUsageStore(db);
  let server;
  try {
    await store.open(); // migrations
    const first = Math.floor(now / DAY_MS) * DAY_MS - opts.days * DAY_MS;
    const step = (opts.days * DAY_MS) / opts.records;
    process.stderr.write(`populating ${opts.records} usage records on PostgreSQL…\n`);
    const t0 = nowMs();
    await admin.query(
      `INSERT INTO "${schema}".usage_records (time, day, key, api_style, operation, backend, model, working_dir,
         approval_mode, sandbox_mode, status, duration_ms, input_tokens, output_tokens, cached_tokens, estimated, request_id)
       SELECT ts, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'team-' || (i % $4),
              (ARRAY['native','native','openai','anthropic'])[i % 4 + 1], 'prompt',
              (ARRAY['claude','codex','gemini'])[i % 3 + 1],
              (ARRAY[ARRAY['sonnet','opus'], ARRAY['gpt-5.5',NULL], ARRAY['gemini-2.5-pro',NULL]])[i % 3 + 1][(i >> 2) % 2 + 1],
              '/srv/work/project', 'default', 'default',
              (ARRAY['succeeded','succeeded','succeeded','succeeded','succeeded','failed','timeout','canceled'])[i % 8 + 1],
              1000 + i % 5000, 1650 + i % 100, 6 + i % 50, i % 7, i % 10 = 0, 'r' || i
         FROM generate_series(0, $1 - 1) AS i,
              LATERAL (SELECT timestamptz 'epoch' + (($2 + floor(i * $3::float8)) * interval '1 millisecond') AS ts) t`,
      [opts.records, first, step, opts.keys],
    );
    await admin.query(`VACUUM ANALYZE "${schema}".usage_records`);
    const hasDaily = (await admin.query(`SELECT to_regclass('"${schema}".usage_daily') AS t`)).rows[0].t !== null;
    if (hasDaily) await admin.query(`VACUUM ANALYZE "${schema}".usage_daily`);
    const daily = hasDaily
      ? Number((await admin.query(`SELECT count(*) AS n FROM "${schema}".usage_daily`)).rows[0].n)
      : 0;
    rows.push([
      `PostgreSQL: populate ${opts.records} records (one INSERT … SELECT${hasDaily ? ', daily sums by the trigger' : ''})`,
      `${fmt((nowMs() - t0) / 1000, 1)} s${hasDaily ? `, ${daily} daily-sum rows` : ', no daily sums (before)'}`,
      '–',
      '–',
    ]);

    const from = first;
    const to = Math.floor(now / DAY_MS) * DAY_MS;
    const cases = [
      ['30 whole days, group_by=key,backend', { from, to, groupBy: ['key', 'backend'] }],
      ['30 whole days, group_by=day,key,backend,model', { from, to, groupBy: ['day', 'key', 'backend', 'model'] }],
      ['30 whole days, group_by=day, one key', { from, to, groupBy: ['day'], key: 'team-7' }],
      [
        '30 days cut mid-day at both ends, key,backend',
        { from: from + 3_600_000, to: to - 3_600_000, groupBy: ['key', 'backend'] },
      ],
    ];
    for (const [label, q] of cases) {
      const { s, last } = await timed(opts.pgQueries, () => store.query(q));
      rows.push([
        `PostgreSQL store query, ${label} (${last.rows.length} rows)`,
        cell(s),
        '≤ 500 ms p99',
        s.p99 <= 500 ? 'met' : 'MISSED',
      ]);
      if (!q.key && q.from === from && last.totals.requests !== opts.records) {
        throw new Error(`query counted ${last.totals.requests} records`);
      }
    }

    server = await startServerProcess(
      scratch,
      {
        server: { host: '127.0.0.1', port: 0, log_level: 'warn' },
        usage: { store: 'postgres', retention_days: 0 },
        cluster: { postgres_url: PG_URL, postgres_schema: schema },
      },
      { name: 'pg-server' },
    );
    const day = (ms) => new Date(ms).toISOString().slice(0, 10);
    for (const groupBy of ['key,backend', 'day,key,backend,model']) {
      const query = `from=${day(from)}&to=${day(to)}&group_by=${groupBy}`;
      const { s } = await timed(opts.pgQueries, () => getUsage(server.url, query, opts.records));
      rows.push([
        `PostgreSQL GET /api/v1/usage 30 days group_by=${groupBy}`,
        cell(s),
        '≤ 500 ms p99',
        s.p99 <= 500 ? 'met' : 'MISSED',
      ]);
    }
    await server.stop();
    server = undefined;

    // what the daily sums cost the writer: appends of 100 records (today), through the store
    let n = 0;
    const { s } = await timed(Math.max(20, opts.pgQueries), () =>
      store.append(Array.from({ length: 100 }, () => record(n++, now - 60_000 + (n % 1000)))),
    );
    rows.push(['PostgreSQL append of 100 records (one INSERT)', cell(s), '(informational)', '–']);
  } finally {
    if (server) await server.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}
