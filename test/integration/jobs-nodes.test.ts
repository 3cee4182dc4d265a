/**
 * Two `clinvk serve` processes (the built command) on one PostgreSQL schema serve the same jobs:
 * a job created on one node is read, followed live and canceled on the other; starting another
 * node leaves running jobs alone; a burst of jobs created on both nodes runs each job exactly once
 * (fake CLI starts counted by pid across both nodes); a node frozen longer than the lease (SIGSTOP)
 * or killed (SIGKILL) leaves its running job `failed` with `server_restarted`, ended by another
 * node; a node stopped with SIGTERM drains its running job. Every JSON answer and every event is
 * checked against the contract.
 */
import { call, cancelJob, events, expectCompleteLog, getJob, promptJob, readEvents, settle } from '../helpers/jobs';
import { postgresConfig, SchemaPool, sql } from '../helpers/postgres';
import { requireBuild, serveProcess, type ServerProcess } from '../helpers/serve-process';
import { isAlive, makeTestEnv, waitFor, type FakeLogEntry, type TestEnv } from '../helpers/server';
import { expectValidSchema } from '../helpers/contract';

const schemas = new SchemaPool();
const schema = schemas.schema();

interface Node {
  name: string;
  env: TestEnv;
  proc: ServerProcess;
}

const nodes: Node[] = [];
const envs: TestEnv[] = [];

/** A node's environment: its own home and fake-CLI log, the shared schema, a short lease. */
function nodeEnv(): TestEnv {
  const pg = postgresConfig(schema) as { cluster: Record<string, unknown>; jobs: Record<string, unknown> };
  const env = makeTestEnv({
    ...pg,
    cluster: { ...pg.cluster, lease_secs: 3 },
    server: { max_concurrent_executions: 2, stream_heartbeat_secs: 1 },
    jobs: { ...pg.jobs, max_running: 2 },
  });
  envs.push(env);
  return env;
}

async function startNode(name: string, env = nodeEnv()): Promise<Node> {
  const node = { name, env, proc: await serveProcess(env) };
  nodes.push(node);
  return node;
}

/** Fake CLI starts (not `--version` probes, not clean-ups) on every node so far. */
function starts(): FakeLogEntry[] {
  return envs.flatMap((e) => e.starts());
}

/** The node whose fake CLI runs the prompt containing `marker`. */
async function runnerOf(marker: string, among: Node[]): Promise<{ runner: Node; other: Node; cli: FakeLogEntry }> {
  return waitFor(() => {
    for (const n of among) {
      const cli = n.env.starts().find((e) => e.argv?.some((a) => a.includes(marker)));
      if (cli) return { runner: n, other: among.find((o) => o !== n)!, cli };
    }
    return undefined;
  }, 20_000);
}

/** Reads a job's NDJSON events as they come; `onEvent` sees each stored event (heartbeats left out). */
async function follow(base: string, id: string, onEvent: (ev: Record<string, any>) => Promise<void> | void) {
  const res = await fetch(`${base}/api/v1/jobs/${id}/events`);
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let pending = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const chunk = decoder.decode(value, { stream: true });
    text += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines.filter(Boolean)) {
      const ev = JSON.parse(line) as Record<string, any>;
      expectValidSchema('NativeStreamEvent', ev);
      if (ev.sequence > 0) await onEvent(ev);
    }
  }
  return events(text).filter((e) => e.sequence > 0);
}

let a: Node;
let b: Node;

beforeAll(async () => {
  requireBuild();
  a = await startNode('A');
  b = await startNode('B');
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.proc.kill()));
  // CLIs orphaned by a killed node
  for (const e of starts()) if (isAlive(e.pid)) process.kill(e.pid, 'SIGKILL');
  for (const env of envs) env.cleanup();
  await schemas.dropAll();
});

test('a job created on one node is read and followed live on the other, to its terminal event', async () => {
  const created = await promptJob(a.proc.url, '[SLOW:300] [TOOL] follow me elsewhere');
  expect(created.status).toBe(202);
  const id = created.body.data.id as string;
  const { runner, other } = await runnerOf('follow me elsewhere', [a, b]);

  const seen = await getJob(other.proc.url, id);
  expect(seen.status).toBe(200);
  expect(seen.body.data).toMatchObject({ id, operation: 'prompt', owner: 'anonymous', backend: 'claude' });

  // the other node follows the job while it runs: its first event comes before the job ended
  let statusAtFirstEvent: string | undefined;
  const followed = await follow(other.proc.url, id, async () => {
    statusAtFirstEvent ??= (await getJob(runner.proc.url, id)).body.data.status;
  });
  expect(statusAtFirstEvent).toBe('running');
  expectCompleteLog(followed);
  expect(followed.at(-1)!.type).toBe('done');

  const done = await settle(other.proc.url, id);
  expect(done.status).toBe('succeeded');
  expect(done.events).toEqual({ count: followed.length, last_sequence: followed.length });
  // both nodes give the same stored log, and the same job
  expect(events((await readEvents(runner.proc.url, id)).body)).toEqual(followed);
  expect((await getJob(runner.proc.url, id)).body.data).toEqual(done);
  // a long poll on the other node answers once the job ended there
  const again = await promptJob(runner.proc.url, '[SLEEP:1500] poll me elsewhere', 'codex');
  const polled = await getJob(other.proc.url, again.body.data.id, 30);
  expect(polled.body.data.status).toBe('succeeded');
}, 60_000);

test('cancel on the other node stops the run: the CLI and its grandchild are gone', async () => {
  const created = await promptJob(b.proc.url, '[GRANDCHILD] [SLEEP:30000] cancel me elsewhere');
  const id = created.body.data.id as string;
  const { runner, other, cli } = await runnerOf('cancel me elsewhere', [a, b]);
  const grandchild = await waitFor(() =>
    runner.env.log().find((e) => e.event === 'grandchild' && e.parent === cli.pid),
  );
  await waitFor(async () => (await getJob(other.proc.url, id)).body.data.status === 'running', 10_000);
  const follower = readEvents(other.proc.url, id);

  const canceled = await cancelJob(other.proc.url, id);
  expect(canceled.status).toBe(200);
  expect(canceled.body.data.status).toBe('canceled');
  expect(canceled.body.data.error.code).toBe('canceled');
  await waitFor(() => !isAlive(cli.pid) && !isAlive(grandchild.pid), 10_000);
  const followed = events((await follower).body);
  expectCompleteLog(followed);
  expect(followed.at(-1)).toMatchObject({ type: 'error', content: { code: 'canceled' } });
  expect((await getJob(runner.proc.url, id)).body.data.status).toBe('canceled');
  // a job the other node holds is active there: deleting it anywhere is refused
  const busy = await promptJob(runner.proc.url, '[SLEEP:30000] delete me elsewhere');
  const owner = await runnerOf('delete me elsewhere', [a, b]);
  await waitFor(async () => (await getJob(owner.other.proc.url, busy.body.data.id)).body.data.status === 'running');
  const del = await call(owner.other.proc.url, 'DELETE', `/api/v1/jobs/${busy.body.data.id}`, 'deleteJob');
  expect(del.status).toBe(409);
  expect(del.body.code).toBe('job_active');
  const stop = await cancelJob(owner.other.proc.url, busy.body.data.id);
  expect(stop.body.data.status).toBe('canceled');
  await waitFor(() => !isAlive(owner.cli.pid), 10_000);
}, 60_000);

test('a job canceled while queued on another node never runs', async () => {
  // both nodes busy: the next job waits in the shared queue
  const busy: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await promptJob(i % 2 ? b.proc.url : a.proc.url, `[SLEEP:30000] hold a slot ${i}`);
    busy.push(r.body.data.id);
  }
  await waitFor(() => starts().filter((e) => e.argv?.some((x) => x.includes('hold a slot'))).length === 4, 20_000);
  const queued = await promptJob(a.proc.url, 'never run me');
  expect((await getJob(b.proc.url, queued.body.data.id)).body.data.status).toBe('queued');
  const canceled = await cancelJob(b.proc.url, queued.body.data.id);
  expect(canceled.body.data.status).toBe('canceled');
  const log = events((await readEvents(a.proc.url, queued.body.data.id)).body);
  expect(log).toHaveLength(1);
  expect(log[0]).toMatchObject({ type: 'error', sequence: 1, content: { code: 'canceled' } });
  for (let i = 0; i < busy.length; i++) {
    const r = await cancelJob(i % 2 ? a.proc.url : b.proc.url, busy[i]);
    expect(r.body.data.status).toBe('canceled');
  }
  expect(starts().some((e) => e.argv?.some((x) => x.includes('never run me')))).toBe(false);
}, 90_000);

test('a burst of jobs created on both nodes runs each job exactly once, on both nodes', async () => {
  const before = starts().length;
  const N = 24;
  const created = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      // most of them on one node: the other takes queued ones from the shared queue
      promptJob(i % 4 === 3 ? b.proc.url : a.proc.url, `[SLEEP:100] burst ${i} end`),
    ),
  );
  for (const r of created) expect(r.status).toBe(202);
  for (const [i, r] of created.entries()) {
    expect((await settle(i % 2 ? a.proc.url : b.proc.url, r.body.data.id, 120_000)).status).toBe('succeeded');
  }
  const burst = starts().filter((e) => e.argv?.some((x) => / burst \d+ end$/.test(x)));
  const perNode = [a, b].map(
    (n) => n.env.starts().filter((e) => e.argv?.some((x) => / burst \d+ end$/.test(x))).length,
  );
  expect(Math.min(...perNode)).toBeGreaterThan(0);
  expect(starts().length - before).toBe(N);
  expect(new Set(burst.map((e) => e.pid)).size).toBe(N);
  const markers = burst.map((e) =>
    Number(/ burst (\d+) end$/.exec(e.argv!.find((x) => / burst \d+ end$/.test(x))!)![1]),
  );
  expect(markers.sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
}, 180_000);

test('a node whose heartbeat lapses (SIGSTOP) loses its running job: it fails on the other node, and the frozen node stops the run and writes nothing more', async () => {
  const created = await promptJob(a.proc.url, '[SLOW:100] [SLEEP:30000] frozen node');
  const id = created.body.data.id as string;
  const { runner, other, cli } = await runnerOf('frozen node', [a, b]);
  await waitFor(async () => (await getJob(other.proc.url, id)).body.data.status === 'running', 10_000);
  const pid = runner.proc.child.pid!;
  process.kill(pid, 'SIGSTOP');
  let failed: Record<string, any>;
  try {
    failed = await settle(other.proc.url, id, 20_000);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  expect(failed.status).toBe('failed');
  expect(failed.error.code).toBe('server_restarted');
  // awake again, the node learns that its job was taken over: the CLI is stopped
  await waitFor(() => !isAlive(cli.pid), 15_000);
  for (const n of [runner, other]) {
    const job = (await getJob(n.proc.url, id)).body.data;
    expect(job).toEqual(failed);
    const log = events((await readEvents(n.proc.url, id)).body);
    expectCompleteLog(log);
    expect(log.at(-1)).toMatchObject({ type: 'error', content: { code: 'server_restarted' } });
  }
}, 90_000);

test('starting another node leaves running jobs alone; SIGKILL of a node fails its running job on the survivor', async () => {
  const created = await promptJob(a.proc.url, '[SLOW:200] [SLEEP:15000] outlive a new node');
  const id = created.body.data.id as string;
  await runnerOf('outlive a new node', [a, b]);
  await waitFor(async () => (await getJob(a.proc.url, id)).body.data.status === 'running', 10_000);
  const c = await startNode('C');
  // longer than the lease: the new node's reconciler ran several times
  await new Promise((r) => setTimeout(r, 3000));
  expect((await getJob(c.proc.url, id)).body.data.status).toBe('running');
  const outlived = await settle(c.proc.url, id);
  expect(outlived.status).toBe('succeeded');

  const doomed = await promptJob(a.proc.url, '[SLOW:200] [SLEEP:60000] killed with its node');
  const doomedId = doomed.body.data.id as string;
  const { runner } = await runnerOf('killed with its node', [a, b, c]);
  await waitFor(async () => (await getJob(c.proc.url, doomedId)).body.data.status === 'running', 10_000);
  await runner.proc.kill();
  const survivor = [a, b, c].find((n) => n !== runner)!;
  const failed = await settle(survivor.proc.url, doomedId, 20_000);
  expect(failed.status).toBe('failed');
  expect(failed.error.code).toBe('server_restarted');
  const log = events((await readEvents(survivor.proc.url, doomedId)).body);
  expectCompleteLog(log);
  expect(log.at(-1)).toMatchObject({ type: 'error', content: { code: 'server_restarted' } });
  expect(failed.events).toEqual({ count: log.length, last_sequence: log.length });
}, 120_000);

test('SIGTERM of a node: its running job finishes in the drain window, seen from the others; its heartbeat row goes', async () => {
  const live = nodes.filter((n) => n.proc.child.exitCode === null && n.proc.child.signalCode === null);
  expect(live.length).toBeGreaterThanOrEqual(2);
  const created = await promptJob(live[0].proc.url, '[SLEEP:2000] drain me');
  const id = created.body.data.id as string;
  const { runner } = await runnerOf('drain me', live);
  const watcher = live.find((n) => n !== runner)!;
  await waitFor(async () => (await getJob(watcher.proc.url, id)).body.data.status === 'running', 10_000);
  const heartbeats = async () =>
    (await sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".job_nodes`))[0].n;
  const before = await heartbeats();
  const exited = new Promise<number | null>((r) => runner.proc.child.once('exit', (code) => r(code)));
  runner.proc.child.kill('SIGTERM');
  expect(await exited).toBe(0);
  const done = await settle(watcher.proc.url, id);
  expect(done.status).toBe('succeeded');
  expectCompleteLog(events((await readEvents(watcher.proc.url, id)).body));
  expect(await heartbeats()).toBe(before - 1);
}, 60_000);
