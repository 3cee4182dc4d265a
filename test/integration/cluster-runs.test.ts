/**
 * Cluster mode with workers: 2 API nodes + 2 worker nodes (real processes, real Redis and
 * PostgreSQL). Runs are queued by an API node and spawned by a worker; sessions continue on the
 * worker that holds their CLI state; streams keep their guarantees across the nodes; lost workers,
 * lost API nodes and stopping workers end runs the documented way, never running an agent twice.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expectMatchesSpec, expectStreamMatchesSpec } from '../helpers/contract';
import { send, startTestCluster, workersLive, type TestCluster } from '../helpers/cluster';
import { SchemaPool } from '../helpers/postgres';
import { requireBuild } from '../helpers/serve-process';
import { readStream, ndjson } from '../helpers/stream';
import { isAlive, waitFor, type FakeLogEntry } from '../helpers/server';
import { createJob, events, expectCompleteLog, readEvents, settle } from '../helpers/jobs';

const schemas = new SchemaPool();
let c: TestCluster;

beforeAll(async () => {
  requireBuild();
  c = await startTestCluster(schemas, { server: { metrics_enabled: true } });
  await workersLive(c, 2);
}, 60_000);
afterAll(async () => {
  await c?.stop();
  await schemas.dropAll();
});

/**
 * The first fake-CLI log line of `event` written after the first `before` lines, of a CLI whose argv
 * holds `marker` when given (waits up to 10 s).
 */
function nextLine(before: number, event: 'start' | 'end' | 'grandchild', marker?: string) {
  const wanted = (e: FakeLogEntry): boolean =>
    e.event === event && (marker === undefined || (e.argv ?? []).some((a) => a.includes(marker)));
  return waitFor(() => c.logs().slice(before).find(wanted), 10_000);
}

test('a prompt sent to an API node runs on a worker and answers as one process does', async () => {
  const before = c.machines().length;
  const r = await send(c.apis[0]!.url, 'POST', '/api/v1/prompt', {
    backend: 'claude',
    prompt: 'hello',
    ephemeral: true,
  });
  expectMatchesSpec('executePrompt', r.status, r.body);
  expect(r.status).toBe(200);
  expect(r.body.data.exit_code).toBe(0);
  expect(r.body.data.output).toMatch(/^MOCK-REPLY: /);
  const ran = c.machines().slice(before);
  expect(ran).toHaveLength(1);
  expect(['w1', 'w2']).toContain(ran[0]);
});

test('a session continues on the worker that ran its first turn, whichever API node gets the turn', async () => {
  const first = await send(c.apis[0]!.url, 'POST', '/api/v1/prompt', { backend: 'claude', prompt: 'remember 7' });
  expectMatchesSpec('executePrompt', first.status, first.body);
  expect(first.status).toBe(200);
  const id = first.body.data.session_id as string;
  const before = c.machines().length;
  const home = c.machines()[before - 1]!;
  for (let i = 0; i < 4; i++) {
    const api = c.apis[i % 2]!;
    const r = await send(api.url, 'POST', '/api/v1/prompt', { backend: 'claude', prompt: `turn ${i}`, session_id: id });
    expectMatchesSpec('executePrompt', r.status, r.body);
    expect(r.status).toBe(200);
    expect(r.body.data.session_id).toBe(id);
  }
  // every continuation resumed the CLI's conversation on the same machine
  expect(c.machines().slice(before)).toEqual([home, home, home, home]);
  const s = await send(c.apis[1]!.url, 'GET', `/api/v1/sessions/${id}`);
  expectMatchesSpec('getSession', s.status, s.body);
  expect(s.body.data.turn_count).toBe(5);
  expect(JSON.stringify(s.body)).not.toContain(home === 'w1' ? '"w1"' : '"w2"');
});

test('a stream from a worker has a gap-free sequence and exactly one terminal event', async () => {
  const r = await readStream(`${c.url}/api/v1/prompt/stream`, {
    backend: 'codex',
    prompt: 'stream me please',
    ephemeral: true,
  });
  expect(r.status).toBe(200);
  const parsed = expectStreamMatchesSpec('streamPrompt', 200, r.headers.get('content-type')!, r.body);
  const events = ndjson(r.body);
  expect(parsed.events.length).toBe(events.length);
  expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
  const terminal = events.filter((e) => e.type === 'done' || e.type === 'error');
  expect(terminal).toHaveLength(1);
  expect(events[events.length - 1]!.type).toBe('done');
});

test('a client that goes away kills the run on the worker, grandchildren included', async () => {
  const ac = new AbortController();
  const before = c.logs().length;
  const pending = readStream(
    `${c.apis[1]!.url}/api/v1/prompt/stream`,
    { backend: 'claude', prompt: '[GRANDCHILD] [SLEEP:20000] wait', ephemeral: true },
    { signal: ac.signal },
  ).catch(() => undefined);
  const gc = await nextLine(before, 'grandchild');
  const start = c
    .logs()
    .slice(before)
    .find((e) => e.event === 'start')!;
  ac.abort();
  await pending;
  await waitFor(() => !isAlive(start.pid) && !isAlive(gc.pid), 5_000);
});

test('backends are what the live workers report; a worker node serves only /health and /metrics', async () => {
  const b = await send(c.apis[1]!.url, 'GET', '/api/v1/backends');
  expectMatchesSpec('listBackends', b.status, b.body);
  expect(b.status).toBe(200);
  const claude = b.body.data.backends.find((x: { name: string }) => x.name === 'claude');
  expect(claude).toMatchObject({ name: 'claude', available: true, enabled: true });
  expect(claude.command).toMatch(/test\/fixtures\/bin\/claude$/);

  // a dry run renders the executable as the workers report it, and runs nothing
  const before = c.machines().length;
  const dry = await send(c.url, 'POST', '/api/v1/prompt', {
    backend: 'claude',
    prompt: 'dry',
    dry_run: true,
    ephemeral: true,
  });
  expectMatchesSpec('executePrompt', dry.status, dry.body);
  expect(dry.body.data.command[0]).toBe(claude.command);
  expect(c.machines().length).toBe(before);

  // the banners say what each node is
  expect(c.workers[0]!.output()).toContain(
    `clinvk worker node w1 listening on ${c.workers[0]!.url} (GET /health and /metrics only)`,
  );
  expect(c.apis[0]!.output()).toMatch(/Cluster node +a1 \(API node: runs go to the workers\)/);
  const h = await send(c.workers[0]!.url, 'GET', '/health');
  expectMatchesSpec('healthCheck', h.status, h.body);
  expect(h.status).toBe(200);
  const metrics = await (await fetch(`${c.workers[0]!.url}/metrics`)).text();
  expect(metrics).toMatch(/^clinvk_worker_slots 4$/m);
  expect(metrics).toMatch(/^clinvk_worker_runs 0$/m);
  const refused = await send(c.workers[0]!.url, 'POST', '/api/v1/prompt', { backend: 'claude', prompt: 'x' });
  expect(refused.status).toBe(404);
  expect(refused.body).toEqual({
    success: false,
    code: 'not_found',
    error: 'this is a worker node: it serves only /health and /metrics',
  });
});

test("a job's run goes to a worker; its events are complete; cancelling it kills the CLI on the worker", async () => {
  const api = c.apis[0]!.url;
  const done = await createJob(api, {
    operation: 'prompt',
    request: { backend: 'gemini', prompt: 'job in the cluster', ephemeral: true },
  });
  expect(done.status).toBe(202);
  const finished = await settle(api, done.body.data.id);
  expect(finished.status).toBe('succeeded');
  const read = await readEvents(api, done.body.data.id);
  expectCompleteLog(events(read.body));

  const before = c.logs().length;
  const long = await createJob(api, {
    operation: 'prompt',
    request: { backend: 'claude', prompt: '[GRANDCHILD] [SLEEP:30000] cancel me', ephemeral: true },
  });
  // (not the clean-up run of the gemini job before, which may start about now)
  const start = await nextLine(before, 'start', 'cancel me');
  const gc = await waitFor(() => c.logs().find((e) => e.event === 'grandchild' && e.parent === start.pid), 10_000);
  expect(['w1', 'w2']).toContain(start.env!.FAKE_MACHINE);
  const canceled = await send(api, 'POST', `/api/v1/jobs/${long.body.data.id}/cancel`);
  expectMatchesSpec('cancelJob', canceled.status, canceled.body);
  expect(canceled.status).toBe(200);
  await waitFor(() => !isAlive(start.pid) && !isAlive(gc.pid), 5000);
  expect((await settle(api, long.body.data.id)).status).toBe('canceled');
});

test('the executions list shows every API node’s executions; one can be cancelled through any API node', async () => {
  const before = c.logs().length;
  const sync = send(c.apis[0]!.url, 'POST', '/api/v1/prompt', {
    backend: 'claude',
    prompt: '[SLEEP:30000] listed elsewhere',
    ephemeral: true,
  });
  const start = await nextLine(before, 'start', 'listed elsewhere');
  // another API node lists it (from what the first one publishes twice a second)
  const listed = await waitFor(async () => {
    const r = await send(c.apis[1]!.url, 'GET', '/api/v1/executions');
    expectMatchesSpec('listExecutions', r.status, r.body);
    return r.body.data.executions.find(
      (e: { state: string; kind: string }) => e.state === 'running' && e.kind === 'prompt',
    );
  }, 5000);
  expect(listed).toMatchObject({ kind: 'prompt', key: 'anonymous', state: 'running', backend: 'claude' });
  const canceled = await send(c.apis[1]!.url, 'POST', `/api/v1/executions/${listed.id}/cancel`);
  expectMatchesSpec('cancelExecution', canceled.status, canceled.body);
  expect(canceled.body).toEqual({ success: true, data: { id: listed.id, canceled: true } });
  await waitFor(() => !isAlive(start.pid), 5000);
  // a cancelled synchronous run ends its request as a client disconnect does: no answer
  await expect(sync).rejects.toThrow();
  const unknown = await send(c.apis[1]!.url, 'POST', `/api/v1/executions/${'0'.repeat(32)}/cancel`);
  expect(unknown.status).toBe(404);
});

test('working directories are checked as text on the API node and on disk by the worker, which runs in the real path', async () => {
  const missing = path.join(c.env.workdir, 'not-here');
  const r = await send(c.url, 'POST', '/api/v1/prompt', {
    backend: 'claude',
    prompt: 'x',
    workdir: missing,
    ephemeral: true,
  });
  expectMatchesSpec('executePrompt', r.status, r.body);
  expect(r.status).toBe(400);
  expect(r.body).toMatchObject({ success: false, code: 'validation_error' });
  expect(r.body.error).toContain(`work directory does not exist: ${missing}`);
  expect(c.logs().filter((e) => e.event === 'start' && e.cwd === missing)).toHaveLength(0);

  const real = path.join(c.env.workdir, 'real-dir');
  const link = path.join(c.env.workdir, 'link-dir');
  fs.mkdirSync(real, { recursive: true });
  fs.symlinkSync(real, link);
  const before = c.logs().length;
  const ok = await send(c.url, 'POST', '/api/v1/prompt', {
    backend: 'claude',
    prompt: 'in a link',
    workdir: link,
    ephemeral: true,
  });
  expect(ok.status).toBe(200);
  expect(
    c
      .logs()
      .slice(before)
      .find((e) => e.event === 'start')!.cwd,
  ).toBe(real);
});
