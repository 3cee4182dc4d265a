/**
 * Cluster mode when nodes fail or stop (real processes, real Redis and PostgreSQL; lock and lease
 * of 2 s): a worker killed mid-stream ends the run with a terminal `backend_unavailable` (worker
 * lost) and never runs it again; an API node killed mid-run gets its run killed when the lease
 * lapses; a stopping worker finishes its runs while new ones go elsewhere; a session whose worker
 * is gone answers 503 and stays usable; racing continuations give exactly one 409.
 */
import { expectMatchesSpec, expectStreamMatchesSpec } from '../helpers/contract';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import {
  send,
  startTestCluster,
  TEST_REDIS_URL,
  workersLive,
  type ClusterOptions,
  type TestCluster,
} from '../helpers/cluster';
import { SchemaPool } from '../helpers/postgres';
import { requireBuild } from '../helpers/serve-process';
import { ndjson, readStream } from '../helpers/stream';
import { isAlive, waitFor } from '../helpers/server';
import { createJob, events, expectCompleteLog, readEvents, settle } from '../helpers/jobs';

const schemas = new SchemaPool();
const clusters: TestCluster[] = [];
beforeAll(() => requireBuild());
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
  await schemas.dropAll();
});

async function cluster(apis: number, workers: number, o: ClusterOptions = {}): Promise<TestCluster> {
  const c = await startTestCluster(schemas, { apis, workers, ...o });
  clusters.push(c);
  await workersLive(c, workers);
  return c;
}

/** The start line of the fake CLI whose prompt carries `marker`. */
function startOf(c: TestCluster, marker: string) {
  return c.logs().find((e) => e.event === 'start' && e.argv?.some((a) => a.includes(marker)));
}

test('a worker killed mid-stream: the reader gets one terminal backend_unavailable (worker lost); the run is not repeated', async () => {
  const c = await cluster(1, 2);
  const started = Date.now();
  const pending = readStream(`${c.apis[0]!.url}/api/v1/prompt/stream`, {
    backend: 'claude',
    prompt: '[SLEEP:30000] lost-1',
    ephemeral: true,
  });
  const start = await waitFor(() => startOf(c, 'lost-1'), 10_000);
  const machine = start.env!.FAKE_MACHINE!;
  const killedAt = Date.now();
  await c.workers.find((w) => w.id === machine)!.kill();
  const r = await pending;
  const tookMs = Date.now() - killedAt;
  expect(r.status).toBe(200);
  expectStreamMatchesSpec('streamPrompt', 200, r.headers.get('content-type')!, r.body);
  const events = ndjson(r.body);
  expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
  const last = events[events.length - 1]!;
  expect(last.type).toBe('error');
  expect(last.content).toMatchObject({ code: 'backend_unavailable', message: 'worker lost' });
  expect(events.filter((e) => e.type === 'error' || e.type === 'done')).toHaveLength(1);
  // lock_secs = 2: noticed within 1.5 × lock_secs (+ a second of slack on a loaded machine)
  expect(tookMs).toBeLessThan(4000);
  // the CLI died with its worker, and no other worker picked the run up
  await waitFor(() => !isAlive(start.pid), 5000);
  // the dead worker's run stream still expires by itself
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const [key] = await redis.keys(`${c.prefix}:run:*:events`);
    expect(await redis.ttl(key!)).toBeGreaterThan(0);
  } finally {
    redis.disconnect();
  }
  await new Promise((res) => setTimeout(res, 2500));
  expect(c.logs().filter((e) => e.event === 'start' && e.argv?.some((a) => a.includes('lost-1')))).toHaveLength(1);
  expect(Date.now() - started).toBeLessThan(30_000);
}, 60_000);

test("a worker killed during a job's run: the job fails with backend_unavailable (worker lost) and is not run again", async () => {
  const c = await cluster(1, 2);
  const created = await createJob(c.apis[0]!.url, {
    operation: 'prompt',
    request: { backend: 'claude', prompt: '[SLEEP:30000] lost-job', ephemeral: true },
  });
  expect(created.status).toBe(202);
  const start = await waitFor(() => startOf(c, 'lost-job'), 10_000);
  await c.workers.find((w) => w.id === start.env!.FAKE_MACHINE)!.kill();
  const job = await settle(c.apis[0]!.url, created.body.data.id);
  expect(job.status).toBe('failed');
  expect(job.error).toMatchObject({ code: 'backend_unavailable', message: 'worker lost' });
  const read = await readEvents(c.apis[0]!.url, created.body.data.id);
  const evs = events(read.body);
  expectCompleteLog(evs);
  expect(evs.at(-1)).toMatchObject({ type: 'error', content: { code: 'backend_unavailable' } });
  await new Promise((res) => setTimeout(res, 2000));
  expect(c.logs().filter((e) => e.event === 'start' && e.argv?.some((a) => a.includes('lost-job')))).toHaveLength(1);
}, 60_000);

test('an API node killed mid-run: the worker kills the run once its lease lapses', async () => {
  const c = await cluster(2, 1);
  const pending = send(c.apis[0]!.url, 'POST', '/api/v1/prompt', {
    backend: 'claude',
    prompt: '[GRANDCHILD] [SLEEP:30000] orphan-1',
    ephemeral: true,
  }).catch(() => undefined);
  const start = await waitFor(() => startOf(c, 'orphan-1'), 10_000);
  const gc = await waitFor(() => c.logs().find((e) => e.event === 'grandchild' && e.parent === start.pid), 10_000);
  const killedAt = Date.now();
  await c.apis[0]!.kill();
  await pending;
  await waitFor(() => !isAlive(start.pid) && !isAlive(gc.pid), 6000, 50);
  // lease_secs = 2 (+ the worker's 250 ms lease check and the kill grace)
  expect(Date.now() - killedAt).toBeLessThan(5000);
  // the other API node and the worker carry on
  const ok = await send(c.apis[1]!.url, 'POST', '/api/v1/prompt', {
    backend: 'claude',
    prompt: 'after',
    ephemeral: true,
  });
  expect(ok.status).toBe(200);
}, 60_000);

test('a worker stopping (SIGTERM) finishes its running run; new runs go to the other worker', async () => {
  const c = await cluster(1, 2);
  const pending = send(c.apis[0]!.url, 'POST', '/api/v1/prompt', {
    backend: 'claude',
    prompt: '[SLEEP:2500] drain-1',
    ephemeral: true,
  });
  const start = await waitFor(() => startOf(c, 'drain-1'), 10_000);
  const stopping = c.workers.find((w) => w.id === start.env!.FAKE_MACHINE)!;
  const other = c.workers.find((w) => w !== stopping)!;
  stopping.child.kill('SIGTERM');
  // wait until the stopping worker reports itself draining, then send more work
  await new Promise((res) => setTimeout(res, 300));
  const more = await Promise.all(
    [1, 2, 3].map((i) =>
      send(c.apis[0]!.url, 'POST', '/api/v1/prompt', {
        backend: 'claude',
        prompt: `after-drain-${i}`,
        ephemeral: true,
      }),
    ),
  );
  expect(more.filter((m) => m.status !== 200).map((m) => m.body)).toEqual([]);
  for (const i of [1, 2, 3]) expect(startOf(c, `after-drain-${i}`)!.env!.FAKE_MACHINE).toBe(other.id);
  const r = await pending;
  expectMatchesSpec('executePrompt', r.status, r.body);
  expect(r.status).toBe(200);
  expect(r.body.data.exit_code).toBe(0);
  await new Promise<void>((res) =>
    stopping.child.exitCode !== null ? res() : stopping.child.once('exit', () => res()),
  );
  expect(stopping.child.exitCode).toBe(0);
}, 60_000);

test('a session whose worker is gone answers 503 and keeps its record; racing continuations give exactly one 409', async () => {
  const c = await cluster(2, 2);
  const first = await send(c.url, 'POST', '/api/v1/prompt', { backend: 'claude', prompt: 'home turn' });
  expect(first.status).toBe(200);
  const id = first.body.data.session_id as string;
  const home = startOf(c, 'home turn')!.env!.FAKE_MACHINE!;

  // two continuations at once through the two API nodes: one runs, one is refused
  const racing = await Promise.all(
    c.apis.map((a) =>
      send(a.url, 'POST', '/api/v1/prompt', { backend: 'claude', prompt: '[SLEEP:800] race', session_id: id }),
    ),
  );
  for (const r of racing) expectMatchesSpec('executePrompt', r.status, r.body);
  expect(racing.map((r) => r.status).sort()).toEqual([200, 409]);

  await c.workers.find((w) => w.id === home)!.kill();
  await waitFor(async () => {
    const r = await send(c.apis[0]!.url, 'POST', '/api/v1/prompt', {
      backend: 'claude',
      prompt: 'orphaned',
      session_id: id,
    });
    return r.status === 503 ? r : undefined;
  }, 6000).then((r) => {
    expectMatchesSpec('executePrompt', r.status, r.body);
    expect(r.body).toMatchObject({
      success: false,
      code: 'backend_unavailable',
      error: `session's worker ${home} is offline`,
    });
  });
  // the claim was released: the session is not left active, and nothing ran elsewhere
  const s = await send(c.apis[1]!.url, 'GET', `/api/v1/sessions/${id}`);
  expectMatchesSpec('getSession', s.status, s.body);
  expect(s.body.data.status).not.toBe('active');
  expect(s.body.data.turn_count).toBe(2);
  expect(c.logs().filter((e) => e.event === 'start' && e.argv?.some((a) => a.includes('orphaned')))).toHaveLength(0);

  // the worker comes back under its name: the session continues there
  await c.addNode('worker', home);
  await workersLive(c, 2);
  const back = await send(c.url, 'POST', '/api/v1/prompt', { backend: 'claude', prompt: 'back home', session_id: id });
  expect(back.status).toBe(200);
  expect(startOf(c, 'back home')!.env!.FAKE_MACHINE).toBe(home);
}, 60_000);

test('backpressure across nodes: a synchronous stream whose client stops reading pauses the CLI on the worker', async () => {
  // a claude-compatible fake that streams padded deltas as fast as it can
  const fast = path.resolve(__dirname, '../../scripts/bench/fixtures/claude-stream');
  const c = await cluster(1, 1, {
    server: { write_timeout_secs: 12 },
    cluster: { stream_window_events: 100 },
    more: { backends: { claude: { command: fast } } },
  });
  const api = new URL(c.apis[0]!.url);
  const socket = net.connect(Number(api.port), api.hostname);
  socket.on('error', () => undefined);
  const body = JSON.stringify({ backend: 'claude', prompt: 'lines=200000 interval=0 pad=20000', ephemeral: true });
  socket.write(
    `POST /api/v1/prompt/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.pause(); // never read
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const key = await waitFor(async () => (await redis.keys(`${c.prefix}:run:*:events`))[0], 10_000);
    // once the sockets' buffers are full the API node stops reading, and the worker stops the CLI: the
    // stream stops growing, a bounded distance ahead of what the API node read
    let last = -1;
    const stable = await waitFor(
      async () => {
        const n = await redis.xlen(key);
        const same = n === last;
        last = n;
        return same ? n : undefined;
      },
      10_000,
      700,
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(await redis.xlen(key)).toBe(stable);
    expect(stable).toBeLessThan(5000);
    // this fake writes no log: find it by its prompt
    const pids = () => {
      try {
        return execFileSync('pgrep', ['-f', `lines=200000 interval=0 pad=20000`], { encoding: 'utf8' }).trim();
      } catch {
        return '';
      }
    };
    expect(pids()).not.toBe('');
    // the write timeout then ends the run, and the CLI with it
    await waitFor(() => pids() === '', 15_000);
  } finally {
    socket.destroy();
    redis.disconnect();
  }
}, 60_000);

test('a worker with every slot busy leaves runs to the other worker; no worker runs more than its slots', async () => {
  const c = await cluster(1, 2, { cluster: { worker_slots: 1 } });
  const replies = await Promise.all(
    [1, 2, 3, 4].map((i) =>
      send(c.apis[0]!.url, 'POST', '/api/v1/prompt', {
        backend: 'claude',
        prompt: `[SLEEP:800] slots-${i}`,
        ephemeral: true,
      }),
    ),
  );
  for (const r of replies) expect(r.status).toBe(200);
  const runs = c.logs().filter((e) => e.argv?.some((a) => a.includes('slots-')));
  const ends = new Map(
    c
      .logs()
      .filter((e) => e.event === 'end')
      .map((e) => [e.pid, e.time!]),
  );
  const machines = runs.map((r) => r.env!.FAKE_MACHINE);
  expect(new Set(machines)).toEqual(new Set(['w1', 'w2']));
  // per machine, runs never overlap (one slot each)
  for (const m of ['w1', 'w2']) {
    const spans = runs.filter((r) => r.env!.FAKE_MACHINE === m).map((r) => [r.time!, ends.get(r.pid)!] as const);
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  }
}, 60_000);

test('with no live worker left, a run waiting for one answers 503 instead of waiting for its deadline', async () => {
  // lock_secs 4: the killed worker's heartbeat outlives the request's arrival by seconds
  const c = await cluster(1, 1, { cluster: { lock_secs: 4 } });
  await c.workers[0]!.kill();
  // the worker's heartbeat has not expired yet: the run is queued, then given up
  const t0 = Date.now();
  const r = await send(c.apis[0]!.url, 'POST', '/api/v1/prompt', {
    backend: 'claude',
    prompt: 'nobody',
    ephemeral: true,
  });
  expectMatchesSpec('executePrompt', r.status, r.body);
  expect(r.status).toBe(503);
  expect(r.body.code).toBe('backend_unavailable');
  expect(r.body.error).toBe('no live worker takes runs');
  // the heartbeat expires (≤ 4 s), then the run waits one more lock period (+ slack)
  expect(Date.now() - t0).toBeLessThan(14_000);
  expect(c.logs().filter((e) => e.argv?.includes('nobody'))).toHaveLength(0);
}, 60_000);
