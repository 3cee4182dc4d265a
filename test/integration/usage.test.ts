/**
 * Usage accounting and per-key limits: one record per finished execution of every kind (tokens as
 * the fake CLIs report them, estimates when they report none), GET /api/v1/usage and /api/v1/me,
 * quotas with an injected clock (reset at UTC midnight), key concurrency, and the 429 shapes of
 * every API style. Every response is checked against the contract. Every case runs on the file stores
 * and on the PostgreSQL stores.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import request from 'supertest';
import { expectMatchesSpec } from '../helpers/contract';
import { promptJob, settle } from '../helpers/jobs';
import { as, KEY_A, KEY_ADMIN, KEY_B, teamKeys } from '../helpers/keys';
import { makeTestApp, makeTestEnv, makeTestServer, type TestApp, type TestServer } from '../helpers/server';
import { createServerApp } from '../../src/http/server';
import { createSilentLogger } from '../../src/observability/logger';
import { SchemaPool } from '../helpers/postgres';
import { storeBackings } from '../helpers/stores';

const DAY = '2026-11-27';
const T0 = Date.parse(`${DAY}T12:00:00.000Z`);
const schemas = new SchemaPool();
afterAll(() => schemas.dropAll());

async function usage(t: TestApp, key: string, query: string) {
  const res = await request(t.app).get(`/api/v1/usage?${query}`).set(as(key));
  expectMatchesSpec('getUsage', res.status, res.body);
  return res;
}

async function me(t: TestApp, key: string) {
  const res = await request(t.app).get('/api/v1/me').set(as(key));
  expectMatchesSpec('getCurrentKey', res.status, res.body);
  return res;
}

async function prompt(t: TestApp, key: string, body: Record<string, unknown>) {
  const res = await request(t.app)
    .post('/api/v1/prompt')
    .set(as(key))
    .send(body.session_id ? body : { ephemeral: true, ...body });
  expectMatchesSpec('executePrompt', res.status, res.body);
  return res;
}

async function waitUntil(fn: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

// every case on the file stores and on the PostgreSQL stores
describe.each(storeBackings(schemas))('%s stores', (_stores, b) => {
  describe('usage records and GET /api/v1/usage', () => {
    let t: TestApp;
    const now = T0;
    beforeAll(async () => {
      t = await makeTestApp(
        { server: { metrics_enabled: true }, auth: { keys: teamKeys() }, ...b.config() },
        { clock: () => now },
      );
    });
    afterAll(() => t.close());

    // token usage of every run, as the responses reported it
    const expected = new Map<string, { requests: number; input: number; output: number }>();
    const add = (key: string, backend: string, u: { input_tokens: number; output_tokens: number }): void => {
      const k = `${key}/${backend}`;
      const e = expected.get(k) ?? { requests: 0, input: 0, output: 0 };
      e.requests++;
      e.input += u.input_tokens;
      e.output += u.output_tokens;
      expected.set(k, e);
    };

    it('records every kind of execution with the tokens the CLI reported', async () => {
      // native JSON, a new session (claude 1650/6), codex and gemini
      const a = await prompt(t, KEY_A, { backend: 'claude', prompt: 'one', ephemeral: false });
      expect(a.status).toBe(200);
      expect(a.body.data.token_usage).toEqual({ input_tokens: 1650, output_tokens: 6, cached_tokens: 0 });
      add('team-a', 'claude', a.body.data.token_usage);
      for (const backend of ['codex', 'gemini']) {
        const r = await prompt(t, KEY_A, { backend, prompt: 'two' });
        expect(r.status).toBe(200);
        add('team-a', backend, r.body.data.token_usage);
      }
      // a continued session (codex reports cumulative thread usage: the record holds the turn's own)
      const c1 = await prompt(t, KEY_B, { backend: 'codex', prompt: 'first', ephemeral: false });
      const c2 = await prompt(t, KEY_B, { session_id: c1.body.data.session_id, prompt: 'second' });
      expect(c2.status).toBe(200);
      expect(c2.body.data.token_usage.input_tokens).toBe(15038);
      add('team-b', 'codex', c1.body.data.token_usage);
      add('team-b', 'codex', c2.body.data.token_usage);
      // stream
      const s = await request(t.app)
        .post('/api/v1/prompt/stream')
        .set(as(KEY_B))
        .send({ backend: 'gemini', prompt: 'streamed', ephemeral: true });
      expect(s.status).toBe(200);
      const done = s.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .find((e) => e.type === 'done');
      add('team-b', 'gemini', done.content.token_usage);
      // an aggregate: one record per item
      const par = await request(t.app)
        .post('/api/v1/parallel')
        .set(as(KEY_A))
        .send({
          tasks: [
            { backend: 'claude', prompt: 'p1' },
            { backend: 'gemini', prompt: 'p2' },
          ],
        });
      expectMatchesSpec('executeParallel', par.status, par.body);
      for (const item of par.body.data.results) add('team-a', item.backend, item.token_usage);
      // OpenAI and Anthropic compatible calls
      const oa = await request(t.app)
        .post('/openai/v1/chat/completions')
        .set(as(KEY_B))
        .send({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] });
      expectMatchesSpec('openaiChatCompletions', oa.status, oa.body);
      add('team-b', 'claude', {
        input_tokens: oa.body.usage.prompt_tokens,
        output_tokens: oa.body.usage.completion_tokens,
      });
      const an = await request(t.app)
        .post('/anthropic/v1/messages')
        .set(as(KEY_A))
        .send({ model: 'gemini', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
      expectMatchesSpec('anthropicCreateMessage', an.status, an.body);
      add('team-a', 'gemini', an.body.usage);

      // the admin sees every key, grouped by key and backend, sorted
      const res = await usage(t, KEY_ADMIN, `from=${DAY}&to=2026-11-28&group_by=key,backend`);
      expect(res.status).toBe(200);
      expect(res.body.data.from).toBe(`${DAY}T00:00:00Z`);
      expect(res.body.data.to).toBe('2026-11-28T00:00:00Z');
      expect(res.body.data.group_by).toEqual(['key', 'backend']);
      const rows = res.body.data.rows.map((r: any) => ({
        key: r.key,
        backend: r.backend,
        requests: r.requests,
        input: r.input_tokens,
        output: r.output_tokens,
      }));
      const want = [...expected.entries()]
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([k, v]) => ({ key: k.split('/')[0], backend: k.split('/')[1], ...v }));
      expect(rows).toEqual(want);
      const sum = (f: 'requests' | 'input' | 'output') => want.reduce((n, r) => n + r[f], 0);
      expect(res.body.data.totals).toMatchObject({
        requests: sum('requests'),
        failed: 0,
        input_tokens: sum('input'),
        output_tokens: sum('output'),
      });
      expect(res.body.data.totals.requests).toBe(10);
    });

    it('each record names the key, style, operation and the effective values it ran with', async () => {
      const recs = await b.usageRecords(t, DAY);
      expect(recs).toHaveLength(10);
      const first = recs.find((r) => r.key === 'team-a' && r.operation === 'prompt' && r.backend === 'claude')!;
      expect(first).toEqual({
        time: new Date(T0).toISOString(),
        key: 'team-a',
        api_style: 'native',
        operation: 'prompt',
        backend: 'claude',
        working_dir: t.workdir,
        approval_mode: 'default',
        sandbox_mode: 'default',
        status: 'succeeded',
        duration_ms: expect.any(Number),
        input_tokens: 1650,
        output_tokens: 6,
        cached_tokens: 0,
        estimated: false,
        session_id: expect.stringMatching(/^[0-9a-f]{32}$/),
        request_id: expect.any(String),
      });
      expect(recs.map((r) => `${r.api_style}:${r.operation}`).sort()).toEqual([
        'anthropic:messages',
        'native:parallel',
        'native:parallel',
        'native:prompt',
        'native:prompt',
        'native:prompt',
        'native:prompt',
        'native:prompt',
        'native:prompt',
        'openai:chat.completions',
      ]);
      // keys and hashes never: only names
      const text = JSON.stringify(recs);
      expect(text).not.toContain(KEY_A);
      expect(text).not.toMatch(/[0-9a-f]{64}/);
    });

    it('a user key sees only its own records, whatever key it asks for', async () => {
      const own = await usage(t, KEY_B, `from=${DAY}&to=2026-11-28&group_by=key&key=team-a`);
      expect(own.status).toBe(200);
      expect(own.body.data.rows.map((r: any) => r.key)).toEqual(['team-b']);
      const admin = await usage(t, KEY_ADMIN, `from=${DAY}&to=2026-11-28&group_by=key&key=team-a`);
      expect(admin.body.data.rows.map((r: any) => r.key)).toEqual(['team-a']);
      expect(admin.body.data.totals.requests).toBe(6);
    });

    it('defaults: the last 7 days grouped by day; ranges are [from, to)', async () => {
      const res = await usage(t, KEY_ADMIN, '');
      expect(res.body.data).toMatchObject({
        from: '2026-11-21T00:00:00Z',
        to: '2026-11-28T00:00:00Z',
        group_by: ['day'],
        rows: [{ day: DAY, requests: 10, failed: 0 }],
      });
      const before = await usage(t, KEY_ADMIN, `from=2026-11-20&to=${DAY}`);
      expect(before.body.data.rows).toEqual([]);
      const within = await usage(t, KEY_ADMIN, `from=${DAY}T11:00:00Z&to=${DAY}T12:00:00.001Z&group_by=status`);
      expect(within.body.data.rows).toEqual([expect.objectContaining({ status: 'succeeded', requests: 10 })]);
      const after = await usage(t, KEY_ADMIN, `from=${DAY}T12:00:00.001%2B00:00&group_by=model`);
      expect(after.body.data.totals.requests).toBe(0);
    });

    it('refuses repeated group fields, impossible dates and reversed ranges (400)', async () => {
      for (const [q, detail] of [
        ['group_by=day,day', { path: 'query.group_by', message: 'repeats day' }],
        ['from=2026-02-30', { path: 'query.from', message: 'must be an RFC 3339 timestamp or YYYY-MM-DD' }],
        [`from=${DAY}&to=2026-11-01`, { path: 'query.to', message: 'must not be before from' }],
      ] as const) {
        const res = await usage(t, KEY_ADMIN, q);
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('validation_error');
        expect(res.body.details).toEqual([detail]);
      }
      const bad = await usage(t, KEY_ADMIN, 'group_by=day,owner');
      expect(bad.status).toBe(400);
    });

    it('GET /api/v1/me: name, role, backends, limits and today', async () => {
      const a = await me(t, KEY_A);
      expect(a.status).toBe(200);
      expect(a.body).toEqual({
        success: true,
        data: {
          name: 'team-a',
          role: 'user',
          backends: ['claude', 'codex', 'gemini'],
          limits: { requests_per_day: null, tokens_per_day: null, max_concurrent: null },
          today: { requests: 6, tokens: expect.any(Number), running: 0 },
        },
      });
      const ops = await me(t, KEY_ADMIN);
      expect(ops.body.data).toMatchObject({
        name: 'ops',
        role: 'admin',
        today: { requests: 0, tokens: 0, running: 0 },
      });
    });

    it('per-key metrics carry key names, never keys or hashes', async () => {
      const res = await request(t.app).get('/metrics').set(as(KEY_ADMIN));
      expect(res.status).toBe(200);
      expect(res.text).toContain('clinvk_key_executions_total{key="team-a",backend="claude",status="succeeded"} 2');
      expect(res.text).toContain('clinvk_key_tokens_total{key="team-a",backend="claude",direction="input"} 3300');
      expect(res.text).not.toContain(KEY_A);
      expect(res.text).not.toMatch(/key="[0-9a-f]{64}"/);
    });

    it('dry runs record nothing', async () => {
      const before = (await b.usageRecords(t, DAY)).length;
      const res = await prompt(t, KEY_A, { backend: 'claude', prompt: 'dry', dry_run: true });
      expect(res.status).toBe(200);
      await t.bundle.services.usage.flush();
      expect(await b.usageRecords(t, DAY)).toHaveLength(before);
    });
  });

  describe('estimates, failures and restarts', () => {
    it('a run without reported usage is estimated; failed runs are recorded; records survive a restart', async () => {
      const env = makeTestEnv(b.config());
      const clock = () => T0;
      try {
        let bundle = await createServerApp(env.config, createSilentLogger(), { clock });
        // codex exits 1 before turn.completed: no usage reported → ceil(bytes / 4) of prompt and output
        const failed = await request(bundle.app)
          .post('/api/v1/prompt')
          .send({ backend: 'codex', prompt: 'no usage [EXIT:1]', ephemeral: true });
        expectMatchesSpec('executePrompt', failed.status, failed.body);
        expect(failed.status).toBe(502);
        const ok = await request(bundle.app)
          .post('/api/v1/prompt')
          .send({ backend: 'claude', prompt: 'fine', ephemeral: true });
        expect(ok.status).toBe(200);
        await bundle.close(); // graceful: everything flushed
        const recs = await b.usageRecords(env, DAY);
        expect(recs.map((r) => [r.key, r.backend, r.status, r.estimated])).toEqual([
          ['anonymous', 'codex', 'failed', true],
          ['anonymous', 'claude', 'succeeded', false],
        ]);
        expect(recs[0]!.input_tokens).toBe(Math.ceil(Buffer.byteLength('no usage [EXIT:1]') / 4));
        expect(recs[0]!.output_tokens).toBeGreaterThanOrEqual(0);

        bundle = await createServerApp(env.config, createSilentLogger(), { clock });
        const res = await request(bundle.app).get(`/api/v1/usage?from=${DAY}&group_by=backend,status`);
        expectMatchesSpec('getUsage', res.status, res.body);
        expect(res.body.data.rows.map((r: any) => [r.backend, r.status, r.requests, r.failed])).toEqual([
          ['claude', 'succeeded', 1, 0],
          ['codex', 'failed', 1, 1],
        ]);
        // today's counters are rebuilt from the records
        const m = await request(bundle.app).get('/api/v1/me');
        expectMatchesSpec('getCurrentKey', m.status, m.body);
        expect(m.body.data).toMatchObject({ name: 'anonymous', role: 'admin', today: { requests: 2, running: 0 } });
        expect(m.body.data.today.tokens).toBe(recs.reduce((n, r) => n + r.input_tokens + r.output_tokens, 0));
        await bundle.close();
      } finally {
        env.cleanup();
      }
    });
  });

  describe('quotas and key concurrency', () => {
    let t: TestApp;
    let now = Date.parse(`${DAY}T23:59:30.000Z`);
    beforeAll(async () => {
      t = await makeTestApp(
        {
          auth: {
            keys: teamKeys({
              'team-a': { requests_per_day: 2 },
              'team-b': { tokens_per_day: 1000, max_concurrent: 1 },
            }),
          },
          ...b.config(),
        },
        { clock: () => now },
      );
    });
    afterAll(() => t.close());

    it('requests_per_day: 429 quota_exceeded with Retry-After to UTC midnight; the next day it works again', async () => {
      expect((await prompt(t, KEY_A, { backend: 'claude', prompt: 'q1' })).status).toBe(200);
      // an aggregate needs one request per item: 2 items do not fit in the 1 left
      const agg = await request(t.app)
        .post('/api/v1/parallel')
        .set(as(KEY_A))
        .send({
          tasks: [
            { backend: 'claude', prompt: 'x' },
            { backend: 'codex', prompt: 'y' },
          ],
        });
      expectMatchesSpec('executeParallel', agg.status, agg.body);
      expect(agg.status).toBe(429);
      expect(agg.body).toEqual({
        success: false,
        code: 'quota_exceeded',
        error: 'daily request quota of key team-a does not cover 2 executions (1 left today)',
      });
      expect((await prompt(t, KEY_A, { backend: 'claude', prompt: 'q2' })).status).toBe(200);
      // a dry run is neither refused nor counted
      expect((await prompt(t, KEY_A, { backend: 'claude', prompt: 'dry', dry_run: true })).status).toBe(200);
      const refused = await prompt(t, KEY_A, { backend: 'claude', prompt: 'q3' });
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('30');
      expect(refused.body).toEqual({
        success: false,
        code: 'quota_exceeded',
        error: 'daily request quota of key team-a used up (2 per day)',
      });
      const starts = t.starts().length;
      const m = await me(t, KEY_A);
      expect(m.body.data).toMatchObject({
        limits: { requests_per_day: 2, tokens_per_day: null, max_concurrent: null },
        today: { requests: 2, running: 0 },
      });
      // other keys are not affected
      expect((await prompt(t, KEY_ADMIN, { backend: 'claude', prompt: 'q3' })).status).toBe(200);
      expect(t.starts().length).toBe(starts + 1);
      now = Date.parse('2026-11-28T00:00:00.000Z');
      expect((await prompt(t, KEY_A, { backend: 'claude', prompt: 'q4' })).status).toBe(200);
      expect((await me(t, KEY_A)).body.data.today.requests).toBe(1);
    });

    it('tokens_per_day: the run that crosses it finishes, the next is refused', async () => {
      now = Date.parse('2026-11-28T10:00:00.000Z');
      expect((await prompt(t, KEY_B, { backend: 'claude', prompt: 'big' })).status).toBe(200); // 1656 tokens
      const refused = await prompt(t, KEY_B, { backend: 'claude', prompt: 'more' });
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe(String(14 * 3600));
      expect(refused.body).toEqual({
        success: false,
        code: 'quota_exceeded',
        error: 'daily token quota of key team-b used up (1000 per day)',
      });
      // the compatible APIs answer in their own shape
      const oa = await request(t.app)
        .post('/openai/v1/chat/completions')
        .set(as(KEY_B))
        .send({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] });
      expectMatchesSpec('openaiChatCompletions', oa.status, oa.body);
      expect(oa.status).toBe(429);
      expect(oa.headers['retry-after']).toBe(String(14 * 3600));
      expect(oa.body.error).toMatchObject({ type: 'rate_limit_error', code: 'quota_exceeded' });
      const an = await request(t.app)
        .post('/anthropic/v1/messages')
        .set(as(KEY_B))
        .send({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
      expectMatchesSpec('anthropicCreateMessage', an.status, an.body);
      expect(an.status).toBe(429);
      expect(an.body).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
      // a job is checked when it is created
      const job = await request(t.app)
        .post('/api/v1/jobs')
        .set(as(KEY_B))
        .send({ operation: 'prompt', request: { backend: 'claude', prompt: 'later', ephemeral: true } });
      expectMatchesSpec('createJob', job.status, job.body);
      expect(job.status).toBe(429);
      expect(job.body.code).toBe('quota_exceeded');
    });

    it('max_concurrent: 429 key_concurrency_limit (Retry-After: 1) while the key runs; a run in progress finishes', async () => {
      now = Date.parse('2026-11-29T10:00:00.000Z'); // team-b's tokens start again
      const slow = request(t.app)
        .post('/api/v1/prompt')
        .set(as(KEY_B))
        .send({ backend: 'claude', prompt: 'slow [SLEEP:1500]', ephemeral: true })
        .then((r) => r);
      await waitUntil(async () => (await t.bundle.services.usage.today('team-b')).running === 1);
      const second = await prompt(t, KEY_B, { backend: 'claude', prompt: 'second' });
      expect(second.status).toBe(429);
      expect(second.headers['retry-after']).toBe('1');
      expect(second.body).toEqual({
        success: false,
        code: 'key_concurrency_limit',
        error: 'key team-b already has 1 executions running or queued (max_concurrent 1)',
      });
      expect((await me(t, KEY_B)).body.data.today).toMatchObject({ running: 1 });
      // other keys run meanwhile
      expect((await prompt(t, KEY_A, { backend: 'claude', prompt: 'a' })).status).toBe(200);
      const first = await slow;
      expectMatchesSpec('executePrompt', first.status, first.body);
      expect(first.status).toBe(200);
      // the finished run freed its place (its 1656 tokens used up team-b's day, though)
      expect((await me(t, KEY_B)).body.data.today).toEqual({ requests: 1, tokens: 1656, running: 0 });
    });

    it('an aggregate wider than the key allows runs its items one at a time', async () => {
      now = Date.parse('2026-11-30T10:00:00.000Z');
      const res = await request(t.app)
        .post('/api/v1/parallel')
        .set(as(KEY_B))
        .send({
          max_parallel: 3,
          tasks: [
            { backend: 'claude', prompt: 'i1 [SLEEP:300]' },
            { backend: 'claude', prompt: 'i2 [SLEEP:300]' },
            { backend: 'claude', prompt: 'i3 [SLEEP:300]' },
          ],
        });
      expectMatchesSpec('executeParallel', res.status, res.body);
      expect(res.body).toMatchObject({ success: true, data: { completed: 3 } });
      // never two of them at once: each start comes after the previous end
      const log = t.log().filter((e) => e.cli === 'claude' && /i[123] /.test(JSON.stringify(e.argv ?? [])));
      const ends = t.log().filter((e) => e.event === 'end');
      const starts = log.filter((e) => e.event === 'start').sort((x, y) => x.time! - y.time!);
      expect(starts).toHaveLength(3);
      for (let i = 1; i < starts.length; i++) {
        const prevEnd = ends.find((e) => e.pid === starts[i - 1]!.pid)!;
        expect(starts[i]!.time!).toBeGreaterThanOrEqual(prevEnd.time!);
      }
      await t.bundle.services.usage.flush();
      const recs = await b.usageRecords(t, '2026-11-30');
      expect(recs.filter((r) => r.operation === 'parallel' && r.key === 'team-b')).toHaveLength(3);
    });
  });

  describe('the SDKs see 429 as RateLimitError; jobs and their quota', () => {
    let srv: TestServer;
    let now = Date.parse(`${DAY}T23:00:00.000Z`);
    beforeAll(async () => {
      srv = await makeTestServer(
        {
          server: { max_concurrent_executions: 1 },
          auth: {
            keys: teamKeys({
              'team-a': { requests_per_day: 1 },
              'team-b': { max_concurrent: 1 },
            }),
          },
          ...b.config(),
        },
        { clock: () => now },
      );
    });
    afterAll(() => srv.close());

    const promptNow = (key: string, prompt: string) =>
      fetch(`${srv.url}/api/v1/prompt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...as(key) },
        body: JSON.stringify({ backend: 'claude', prompt, ephemeral: true }),
      });
    const openai = (key: string) => new OpenAI({ baseURL: `${srv.url}/openai/v1`, apiKey: key, maxRetries: 0 });
    const anthropic = (key: string) => new Anthropic({ baseURL: `${srv.url}/anthropic`, apiKey: key, maxRetries: 0 });

    it('quota_exceeded: OpenAI and Anthropic SDKs raise RateLimitError with Retry-After', async () => {
      const ok = await openai(KEY_A).chat.completions.create({
        model: 'claude',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(ok.usage).toMatchObject({ prompt_tokens: 1650, completion_tokens: 6 });
      const err = await openai(KEY_A)
        .chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'again' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      const e = err as InstanceType<typeof OpenAI.RateLimitError>;
      expect(e.status).toBe(429);
      expect(e.code).toBe('quota_exceeded');
      expect(e.type).toBe('rate_limit_error');
      expect(e.headers?.get('retry-after')).toBe('3600');
      const aerr = await anthropic(KEY_A)
        .messages.create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'again' }] })
        .catch((x: unknown) => x);
      expect(aerr).toBeInstanceOf(Anthropic.RateLimitError);
      expect((aerr as InstanceType<typeof Anthropic.RateLimitError>).headers?.get('retry-after')).toBe('3600');
      // a job is refused at creation
      const job = await promptJob(srv.url, 'later', 'claude', as(KEY_A));
      expect(job.status).toBe(429);
      expect(job.body.code).toBe('quota_exceeded');
    });

    it('key_concurrency_limit: both SDKs raise RateLimitError while the key runs', async () => {
      const slow = openai(KEY_B).chat.completions.create({
        model: 'claude',
        messages: [{ role: 'user', content: 'slow [SLEEP:1500]' }],
      });
      await waitUntil(async () => (await srv.server.services.usage.today('team-b')).running === 1);
      const err = await openai(KEY_B)
        .chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'b' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect((err as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('key_concurrency_limit');
      expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')).toBe('1');
      const aerr = await anthropic(KEY_B)
        .messages.create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'b' }] })
        .catch((x: unknown) => x);
      expect(aerr).toBeInstanceOf(Anthropic.RateLimitError);
      expect((await slow).choices[0]!.finish_reason).toBe('stop');
    });

    it('a job whose owner used up the quota before it started fails with quota_exceeded; job runs are recorded', async () => {
      now = Date.parse('2026-11-28T08:00:00.000Z'); // team-a has 1 request again
      // the admin holds the only execution slot; team-a's job waits behind it, and so does a synchronous prompt
      const hold = promptNow(KEY_ADMIN, 'hold [SLEEP:1500]');
      await waitUntil(() => srv.server.services.limiter.running === 1);
      const job = await promptJob(srv.url, 'the job', 'claude', as(KEY_A));
      expect(job.status).toBe(202);
      // the synchronous request goes first when the slot frees: it takes team-a's last request
      const sync = await promptNow(KEY_A, 'sync');
      expect(sync.status).toBe(200);
      expect((await hold).status).toBe(200);
      const done = await settle(srv.url, job.body.data.id, 20_000, as(KEY_A));
      expect(done).toMatchObject({ status: 'failed', error: { code: 'quota_exceeded' } });

      // a job that runs is recorded with its id and operation
      const ok = await promptJob(srv.url, 'job run', 'gemini', as(KEY_ADMIN));
      expect(ok.status).toBe(202);
      expect(await settle(srv.url, ok.body.data.id, 20_000, as(KEY_ADMIN))).toMatchObject({ status: 'succeeded' });
      await srv.server.services.usage.flush();
      const rec = (await b.usageRecords(srv, '2026-11-28')).find((r) => r.job_id === ok.body.data.id);
      expect(rec).toMatchObject({
        key: 'ops',
        api_style: 'native',
        operation: 'prompt',
        backend: 'gemini',
        status: 'succeeded',
      });
    });
  });
});
