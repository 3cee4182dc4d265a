/**
 * Jobs over a real socket: lifecycle per backend, events (resume, SSE, fan-out), cancel, long-poll,
 * idempotency, validation, sessions, event cap and retention; every JSON response and every event
 * checked against the contract. The same suite runs against the file job store and the PostgreSQL
 * job store (a fresh schema per server).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expectMatchesSpec, expectValidSchema } from '../helpers/contract';
import {
  call,
  cancelJob,
  createJob,
  events,
  expectCompleteLog,
  getJob,
  promptJob,
  readEvents,
  settle,
  sseFrames,
} from '../helpers/jobs';
import { postgresConfig, SchemaPool, sql } from '../helpers/postgres';
import { isAlive, makeTestServer, notOnCluster, ON_CLUSTER, waitFor, type TestServer } from '../helpers/server';

const reply = (prompt: string) =>
  `MOCK-REPLY: ${crypto.createHash('sha256').update(prompt).digest('hex').slice(0, 12)}`;

/** How a suite looks into the job store it runs against. */
interface JobBacking {
  /** Config overrides selecting the store. */
  config(): Record<string, unknown>;
  /** Ids of the stored job records. */
  jobIds(t: TestServer): Promise<string[]>;
  /** What is stored of one job: its record, its events (each may be absent). */
  stored(t: TestServer, id: string): Promise<{ record: boolean; events: boolean }>;
  /** Bytes of a job's stored events (one line each). */
  eventBytes(t: TestServer, id: string): Promise<number>;
}

const jobFiles = (t: TestServer) => {
  const dir = path.join(t.home, 'jobs');
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
};

const schemas = new SchemaPool();
const schemaOf = new Map<string, string>();
afterAll(() => schemas.dropAll());
// a cluster's own schema when the suite runs against one
const pgSchema = (t: TestServer) => schemaOf.get(t.root) ?? t.config.cluster.postgres_schema;

const JOB_BACKINGS: [string, JobBacking][] = [
  [
    'file',
    {
      config: () => ({}),
      jobIds: async (t) =>
        jobFiles(t)
          .filter((f) => f.endsWith('.json'))
          .map((f) => f.slice(0, -5)),
      stored: async (t, id) => ({
        record: jobFiles(t).includes(`${id}.json`),
        events: jobFiles(t).includes(`${id}.events`),
      }),
      eventBytes: async (t, id) => fs.statSync(path.join(t.home, 'jobs', `${id}.events`)).size,
    },
  ],
  [
    'postgres',
    {
      config: () => {
        const schema = schemas.schema();
        return { ...postgresConfig(schema, ['jobs']), __schema: schema };
      },
      jobIds: async (t) =>
        (await sql<{ id: string }>(`SELECT id FROM "${pgSchema(t)}".jobs ORDER BY id`)).map((r) => r.id),
      stored: async (t, id) => ({
        record: (await sql(`SELECT 1 FROM "${pgSchema(t)}".jobs WHERE id = $1`, [id])).length === 1,
        events: (await sql(`SELECT 1 FROM "${pgSchema(t)}".job_events WHERE job_id = $1 LIMIT 1`, [id])).length === 1,
      }),
      eventBytes: async (t, id) =>
        (
          await sql<{ n: number }>(
            `SELECT coalesce(sum(octet_length(line) + 1), 0)::int AS n FROM "${pgSchema(t)}".job_events WHERE job_id = $1`,
            [id],
          )
        )[0].n,
    },
  ],
];

/** A test server on the backing's store (overrides merged section by section). */
async function serverOn(b: JobBacking, overrides: Record<string, Record<string, unknown>>): Promise<TestServer> {
  const { __schema, ...store } = b.config() as Record<string, Record<string, unknown>> & { __schema?: string };
  const merged: Record<string, Record<string, unknown>> = { ...overrides };
  for (const [k, v] of Object.entries(store)) merged[k] = { ...(merged[k] ?? {}), ...v };
  const t = await makeTestServer(merged);
  if (__schema) schemaOf.set(t.root, __schema);
  return t;
}

// a cluster keeps its jobs in PostgreSQL: the suite runs once there, on the postgres backing's queries
const BACKINGS: [string, JobBacking][] = ON_CLUSTER
  ? [['cluster', { ...JOB_BACKINGS[1]![1], config: () => ({}) }]]
  : JOB_BACKINGS;

describe.each(BACKINGS)('%s job store', (_name, b) => {
  describe('jobs', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await serverOn(b, { server: { stream_heartbeat_secs: 1 } });
    });
    afterAll(() => t.close());

    test.each(['claude', 'codex', 'gemini'])(
      '%s: create → 202 + Location, runs, events and result stored',
      async (backend) => {
        const prompt = `job on ${backend}`;
        const r = await createJob(t.url, { operation: 'prompt', request: { backend, prompt, ephemeral: true } });
        expect(r.status).toBe(202);
        const job = r.body.data;
        expect(job.id).toMatch(/^[0-9a-f]{32}$/);
        expect(r.headers.get('location')).toBe(`/api/v1/jobs/${job.id}`);
        expect(job).toMatchObject({ operation: 'prompt', owner: 'anonymous', backend, summary: prompt });
        expect(['queued', 'running']).toContain(job.status);

        const done = await settle(t.url, job.id);
        expect(done.status).toBe('succeeded');
        expect(done.started_at).toBeDefined();
        expect(done.finished_at).toBeDefined();
        expect(done.result).toMatchObject({ backend, exit_code: 0, output: reply(prompt) });
        expectValidSchema('ExecutionResult', done.result);

        const ev = await readEvents(t.url, job.id);
        expect(ev.status).toBe(200);
        expect(ev.headers.get('content-type')).toBe('application/x-ndjson');
        const list = events(ev.body);
        expectCompleteLog(list);
        expect(list.at(-1)!.type).toBe('done');
        expect(list.map((e) => e.type)).toContain('message');
        expect(done.events).toEqual({ count: list.length, last_sequence: list.length });
      },
    );

    test('resume: after=N and Last-Event-ID give exactly the missing events; follow=false ends', async () => {
      const r = await promptJob(t.url, 'resume me');
      const id = r.body.data.id;
      await settle(t.url, id);
      const all = events((await readEvents(t.url, id)).body);
      expect(all.length).toBeGreaterThan(3);
      for (const n of [0, 1, 2, all.length - 1, all.length]) {
        const after = events((await readEvents(t.url, id, `?after=${n}`)).body);
        expect(after).toEqual(all.slice(n));
        const viaHeader = events((await readEvents(t.url, id, '', { 'Last-Event-ID': String(n) })).body);
        expect(viaHeader).toEqual(all.slice(n));
      }
      const stored = events((await readEvents(t.url, id, '?follow=false&after=1')).body);
      expect(stored).toEqual(all.slice(1));
    });

    test('SSE framing with id:, event:, data:', async () => {
      const r = await promptJob(t.url, 'sse please', 'gemini');
      const id = r.body.data.id;
      const ev = await readEvents(t.url, id, '', { Accept: 'text/event-stream' });
      expect(ev.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const frames = sseFrames(ev.body);
      expect(frames.length).toBeGreaterThan(2);
      frames.forEach((f, i) => {
        expect(f.id).toBe(String(i + 1));
        expect(f.event).toBe(f.data.type);
        expect(f.data.sequence).toBe(i + 1);
      });
      expect(frames.at(-1)!.event).toBe('done');
      const resumed = sseFrames(
        (await readEvents(t.url, id, '', { Accept: 'text/event-stream', 'Last-Event-ID': '2' })).body,
      );
      expect(resumed.map((f) => f.id)).toEqual(frames.slice(2).map((f) => f.id));
    });

    test('live readers: two readers at different speeds get the same complete log; heartbeats carry no sequence', async () => {
      const r = await promptJob(t.url, '[SLOW:400] two readers');
      const id = r.body.data.id;
      const fast = readEvents(t.url, id);
      // the slow reader starts late and reads everything after the job ended
      await new Promise((res) => setTimeout(res, 700));
      const fastBody = (await fast).body;
      const slowBody = (await readEvents(t.url, id)).body;
      const lines = fastBody
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const heartbeats = lines.filter((e) => e.content?.stage === 'heartbeat');
      expect(heartbeats.length).toBeGreaterThan(0);
      heartbeats.forEach((h) => {
        expect(h.sequence).toBe(0);
        expectValidSchema('NativeStreamEvent', h);
      });
      const fastEvents = events(fastBody).filter((e) => e.sequence > 0);
      expectCompleteLog(fastEvents);
      expect(events(slowBody)).toEqual(fastEvents);
    });

    test('aggregate jobs: per-item events with item, item_finished, one terminal event for the job', async () => {
      const r = await createJob(t.url, {
        operation: 'parallel',
        request: {
          tasks: [
            { backend: 'claude', prompt: 'p one' },
            { backend: 'codex', prompt: 'p two [E401]' },
          ],
        },
      });
      expect(r.status).toBe(202);
      expect(r.body.data.summary).toBe('2 tasks');
      const job = await settle(t.url, r.body.data.id);
      expect(job.status).toBe('succeeded');
      expectValidSchema('ParallelResult', job.result);
      expect(job.result.completed).toBe(1);
      const list = events((await readEvents(t.url, job.id)).body);
      expectCompleteLog(list);
      const finished = list.filter((e) => e.content.stage === 'item_finished');
      expect(finished.map((e) => [e.item, e.content.exit_code]).sort()).toEqual([
        [0, 0],
        [1, 1],
      ]);
      expect(finished.find((e) => e.item === 1)!.content.error_code).toBe('backend_failed');
      expect(list.at(-1)!.item).toBeUndefined();
      expect(list.slice(0, -1).every((e) => e.item === 0 || e.item === 1)).toBe(true);
    });

    test('validation failures answer like the synchronous endpoint and store nothing', async () => {
      const before = await b.jobIds(t);
      const bad = await createJob(t.url, { operation: 'prompt', request: { backend: 'claude' } });
      expect(bad.status).toBe(400);
      expect(bad.body.details).toEqual([{ path: 'body.request.prompt', message: 'is required' }]);
      const fmt = await createJob(t.url, {
        operation: 'prompt',
        request: { backend: 'claude', prompt: 'x', output_format: 'stream-json' },
      });
      expect(fmt.status).toBe(400);
      expect(fmt.body.details[0].path).toBe('body.request.output_format');
      const session = await createJob(t.url, {
        operation: 'prompt',
        request: { prompt: 'x', session_id: 'abcdef' },
      });
      expect(session.status).toBe(404);
      expect(session.body.code).toBe('session_not_found');
      const op = await createJob(t.url, { operation: 'nope', request: {} });
      expect(op.status).toBe(400);
      expect(await b.jobIds(t)).toEqual(before);
    });

    notOnCluster('a workdir is checked on the worker, after the queue (docs/cluster.md)')(
      'a working directory that does not exist is refused at creation, and nothing is stored',
      async () => {
        const before = await b.jobIds(t);
        const wd = await createJob(t.url, {
          operation: 'parallel',
          request: { tasks: [{ backend: 'claude', prompt: 'x', workdir: '/nonexistent/dir' }] },
        });
        expect(wd.status).toBe(400);
        expect(wd.body.details[0].path).toBe('body.request.tasks[0].workdir');
        expect(await b.jobIds(t)).toEqual(before);
      },
    );

    test('idempotency: same key + body → same job (200); different body → 409', async () => {
      const body = { operation: 'prompt', request: { backend: 'claude', prompt: 'idem', ephemeral: true } };
      const a = await createJob(t.url, body, { 'Idempotency-Key': 'key-1' });
      expect(a.status).toBe(202);
      const b = await createJob(
        t.url,
        { request: { ephemeral: true, prompt: 'idem', backend: 'claude' }, operation: 'prompt' },
        { 'Idempotency-Key': 'key-1' },
      );
      expect(b.status).toBe(200);
      expect(b.body.data.id).toBe(a.body.data.id);
      expect(b.headers.get('location')).toBe(`/api/v1/jobs/${a.body.data.id}`);
      const c = await createJob(
        t.url,
        { ...body, request: { ...body.request, prompt: 'other' } },
        { 'Idempotency-Key': 'key-1' },
      );
      expect(c.status).toBe(409);
      expect(c.body.code).toBe('idempotency_conflict');
      const bad = await createJob(t.url, body, { 'Idempotency-Key': 'has space' });
      expect(bad.status).toBe(400);
    });

    test('wait long-poll answers as soon as the job is terminal', async () => {
      const r = await promptJob(t.url, '[SLEEP:800] poll');
      const started = Date.now();
      const g = await getJob(t.url, r.body.data.id, 20);
      expect(g.body.data.status).toBe('succeeded');
      expect(Date.now() - started).toBeLessThan(10_000);
      const quick = await getJob(t.url, r.body.data.id, 20);
      expect(quick.body.data.status).toBe('succeeded');
    });

    test('session_id jobs continue the session', async () => {
      const first = await call(t.url, 'POST', '/api/v1/prompt', 'executePrompt', {
        backend: 'claude',
        prompt: 'start',
      });
      const sid = first.body.data.session_id as string;
      const r = await createJob(t.url, {
        operation: 'prompt',
        request: { session_id: sid.slice(0, 8), prompt: 'next turn' },
      });
      expect(r.status).toBe(202);
      expect(r.body.data.session_id).toBe(sid);
      const job = await settle(t.url, r.body.data.id);
      expect(job.status).toBe('succeeded');
      expect(job.result.session_id).toBe(sid);
      const s = await call(t.url, 'GET', `/api/v1/sessions/${sid}`, 'getSession');
      expect(s.body.data.turn_count).toBe(2);
      const list = events((await readEvents(t.url, job.id)).body);
      expect(list.every((e) => e.session_id === sid)).toBe(true);
    });

    test('list, filters, paging; delete', async () => {
      const l = await call(t.url, 'GET', '/api/v1/jobs?operation=parallel&limit=1', 'listJobs');
      expect(l.body.data.jobs).toHaveLength(1);
      expect(l.body.data.total).toBeGreaterThanOrEqual(1);
      expect(l.body.data.limit).toBe(1);
      const all = await call(t.url, 'GET', '/api/v1/jobs', 'listJobs');
      const created = all.body.data.jobs.map((j: { created_at: string }) => j.created_at);
      expect([...created].sort().reverse()).toEqual(created);
      const id = all.body.data.jobs[0].id;
      const d = await call(t.url, 'DELETE', `/api/v1/jobs/${id}`, 'deleteJob');
      expect(d.body.data).toEqual({ id, deleted: true });
      expect(await b.stored(t, id)).toEqual({ record: false, events: false });
      const again = await call(t.url, 'DELETE', `/api/v1/jobs/${id}`, 'deleteJob');
      expect(again.status).toBe(404);
      expect(again.body.code).toBe('job_not_found');
      const ev = await fetch(`${t.url}/api/v1/jobs/${id}/events`);
      expect(ev.status).toBe(404);
      expectMatchesSpec('streamJobEvents', 404, await ev.json());
    });
  });

  describe('jobs: scheduling, cancel, cap, retention', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await serverOn(b, {
        server: { max_concurrent_executions: 1 },
        jobs: { max_running: 1, max_queued: 2, max_event_bytes: 1024, retention_secs: 2 },
      });
    });
    afterAll(() => t.close());

    notOnCluster('jobs.max_running and jobs.max_queued hold per API node (docs/postgres.md)')(
      'cancel queued and running; running: the process group including the grandchild is gone',
      async () => {
        const a = await promptJob(t.url, '[GRANDCHILD] [SLEEP:30000] long');
        const b = await promptJob(t.url, 'queued one');
        const c = await promptJob(t.url, 'queued two');
        const full = await promptJob(t.url, 'too many');
        expect(full.status).toBe(429);
        expect(full.body.code).toBe('queue_full');
        const run = await waitFor(() => t.log().find((e) => e.event === 'grandchild'));
        const cli = t.log().find((e) => e.event === 'start' && e.pid === run.parent)!;
        expect((await getJob(t.url, a.body.data.id)).body.data.status).toBe('running');
        expect((await getJob(t.url, b.body.data.id)).body.data.status).toBe('queued');

        const cb = await cancelJob(t.url, b.body.data.id);
        expect(cb.body.data.status).toBe('canceled');
        expect(cb.body.data.error.code).toBe('canceled');
        const bEvents = events((await readEvents(t.url, b.body.data.id)).body);
        expect(bEvents).toHaveLength(1);
        expect(bEvents[0]).toMatchObject({ type: 'error', sequence: 1, content: { code: 'canceled' } });

        const follower = readEvents(t.url, a.body.data.id);
        const del = await call(t.url, 'DELETE', `/api/v1/jobs/${a.body.data.id}`, 'deleteJob');
        expect(del.status).toBe(409);
        expect(del.body.code).toBe('job_active');
        const ca = await cancelJob(t.url, a.body.data.id);
        expect(ca.body.data.status).toBe('canceled');
        const followed = events((await follower).body);
        expectCompleteLog(followed);
        expect(followed.at(-1)).toMatchObject({ type: 'error', content: { code: 'canceled' } });
        await waitFor(() => !isAlive(cli.pid) && !isAlive(run.pid), 10_000);
        // cancel of a terminal job answers it unchanged
        const again = await cancelJob(t.url, a.body.data.id);
        expect(again.body.data.status).toBe('canceled');
        // the next queued job runs; the canceled one never started
        const cJob = await settle(t.url, c.body.data.id);
        expect(cJob.status).toBe('succeeded');
        expect(t.starts().some((e) => e.argv?.join(' ').includes('queued one'))).toBe(false);
      },
    );

    notOnCluster('a follower on another API node reads the stored log, where the cap leaves a gap (not yet)')(
      'event cap: later events are not stored, a truncated marker marks the gap, terminal kept',
      async () => {
        const r = await createJob(t.url, {
          operation: 'prompt',
          request: {
            backend: 'claude',
            prompt: '[TOOL] [SLOW:50] cap me, with a longer prompt so that there is more to store',
            ephemeral: true,
          },
        });
        const id = r.body.data.id;
        const live = events((await readEvents(t.url, id)).body);
        expectCompleteLog(live);
        const stored = events((await readEvents(t.url, id, '?follow=false')).body);
        const marker = stored.find((e) => e.content.stage === 'truncated');
        expect(marker).toBeDefined();
        expect(stored.at(-1)).toEqual(live.at(-1));
        expect(stored.length).toBeLessThan(live.length);
        const job = (await getJob(t.url, id)).body.data;
        expect(job.status).toBe('succeeded');
        expect(job.result.output).toBe(
          live
            .filter((e) => e.type === 'message')
            .map((e) => e.content.text)
            .join(''),
        );
        expect(await b.eventBytes(t, id)).toBeLessThan(1024 + 1024);
      },
    );

    test('retention: terminal jobs and their events disappear after retention_secs', async () => {
      const r = await promptJob(t.url, 'short-lived');
      const id = r.body.data.id;
      await settle(t.url, id);
      expect(await b.stored(t, id)).toEqual({ record: true, events: true });
      await waitFor(async () => (await getJob(t.url, id)).status === 404, 10_000, 200);
      expect(await b.stored(t, id)).toEqual({ record: false, events: false });
    });
  });

  describe('jobs: sessions busy at start, executions list and cancel', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await serverOn(b, { server: { max_concurrent_executions: 2 }, jobs: { max_running: 1 } });
    });
    afterAll(() => t.close());

    test('a session busy when the job starts fails the job with session_busy', async () => {
      const first = await call(t.url, 'POST', '/api/v1/prompt', 'executePrompt', {
        backend: 'claude',
        prompt: 'hello',
      });
      const sid = first.body.data.session_id as string;
      // a synchronous turn holds the session while the job starts
      const turn = fetch(`${t.url}/api/v1/prompt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ session_id: sid, prompt: '[SLEEP:4000] busy turn' }),
      });
      await waitFor(() => t.log().some((e) => e.event === 'start' && e.argv?.some((a) => a.includes('busy turn'))));
      const r = await createJob(t.url, { operation: 'prompt', request: { session_id: sid, prompt: 'from a job' } });
      expect(r.status).toBe(202);
      const job = await settle(t.url, r.body.data.id);
      expect(job.status).toBe('failed');
      expect(job.error.code).toBe('session_busy');
      const list = events((await readEvents(t.url, job.id)).body);
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ type: 'error', sequence: 1, content: { code: 'session_busy' } });
      expect((await turn).status).toBe(200);
    });

    test('executions: a running synchronous run and a running job are listed; cancel kills their process groups', async () => {
      const sync = fetch(`${t.url}/api/v1/prompt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          backend: 'claude',
          prompt: '[GRANDCHILD] [IGNORE_TERM] [SLEEP:20000] sync to cancel',
          ephemeral: true,
        }),
      });
      const job = await promptJob(t.url, '[GRANDCHILD] [SLEEP:20000] job to cancel', 'codex');
      // Both CLIs and the grandchild each spawned (same process group, not detached).
      const family = (text: string) => {
        const cli = t.log().find((e) => e.event === 'start' && e.argv?.join(' ').includes(text));
        const grandchild = cli && t.log().find((e) => e.event === 'grandchild' && e.parent === cli.pid);
        return cli && grandchild ? [cli.pid, grandchild.pid] : undefined;
      };
      const pids = await waitFor(() => {
        const a = family('sync to cancel');
        const b = family('job to cancel');
        return a && b ? [...a, ...b] : undefined;
      }, 15_000);
      expect(pids.every(isAlive)).toBe(true);
      const listed = await waitFor(async () => {
        const l = await call(t.url, 'GET', '/api/v1/executions', 'listExecutions');
        const running = l.body.data.executions.filter((e: { state: string }) => e.state === 'running');
        return running.length === 2 ? running : undefined;
      }, 15_000);
      const syncEntry = listed.find((e: { kind: string }) => e.kind === 'prompt');
      const jobEntry = listed.find((e: { kind: string }) => e.kind === 'job');
      expect(syncEntry).toMatchObject({ key: 'anonymous', backend: 'claude' });
      expect(jobEntry).toMatchObject({ key: 'anonymous', backend: 'codex', job_id: job.body.data.id });
      expect(jobEntry.started_at).toBeDefined();

      const c1 = await call(t.url, 'POST', `/api/v1/executions/${syncEntry.id}/cancel`, 'cancelExecution');
      expect(c1.body.data).toEqual({ id: syncEntry.id, canceled: true });
      // like a client disconnect: the run is killed and the request's connection ends without an answer
      await expect(sync).rejects.toThrow();
      const c2 = await call(t.url, 'POST', `/api/v1/executions/${jobEntry.id}/cancel`, 'cancelExecution');
      expect(c2.status).toBe(200);
      expect((await getJob(t.url, job.body.data.id)).body.data.status).toBe('canceled');
      const gone = await call(t.url, 'POST', `/api/v1/executions/${'0'.repeat(32)}/cancel`, 'cancelExecution');
      expect(gone.status).toBe(404);
      // The whole process groups are gone (SIGTERM, then SIGKILL for the one ignoring SIGTERM).
      await waitFor(() => pids.every((pid) => !isAlive(pid)), 10_000);
      await waitFor(async () => {
        const l = await call(t.url, 'GET', '/api/v1/executions', 'listExecutions');
        return l.body.data.executions.length === 0;
      });
    });
  });
});
