#!/usr/bin/env node
// Jobs across two server processes on one PostgreSQL job store (docs/postgres.md, "Jobs across
// processes"). PostgreSQL: CLINVK_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test
// (a schema of its own, dropped at the end).
//
// Usage:  node scripts/bench/jobs-nodes.mjs [--creates=100] [--rounds=3] [--live-lines=150]
//                                           [--live-interval=20] [--burst=200]
//
// 1. create → `running` visible, free slot, on the PostgreSQL job store: POST /api/v1/jobs on node A
//    one at a time (scripts/bench/fixtures/claude-sh), GET polled every ~1 ms until the status is
//    no longer `queued` (the §12.4 figure, measured there on the file store).
// 2. Readers on both nodes of one live job run by A (scripts/bench/fixtures/claude-stream: a delta
//    every --live-interval ms stamped with process.hrtime right before the write): latency
//    receive − write of every `message` event for a reader on A (the driving node: from memory)
//    and one on B (another node: from the stored batches, woken by NOTIFY). Per round p50/p99;
//    the table gives the medians over --rounds.
// 3. Burst: --burst jobs created at once, alternately on A and B (a few ms each): all succeed, each
//    CLI started exactly once (start lines of the fake, by tag), the share each node ran, the time
//    to all done.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  BENCH_DIR,
  PG_URL,
  ensureBuilt,
  ensureExecutable,
  fmt,
  hr,
  makeScratch,
  nowMs,
  onCleanup,
  parseArgs,
  printFacts,
  runMain,
  sleep,
  startServerProcess,
  summarize,
  table,
} from './lib/common.mjs';
import { dropSchema } from './lib/bench-cluster.mjs';
import { api, createJob, followStamped, jobsServerConfig, seenStarted, settle } from './lib/jobs-api.mjs';

const opts = parseArgs(process.argv.slice(2), {
  creates: 100,
  rounds: 3,
  liveLines: 150,
  liveInterval: 20,
  burst: 200,
});
const SCHEMA = `clinvk_bench_nodes_${randomBytes(4).toString('hex')}`;
const SH = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-sh'));
const NODE_FAKE = ensureExecutable(path.join(BENCH_DIR, 'fixtures/claude-stream'));
const median = (xs) => summarize(xs).p50;

function nodeConfig(scratch, name, command, env) {
  return jobsServerConfig(scratch, {
    command,
    env,
    jobs: { store: 'postgres', max_queued: 5000 },
    cluster: { postgres_url: PG_URL, postgres_schema: SCHEMA, node_id: name },
  });
}

async function startNodes(scratch, command, env = {}) {
  return Promise.all(
    ['A', 'B'].map((name) =>
      startServerProcess(scratch, nodeConfig(scratch, name, command, env), { exposeGc: false, name: `node-${name}` }),
    ),
  );
}

async function createToRunning(scratch, rows) {
  const [a, b] = await startNodes(scratch, SH);
  const visible = [];
  try {
    for (let i = 0; i < opts.creates + 10; i++) {
      const t0 = nowMs();
      const job = await createJob(a.url, `tag=c${i} lines=0 interval=0`);
      const seen = await seenStarted(a.url, job, nowMs());
      await settle(a.url, job.id);
      if (i >= 10) visible.push(seen - t0);
    }
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  const v = summarize(visible);
  rows.push([
    'create → `running` visible, PostgreSQL store (ms)',
    `${fmt(v.p50, 2)} / ${fmt(v.p99, 2)}`,
    '≤ 5 p99 (file store target)',
    `n=${v.n}`,
  ]);
}

/** Pushes receive − write (ms) of the stamped `message` events of one NDJSON events stream. */
async function follow(url, id, lat) {
  const res = await fetch(`${url}/api/v1/jobs/${id}/events`);
  // events written before this reader was connected are a replay, not live
  const since = hr();
  await followStamped(res, lat, () => since);
}

async function readers(scratch, rows) {
  const [a, b] = await startNodes(scratch, NODE_FAKE);
  const per = { a50: [], a99: [], b50: [], b99: [], added: [] };
  try {
    await settle(a.url, (await createJob(a.url, 'lines=10 interval=5')).id); // warm-up
    for (let r = 0; r < opts.rounds; r++) {
      // created on A while B is idle: B may claim it too; "near" reads from the node that runs it
      const job = await createJob(a.url, `lines=${opts.liveLines} interval=${opts.liveInterval}`);
      const runner = await ranBy([a, b], job.id);
      const near = [];
      const far = [];
      await Promise.all([follow(runner.url, job.id, near), follow((runner === a ? b : a).url, job.id, far)]);
      const n = summarize(near);
      const f = summarize(far);
      per.a50.push(n.p50);
      per.a99.push(n.p99);
      per.b50.push(f.p50);
      per.b99.push(f.p99);
      per.added.push(f.p99 - n.p99);
    }
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  const note = `${opts.liveLines} events every ${opts.liveInterval} ms, median of ${opts.rounds} rounds`;
  rows.push([
    'live reader on the driving node (ms)',
    `${fmt(median(per.a50), 2)} / ${fmt(median(per.a99), 2)}`,
    '—',
    note,
  ]);
  rows.push([
    'live reader on the other node (ms)',
    `${fmt(median(per.b50), 2)} / ${fmt(median(per.b99), 2)}`,
    '—',
    'stored batches (≤ 20 ms apart) + NOTIFY',
  ]);
  rows.push(['  added p99 on the other node (ms)', fmt(median(per.added), 2), '—', '']);
}

/** The node whose executions list the job (it drives it). */
async function ranBy(nodes, id) {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    for (const n of nodes) {
      const list = (await api(n.url, 'GET', '/api/v1/executions')).body.data.executions;
      if (list.some((e) => e.job_id === id)) return n;
    }
    await sleep(5);
  }
  throw new Error(`job ${id} did not start`);
}

async function burst(scratch, rows) {
  const spawnLog = path.join(scratch, 'spawn.log');
  const [a, b] = await startNodes(scratch, SH, { BENCH_SPAWN_LOG: spawnLog });
  try {
    const t0 = nowMs();
    const jobs = await Promise.all(
      Array.from({ length: opts.burst }, (_, i) => createJob(i % 2 ? b.url : a.url, `tag=b${i} lines=0 interval=0`)),
    );
    const done = await Promise.all(jobs.map((j, i) => settle(i % 2 ? a.url : b.url, j.id)));
    const allMs = nowMs() - t0;
    const tags = fs
      .readFileSync(spawnLog, 'utf8')
      .split('\n')
      .filter((l) => /^b\d+ /.test(l))
      .map((l) => l.slice(0, l.indexOf(' ')));
    const ok = done.filter((j) => j.status === 'succeeded').length;
    rows.push([
      `burst of ${opts.burst} jobs on two nodes`,
      `${ok} succeeded; ${new Set(tags).size} started, ${tags.length - new Set(tags).size} twice`,
      'each once',
      new Set(tags).size === opts.burst && tags.length === opts.burst && ok === opts.burst ? 'met' : 'MISSED',
    ]);
    rows.push(['  burst: all done (s)', fmt(allMs / 1000, 2), '—', '2 nodes × 2 job slots, bash fake']);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

async function main() {
  ensureBuilt();
  printFacts('Jobs across two nodes on PostgreSQL (scripts/bench/jobs-nodes.mjs)');
  onCleanup(() => dropSchema(SCHEMA).catch(() => undefined));
  const scratch = makeScratch('clinvk-bench-jobs-nodes-');
  const rows = [];
  for (const [name, fn] of [
    ['create', createToRunning],
    ['readers', readers],
    ['burst', burst],
  ]) {
    await fn(path.join(scratch, name), rows).catch((err) => {
      process.stderr.write(`${name}: ${err?.stack ?? err}\n`);
      rows.push([name, 'FAILED', '', String(err?.message ?? err).slice(0, 120)]);
    });
  }
  console.log(table(['measure', 'p50 / p99 (or value)', 'target', 'note'], rows));
}

runMain(main, 20 * 60 * 1000);
