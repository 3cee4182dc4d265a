#!/usr/bin/env node
// Session store benchmark: create, turn (claim + completeTurn) and list (filter + page) timings
// through the store API at 1k, 10k and 100k sessions, for the file store and then the PostgreSQL
// store (claim p99 ≤ 10 ms and a filtered page with its total p99 ≤ 50 ms at 100k sessions).
//
// Usage:  npm run build && node scripts/bench/sessions.mjs [sizes…]
//         (default sizes 1000 10000 100000; CLINVK_BENCH_STORE=<path to sessions/file/index.js> overrides the
//          compiled module, CLINVK_BENCH_DIR=<dir> the scratch directory, default the OS temp dir;
//          CLINVK_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) the database of
//          the PostgreSQL rows, which use a schema of their own and drop it; CLINVK_BENCH_POSTGRES=0
//          leaves them out)
//
// The population is written directly as record files (creating 100k sessions one by one through
// the API would only measure the same create path 100k times); the first open then rebuilds the
// index from the records, which is reported as "open (rebuild)". Everything else goes through the
// SessionStore API.
import { createRequire } from 'module';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { fileURLToPath } from 'url';
import { execFileSync } from 'child_process';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const modPath = process.env.CLINVK_BENCH_STORE ?? path.join(root, 'dist/src/sessions/file/index.js');
const { FileSessionStore, serializeRecord } = require(modPath);

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
if (sizes.length === 0) sizes.push(1000, 10000, 100000);
const scratch = process.env.CLINVK_BENCH_DIR ?? os.tmpdir();

const BACKENDS = ['claude', 'codex', 'gemini'];
const STATUSES = ['completed', 'completed', 'completed', 'error'];
const STALE = 60 * 60 * 1000;
const OPS = 200;
const LISTS = 50;

function populate(dir, n) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const base = Date.parse('2026-01-01T00:00:00.000Z');
  const ids = [];
  for (let i = 0; i < n; i++) {
    const id = randomBytes(16).toString('hex');
    const t = new Date(base + i * 1000).toISOString();
    const rec = {
      id,
      backend: BACKENDS[i % 3],
      created_at: t,
      last_used: t,
      working_dir: '/home/bench/project',
      backend_session_id: `bs-${i}`,
      model: 'haiku',
      initial_prompt: `prompt number ${i}: ${'lorem ipsum '.repeat(8)}`,
      status: STATUSES[i % 4],
      turn_count: 1 + (i % 7),
      token_usage: { input_tokens: 1000 + i, output_tokens: 100 + (i % 50), cached_tokens: 0 },
      tags: ['api'],
      metadata: { bench: 'yes' },
    };
    fs.writeFileSync(path.join(dir, `${id}.json`), serializeRecord(rec), { mode: 0o600 });
    ids.push(id);
  }
  return ids;
}

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const now = () => process.hrtime.bigint();

/** Milliseconds of `n` prefix look-ups (8 characters) spread over `ids`. */
async function timeResolves(store, ids, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    await store.resolve(ids[(i * 31) % ids.length].slice(0, 8));
    out.push(ms(t0));
  }
  return out;
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const median = s[Math.floor(s.length / 2)];
  const p95 = s[Math.min(s.length - 1, Math.floor(s.length * 0.95))];
  return { mean, median, p95, max: s[s.length - 1] };
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const cell = (st) => `${fmt(st.median)} / ${fmt(st.p95)}`;

async function benchSize(n) {
  const home = fs.mkdtempSync(path.join(scratch, `clinvk-bench-${n}-`));
  const dir = path.join(home, 'sessions');
  const out = { n };
  try {
    let t0 = now();
    const ids = populate(dir, n);
    out.populate = ms(t0);
    // Flush the population's dirty pages first so that background write-back does not slow the
    // fsyncs being measured.
    if (process.platform !== 'win32') execFileSync('sync');

    t0 = now();
    let store = await FileSessionStore.open({ dir });
    out.openRebuild = ms(t0);
    if (!(await store.health()).available) throw new Error('store unavailable');
    await store.close();

    t0 = now();
    store = await FileSessionStore.open({ dir });
    out.openIndexed = ms(t0);
    t0 = now();
    await store.idle(); // background start-up check (one stat per record file)
    out.check = ms(t0);
    t0 = now();
    await store.list({ backend: 'claude', status: 'completed', limit: 100, offset: 0 });
    out.firstList = ms(t0);

    const create = [];
    for (let i = 0; i < OPS; i++) {
      t0 = now();
      await store.create({ backend: 'claude', working_dir: '/w', tags: ['api'], status: 'completed', turn_count: 1 });
      create.push(ms(t0));
    }
    out.create = stats(create);

    const turn = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < OPS; i++) {
      const id = ids[(i * 7919) % ids.length];
      t0 = now();
      await store.claimTurn(id, STALE);
      await store.completeTurn(id, { success: true, usage: { input_tokens: 10, output_tokens: 5 } }, true);
      turn.push(ms(t0));
    }
    const cpu = process.cpuUsage(cpu0);
    // CPU time of this process per turn (user + system): the store's own work, without I/O waits.
    out.turnCpu = (cpu.user + cpu.system) / 1000 / OPS;
    out.turn = stats(turn);

    // List with a filter and a page, each after another process-visible mutation (journal catch-up).
    const journalBefore = fs.statSync(path.join(dir, 'index.journal')).size;
    const list = [];
    let total = 0;
    for (let i = 0; i < LISTS; i++) {
      const id = ids[(i * 104729 + 13) % ids.length];
      await store.claimTurn(id, STALE);
      await store.completeTurn(id, { success: true }, true);
      const offset = Math.floor(((i % 10) / 10) * Math.max(0, n / 6 - 100));
      t0 = now();
      const page = await store.list({ backend: 'claude', status: 'completed', limit: 100, offset });
      list.push(ms(t0));
      total = page.total;
      if (page.sessions.length === 0) throw new Error('empty page');
    }
    out.list = stats(list);
    // Index bytes written per mutation (journal growth; no compaction at these counts).
    out.indexBytesPerOp = (fs.statSync(path.join(dir, 'index.journal')).size - journalBefore) / (2 * LISTS);
    out.listTotal = total;

    out.resolve = stats(await timeResolves(store, ids, LISTS));

    // A second store on the same directory sees the writes: incremental read cost.
    const other = await FileSessionStore.open({ dir });
    const follow = [];
    for (let i = 0; i < 20; i++) {
      await store.claimTurn(ids[i], STALE);
      await store.completeTurn(ids[i], { success: true }, true);
      t0 = now();
      await other.count();
      follow.push(ms(t0));
    }
    out.follow = stats(follow);
    await other.close();
    await store.close();
    out.journalBytes = fs.statSync(path.join(dir, 'index.journal')).size;
    out.snapshotBytes = fs.statSync(path.join(dir, 'index.json')).size;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
  return out;
}

const fileOnly = process.env.CLINVK_BENCH_FILE !== '0';
const rows = [];
for (const n of fileOnly ? sizes : []) {
  process.stderr.write(`benchmarking ${n} sessions…\n`);
  rows.push(await benchSize(n));
}

const header = [
  'sessions',
  'populate (files)',
  'open (rebuild)',
  'open (index)',
  'bg check',
  'first list',
  'create',
  'turn (claim+complete)',
  'turn CPU',
  'list filter+page',
  'resolve prefix',
  'follower catch-up',
  'index B/write',
];
const table = rows.map((r) => [
  String(r.n),
  `${fmt(r.populate)}`,
  `${fmt(r.openRebuild)}`,
  `${fmt(r.openIndexed)}`,
  `${fmt(r.check)}`,
  `${fmt(r.firstList)}`,
  cell(r.create),
  cell(r.turn),
  fmt(r.turnCpu),
  cell(r.list),
  cell(r.resolve),
  cell(r.follow),
  `${Math.round(r.indexBytesPerOp)}`,
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cols) => `| ${cols.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
if (rows.length > 0) {
  console.log(
    'File store. All times in ms; "a / b" = median / p95. create, turn, list, resolve over 200/200/50/50 calls;',
  );
  console.log(
    'create and turn are dominated by the two fsyncs of each atomic write (turn = claim + complete = 2 writes).',
  );
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(line(row));
  console.log(`list total (claude+completed): ${rows.map((r) => `${r.n}: ${r.listTotal}`).join(', ')}`);
  const maxList = Math.max(...rows.map((r) => r.list.p95));
  console.log(
    `target list p95 ≤ 100 ms at the largest size: ${rows[rows.length - 1].list.p95 <= 100 ? 'met' : 'NOT met'} (max p95 ${fmt(maxList)} ms)`,
  );
}

// ------------------------------------------------------------------------------------ PostgreSQL

const PG_URL = process.env.CLINVK_BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const PG_OPS = 1000;
const PG_LISTS = 300;

function stats99(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(s.length * q))];
  return { median: at(0.5), p99: at(0.99), max: s[s.length - 1] };
}
const cell99 = (st) => `${fmt(st.median)} / ${fmt(st.p99)}`;

async function benchPostgres(n) {
  const { PostgresDatabase } = require(path.join(root, 'dist/src/db/postgres/index.js'));
  const { PostgresSessionStore } = require(path.join(root, 'dist/src/sessions/postgres/index.js'));
  const { Client } = require('pg');
  const schema = `clinvk_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  const out = { n };
  const db = new PostgresDatabase({ url: PG_URL, schema, poolSize: 4 });
  try {
    await db.ready(); // migrations
    let t0 = now();
    // The population in one statement (32-hex ids, a second apart, backends and statuses mixed as
    // in the file rows); then VACUUM ANALYZE as autovacuum would after a load.
    await admin.query(
      `INSERT INTO "${schema}".sessions (id, backend, owner, status, created_at, last_used, claimed_by, data)
       SELECT md5(random()::text || i), (ARRAY['claude','codex','gemini'])[i % 3 + 1], 'team-' || (i % 5),
              (ARRAY['completed','completed','completed','error'])[i % 4 + 1], ts, ts, NULL,
              jsonb_build_object('working_dir', '/home/bench/project', 'backend_session_id', 'bs-' || i,
                'model', 'haiku', 'initial_prompt', 'prompt number ' || i || ': ' || repeat('lorem ipsum ', 8),
                'turn_count', 1 + i % 7, 'token_usage', jsonb_build_object('input_tokens', 1000 + i, 'output_tokens', 100 + i % 50),
                'tags', jsonb_build_array('api'), 'metadata', jsonb_build_object('bench', 'yes'))
         FROM generate_series(0, $1 - 1) AS i,
              LATERAL (SELECT timestamptz '2026-01-01T00:00:00Z' + i * interval '1 second' AS ts) t`,
      [n],
    );
    await admin.query(`VACUUM ANALYZE "${schema}".sessions`);
    out.populate = ms(t0);
    const ids = (await admin.query(`SELECT id FROM "${schema}".sessions`)).rows.map((r) => r.id);

    db.acquire(); // the store releases it on close; the benchmark ends it itself
    const store = await PostgresSessionStore.open({ db });

    const create = [];
    for (let i = 0; i < 200; i++) {
      t0 = now();
      await store.create({ backend: 'claude', working_dir: '/w', tags: ['api'], status: 'completed', turn_count: 1 });
      create.push(ms(t0));
    }
    out.create = stats99(create);

    const claim = [];
    const complete = [];
    for (let i = 0; i < PG_OPS; i++) {
      const id = ids[(i * 7919) % ids.length];
      t0 = now();
      await store.claimTurn(id, STALE);
      claim.push(ms(t0));
      t0 = now();
      await store.completeTurn(id, { success: true, usage: { input_tokens: 10, output_tokens: 5 } }, true);
      complete.push(ms(t0));
    }
    out.claim = stats99(claim);
    out.complete = stats99(complete);

    // A busy claim: 0 rows updated, then the existence check (→ 409).
    const busyId = ids[1];
    await store.claimTurn(busyId, STALE);
    const busy = [];
    for (let i = 0; i < 200; i++) {
      t0 = now();
      await store.claimTurn(busyId, STALE).catch((e) => {
        if (e.code !== 'session_busy') throw e;
      });
      busy.push(ms(t0));
    }
    out.busy = stats99(busy);

    const list = [];
    const listOwner = [];
    let total = 0;
    for (let i = 0; i < PG_LISTS; i++) {
      const offset = Math.floor(((i % 10) / 10) * Math.max(0, n / 6 - 100));
      t0 = now();
      const page = await store.list({ backend: 'claude', status: 'completed', limit: 100, offset });
      list.push(ms(t0));
      total = page.total;
      if (page.sessions.length === 0) throw new Error('empty page');
      t0 = now();
      await store.list({ owner: 'team-3', limit: 50, offset: 0 });
      listOwner.push(ms(t0));
    }
    out.list = stats99(list);
    out.listOwner = stats99(listOwner);
    out.listTotal = total;

    out.resolve = stats99(await timeResolves(store, ids, PG_LISTS));
    await store.close();
  } finally {
    await db.end();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
  return out;
}

if (process.env.CLINVK_BENCH_POSTGRES !== '0') {
  const pgRows = [];
  try {
    for (const n of sizes) {
      process.stderr.write(`benchmarking ${n} sessions on PostgreSQL…\n`);
      pgRows.push(await benchPostgres(n));
    }
  } catch (e) {
    console.log(`PostgreSQL rows left out: ${e.message} (CLINVK_BENCH_POSTGRES_URL=${PG_URL})`);
  }
  if (pgRows.length > 0) {
    const h = [
      'sessions',
      'populate (SQL)',
      'create',
      'claim',
      'claim busy (409)',
      'complete turn',
      'list filter+page+total',
      'list owner',
      'resolve prefix',
    ];
    const t = pgRows.map((r) => [
      String(r.n),
      fmt(r.populate),
      cell99(r.create),
      cell99(r.claim),
      cell99(r.busy),
      cell99(r.complete),
      cell99(r.list),
      cell99(r.listOwner),
      cell99(r.resolve),
    ]);
    const w = h.map((x, i) => Math.max(x.length, ...t.map((row) => row[i].length)));
    const ln = (cols) => `| ${cols.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
    console.log('');
    console.log(
      `PostgreSQL store (${PG_URL.replace(/:[^:@/]*@/, ':***@')}, pool 4). ms, "a / b" = median / p99; claim and complete over ${PG_OPS} calls, lists and resolve over ${PG_LISTS}; load average ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} (${os.cpus().length} CPUs).`,
    );
    console.log(ln(h));
    console.log(`|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
    for (const row of t) console.log(ln(row));
    const last = pgRows[pgRows.length - 1];
    console.log(`list total (claude+completed): ${pgRows.map((r) => `${r.n}: ${r.listTotal}`).join(', ')}`);
    console.log(
      `target at ${last.n} sessions: claim p99 ≤ 10 ms: ${last.claim.p99 <= 10 ? 'met' : 'NOT met'} (${fmt(last.claim.p99)} ms); filtered page with total p99 ≤ 50 ms: ${last.list.p99 <= 50 ? 'met' : 'NOT met'} (${fmt(last.list.p99)} ms)`,
    );
  }
}

// The PostgreSQL usage aggregation (1 000 000 records) is measured by scripts/bench/usage.mjs.
