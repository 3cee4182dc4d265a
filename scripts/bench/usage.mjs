#!/usr/bin/env node
// Usage accounting benchmark (docs/usage.md): the three targets
//   1. admission check + record per request  ≤ 0.3 ms p99   (in-process: KeyLimiter.admit, the
//      ticket's granted/started/release, the record built from a run report and handed to
//      UsageService.record; the batched appends are timed separately, amortized per record)
//   2. GET /api/v1/usage grouping 1 000 000 records over 30 days ≤ 500 ms   (through a real server
//      process over HTTP, and the store query alone)
//   3. start-up with 1 000 000 records ≤ 3 s   (UsageService.start: open + retention + today's
//      counters; after a graceful shutdown the daily rollups are read, after a crash the records
//      since the last rollup write are parsed again — both shown; plus the server process's
//      time to ready with and without the records)
// Then the PostgreSQL usage store (lib/usage-postgres.mjs): target 2 on the same number of records
// (store query and GET /api/v1/usage, p50/p99 over --pg-queries runs) and the cost of an append.
//
// Usage:  node scripts/bench/usage.mjs [--records=1000000] [--days=30] [--keys=20] [--requests=100000] [--queries=7]
//                                      [--pg-queries=20] [--stores=file,postgres]
//         (builds dist/ when it is older than src/; CLINVK_BENCH_DIR=<dir> for the scratch directory;
//          CLINVK_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test, for the
//          PostgreSQL rows, in a schema of their own that is dropped at the end)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import {
  ROOT,
  ensureBuilt,
  fmt,
  makeScratch,
  nowMs,
  parseArgs,
  printFacts,
  runMain,
  startServerProcess,
  summarize,
  table,
} from './lib/common.mjs';
import { benchPostgresUsage, getUsage } from './lib/usage-postgres.mjs';

const require = createRequire(import.meta.url);
const opts = parseArgs(process.argv.slice(2), {
  records: 1_000_000,
  days: 30,
  keys: 20,
  requests: 100_000,
  queries: 7,
  pgQueries: 20,
  stores: 'file,postgres',
});
const STORES = String(opts.stores).split(',');
const DAY_MS = 86_400_000;
const BACKENDS = ['claude', 'codex', 'gemini'];
const MODELS = { claude: ['sonnet', 'opus'], codex: ['gpt-5.5', undefined], gemini: ['gemini-2.5-pro', undefined] };
const STYLES = ['native', 'native', 'openai', 'anthropic'];
const STATUSES = ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed', 'timeout', 'canceled'];
const silent = { error() {}, warn() {}, info() {}, debug() {} };

function record(i, time) {
  const backend = BACKENDS[i % 3];
  const model = MODELS[backend][(i >> 2) % 2];
  const r = {
    time: new Date(time).toISOString(),
    key: `team-${i % opts.keys}`,
    api_style: STYLES[i % 4],
    operation: 'prompt',
    backend,
    working_dir: '/srv/work/project',
    approval_mode: 'default',
    sandbox_mode: 'default',
    status: STATUSES[i % 8],
    duration_ms: 1000 + (i % 5000),
    input_tokens: 1650 + (i % 100),
    output_tokens: 6 + (i % 50),
    cached_tokens: i % 7,
    estimated: i % 10 === 0,
    request_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  };
  if (model) r.model = model;
  return r;
}

/** `n` records spread evenly over the `days` UTC days before today, appended in batches through the store API. */
async function populate(FileUsageStore, dir, n, days, now) {
  const store = new FileUsageStore(dir, { rollupIntervalMs: 0 });
  await store.open();
  const first = Math.floor(now / DAY_MS) * DAY_MS - days * DAY_MS;
  const step = (days * DAY_MS) / n;
  const t0 = nowMs();
  for (let i = 0; i < n; i += 10_000) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 10_000); j++) batch.push(record(j, first + Math.floor(j * step)));
    await store.append(batch);
  }
  await store.close();
  return nowMs() - t0;
}

async function main() {
  ensureBuilt();
  const { FileUsageStore } = require(path.join(ROOT, 'dist/src/usage/file/file-store.js'));
  const { UsageService } = require(path.join(ROOT, 'dist/src/usage/service.js'));
  const { usageRecord } = require(path.join(ROOT, 'dist/src/execution/usage-record.js'));
  const scratch = makeScratch('clinvk-bench-usage-');
  printFacts('usage accounting (scripts/bench/usage.mjs)');
  console.log(
    `records=${opts.records} over days=${opts.days}, keys=${opts.keys}, requests=${opts.requests}, queries=${opts.queries}\n`,
  );
  const rows = [];
  const now = Date.now();

  if (STORES.includes('file')) await benchFile(rows, now, scratch, { FileUsageStore, UsageService, usageRecord });
  if (STORES.includes('postgres')) await benchPostgresUsage({ opts, now, scratch, record, rows });

  console.log(table(['measure', 'result', 'target', ''], rows));
}

/** The file store's rows: targets 1-3 (the original benchmark). */
async function benchFile(rows, now, scratch, { FileUsageStore, UsageService, usageRecord }) {
  // 1. admission check + record, in-process (a key with all three limits, never reached)
  {
    const dir = path.join(scratch, 'hot', 'usage');
    const usage = new UsageService(new FileUsageStore(dir), { retentionDays: 90, logger: silent });
    await usage.start();
    const key = {
      name: 'team-a',
      limits: { requests_per_day: 1e12, tokens_per_day: 1e15, max_concurrent: 1e9 },
    };
    const plan = {
      backend: 'claude',
      cwd: '/srv/work/project',
      model: 'sonnet',
      approvalMode: 'default',
      sandboxMode: 'default',
      promptBytes: 120,
      mode: 'json',
    };
    const report = {
      status: 'success',
      exitCode: 0,
      durationMs: 1234,
      output: 'MOCK-REPLY',
      usage: { input_tokens: 1650, output_tokens: 6, cached_tokens: 0 },
    };
    const samples = new Float64Array(opts.requests);
    const warm = Math.min(5000, opts.requests);
    for (let i = 0; i < warm + opts.requests; i++) {
      const ctx = {
        requestId: `req-${i}`,
        principal: key,
        apiStyle: 'native',
        operation: 'prompt',
        meta: { key: 'team-a' },
      };
      const t0 = nowMs();
      const t = await usage.limits.admit(key, { quotaItems: 1, checkConcurrency: true, countQueued: true });
      t.granted();
      t.started();
      t.release();
      usage.record(usageRecord(plan, report, ctx, now, undefined, 0));
      const dt = nowMs() - t0;
      if (i >= warm) samples[i - warm] = dt;
      // let the batched appends run as they would between requests
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    const s = summarize(samples);
    const f0 = nowMs();
    await usage.flush();
    const flushMs = nowMs() - f0;
    await usage.close();
    rows.push([
      'admission check + record (per request)',
      `p50 ${fmt(s.p50 * 1000, 1)} µs, p99 ${fmt(s.p99 * 1000, 1)} µs, max ${fmt(s.max, 2)} ms`,
      '≤ 0.3 ms p99',
      s.p99 <= 0.3 ? 'met' : 'MISSED',
    ]);
    const files = fs.readdirSync(dir).filter((n) => n.endsWith('.ndjson'));
    const bytes = files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    rows.push([
      '  final flush of the last batch',
      `${fmt(flushMs, 1)} ms (${(bytes / (warm + opts.requests)).toFixed(0)} B per record on disk)`,
      '–',
      '–',
    ]);
  }

  // 2./3. one million records over 30 days
  const serverHome = path.join(scratch, 'server-home');
  const dir = path.join(serverHome, 'usage');
  const popMs = await populate(FileUsageStore, dir, opts.records, opts.days, now);
  const diskBytes = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  rows.push([
    `populate ${opts.records} records (store.append, batches of 10 000)`,
    `${fmt(popMs / 1000, 1)} s, ${(diskBytes / 1048576).toFixed(0)} MiB on disk`,
    '–',
    '–',
  ]);

  const startOnce = async () => {
    const u = new UsageService(new FileUsageStore(dir, { rollupIntervalMs: 0 }), { retentionDays: 90, logger: silent });
    const t0 = nowMs();
    await u.start();
    const ms = nowMs() - t0;
    return { u, ms };
  };
  {
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const { u, ms } = await startOnce();
      runs.push(ms);
      await u.close();
    }
    const ms = Math.min(...runs);
    rows.push([
      `start-up with ${opts.records} records (rollups, best of 3)`,
      `${fmt(ms, 1)} ms`,
      '≤ 3 s',
      ms <= 3000 ? 'met' : 'MISSED',
    ]);
  }
  {
    // a crash before any rollup was written: every record is parsed again
    for (const n of fs.readdirSync(dir)) if (n.endsWith('.rollup.json')) fs.rmSync(path.join(dir, n));
    const { u, ms } = await startOnce();
    rows.push([
      `start-up with ${opts.records} records, every rollup deleted (crash, worst case)`,
      `${fmt(ms, 1)} ms`,
      '≤ 3 s',
      ms <= 3000 ? 'met' : 'MISSED',
    ]);
    const from = Math.floor(now / DAY_MS) * DAY_MS - opts.days * DAY_MS;
    const to = Math.floor(now / DAY_MS) * DAY_MS;
    {
      // days without a complete rollup are loaded when first needed: the first query pays for them
      const t0 = nowMs();
      await u.query({ from, to, groupBy: ['day'] });
      rows.push([
        '  first query after that (parses every record once, rewrites the rollups)',
        `${fmt((nowMs() - t0) / 1000, 1)} s`,
        '(informational)',
        '–',
      ]);
    }
    for (const groupBy of [
      ['key', 'backend'],
      ['day', 'key', 'backend', 'model'],
    ]) {
      const samples = [];
      let result;
      for (let i = 0; i < opts.queries; i++) {
        const t0 = nowMs();
        result = await u.query({ from, to, groupBy });
        samples.push(nowMs() - t0);
      }
      const s = summarize(samples);
      rows.push([
        `store query, 30 whole days, group_by=${groupBy.join(',')} (${result.rows.length} rows)`,
        `median ${fmt(s.p50, 1)} ms, max ${fmt(s.max, 1)} ms`,
        '≤ 500 ms',
        s.max <= 500 ? 'met' : 'MISSED',
      ]);
      if (result.totals.requests !== opts.records) throw new Error(`query counted ${result.totals.requests} records`);
    }
    // a range starting and ending inside a day reads those two days' records
    const samples = [];
    for (let i = 0; i < opts.queries; i++) {
      const t0 = nowMs();
      await u.query({ from: from + 3_600_000, to: to - 3_600_000, groupBy: ['key', 'backend'] });
      samples.push(nowMs() - t0);
    }
    const s = summarize(samples);
    rows.push([
      'store query, 30 days cut mid-day at both ends',
      `median ${fmt(s.p50, 1)} ms, max ${fmt(s.max, 1)} ms`,
      '≤ 500 ms',
      s.max <= 500 ? 'met' : 'MISSED',
    ]);
    await u.close(); // writes the rollups again
  }

  // through HTTP: a real server process on the populated home (its start-up includes the usage store)
  {
    const emptyScratch = path.join(scratch, 'empty');
    fs.mkdirSync(emptyScratch);
    const t0 = nowMs();
    const empty = await startServerProcess(emptyScratch, { server: { host: '127.0.0.1', port: 0 } });
    const emptyMs = nowMs() - t0;
    await empty.stop();
    const t1 = nowMs();
    const srv = await startServerProcess(scratch, { server: { host: '127.0.0.1', port: 0 } });
    const fullMs = nowMs() - t1;
    rows.push([
      `server process ready: empty home / ${opts.records} records`,
      `${fmt(emptyMs, 0)} ms / ${fmt(fullMs, 0)} ms`,
      '≤ 3 s',
      fullMs <= 3000 ? 'met' : 'MISSED',
    ]);
    const day = (ms) => new Date(ms).toISOString().slice(0, 10);
    const fromDay = day(now - opts.days * DAY_MS);
    const toDay = day(now);
    for (const groupBy of ['key,backend', 'day,key,backend,model']) {
      const samples = [];
      for (let i = 0; i < opts.queries; i++) {
        samples.push(await getUsage(srv.url, `from=${fromDay}&to=${toDay}&group_by=${groupBy}`, opts.records));
      }
      const s = summarize(samples);
      rows.push([
        `GET /api/v1/usage 30 days group_by=${groupBy}`,
        `median ${fmt(s.p50, 1)} ms, max ${fmt(s.max, 1)} ms`,
        '≤ 500 ms',
        s.max <= 500 ? 'met' : 'MISSED',
      ]);
    }
    await srv.stop();
  }
}

runMain(main, 30 * 60_000);
