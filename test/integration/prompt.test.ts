/**
 * POST /api/v1/prompt end to end against the fake CLIs (JSON mode), GET /api/v1/backends,
 * GET /health and the meta routes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { expectMatchesSpec } from '../helpers/contract';
import { makeTestApp, waitFor, type TestApp } from '../helpers/server';

const reply = (prompt: string) =>
  `MOCK-REPLY: ${crypto.createHash('sha256').update(prompt).digest('hex').slice(0, 12)}`;

async function prompt(t: TestApp, body: unknown) {
  const res = await request(t.app)
    .post('/api/v1/prompt')
    .send(body as object);
  expectMatchesSpec('executePrompt', res.status, res.body);
  return res;
}

describe('POST /api/v1/prompt (JSON mode)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(() => t.close());

  test.each([
    ['claude', { input_tokens: 1650, output_tokens: 6, cached_tokens: 0 }],
    ['codex', { input_tokens: 14962, output_tokens: 6, cached_tokens: 0, reasoning_tokens: 0 }],
  ])('%s succeeds with output, usage and a session', async (backend, usage) => {
    const res = await prompt(t, { backend, prompt: 'What is 2+2?' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const data = res.body.data;
    expect(res.body.success).toBe(true);
    expect(data).toEqual({
      session_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      backend,
      exit_code: 0,
      duration_ms: expect.any(Number),
      output: reply('What is 2+2?'),
      token_usage: usage,
    });
    expect(Object.keys(data)).toEqual(['session_id', 'backend', 'exit_code', 'duration_ms', 'output', 'token_usage']);
    expect(res.headers['x-clinvk-session-id']).toBe(data.session_id);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(await t.storedSessionIds()).toContain(data.session_id);
  });

  test('gemini succeeds; usage summed over the router and main model', async () => {
    const res = await prompt(t, { backend: 'gemini', prompt: 'hi' });
    expect(res.status).toBe(200);
    expect(res.body.data.output).toBe(reply('hi'));
    expect(res.body.data.token_usage).toEqual({
      input_tokens: 254,
      output_tokens: 19,
      cached_tokens: 0,
      reasoning_tokens: 0,
    });
  });

  test('the CLI gets the exact argv, its own process group, stdin /dev/null and TRACEPARENT', async () => {
    const before = t.starts().length;
    const res = await request(t.app)
      .post('/api/v1/prompt')
      .set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
      .send({ backend: 'claude', prompt: '--help', model: 'fast', max_turns: 3, ephemeral: true });
    expect(res.status).toBe(200);
    expect(res.body.data.model).toBe('haiku');
    expect(res.body.data.session_id).toBeUndefined();
    const start = t.starts()[before]!;
    expect(start.argv).toEqual([
      '-p',
      '--output-format',
      'json',
      '--model',
      'haiku',
      '--max-turns',
      '3',
      '--no-session-persistence',
      '--',
      '--help',
    ]);
    expect(start.cwd).toBe(t.workdir);
    expect(start.pgid).toBe(start.pid);
    expect(start.stdin).toBe('null');
    expect(res.headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(start.env?.TRACEPARENT).toBe(res.headers.traceparent);
  });

  test.each([['hi; rm -rf ~ && $(reboot) > out'], ['-rf /'], ['--dangerously-skip-permissions']])(
    'prompt %j stays literal text (row 12)',
    async (text) => {
      for (const backend of ['codex', 'gemini']) {
        const res = await prompt(t, { backend, prompt: text, ephemeral: true });
        expect(res.status).toBe(200);
        expect(res.body.data.output).toBe(reply(text));
      }
    },
  );

  test('gemini ephemeral run: the CLI-side session is deleted afterwards', async () => {
    const before = t.cleanups().length;
    const res = await prompt(t, { backend: 'gemini', prompt: 'forget me', ephemeral: true });
    expect(res.status).toBe(200);
    const cleanup = await waitFor(() => t.cleanups()[before]);
    expect(cleanup.argv).toEqual([expect.stringMatching(/^--delete-session=[0-9a-f-]{36}$/), '--skip-trust']);
    expect(cleanup.cwd).toBe(t.workdir);
    await waitFor(() => t.log().some((e) => e.event === 'end' && e.pid === cleanup.pid));
    const dir = path.join(t.stateDir, 'gemini', 'sessions');
    const left = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.includes(cleanup.argv![1]!)) : [];
    expect(left).toEqual([]);
  });

  test('claude is_error result → 502 backend_failed with the result in data', async () => {
    const res = await prompt(t, { backend: 'claude', prompt: 'fail [E400]' });
    expect(res.status).toBe(502);
    expect(res.headers['x-should-retry']).toBe('false');
    expect(res.body).toEqual({
      success: false,
      error: 'claude failed: API Error: 400 mock injected error 400',
      code: 'backend_failed',
      data: {
        session_id: expect.stringMatching(/^[0-9a-f]{32}$/),
        backend: 'claude',
        exit_code: 1,
        duration_ms: expect.any(Number),
        output: '',
        error: 'API Error: 400 mock injected error 400',
        token_usage: { input_tokens: 0, output_tokens: 0, cached_tokens: 0 },
      },
    });
  });

  test('codex turn.failed → 502 with the provider message', async () => {
    const res = await prompt(t, { backend: 'codex', prompt: 'fail [E401]', ephemeral: true });
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('backend_failed');
    expect(res.body.error).toMatch(/^codex failed: unexpected status 401 Unauthorized: mock injected error 401/);
    expect(res.body.data.exit_code).toBe(1);
  });

  test('gemini stderr JSON error → 502 with exit code 144', async () => {
    const res = await prompt(t, { backend: 'gemini', prompt: 'fail [E400]', ephemeral: true });
    expect(res.status).toBe(502);
    expect(res.body.error).toBe(
      'gemini failed: {"error":{"code":400,"message":"mock injected error 400","status":"INVALID_ARGUMENT"}}',
    );
    expect(res.body.data.exit_code).toBe(144);
  });

  test.each([
    ['claude', ['-p', '--output-format', 'json', '--', 'What is 2+2?']],
    ['codex', ['exec', '--json', '--skip-git-repo-check', '--', 'What is 2+2?']],
    ['gemini', ['--output-format=json', '--skip-trust', '--prompt=What is 2+2?']],
  ])('%s dry run returns the exact argv, runs nothing and creates a completed session', async (backend, args) => {
    const before = t.starts().length;
    const res = await prompt(t, { backend, prompt: 'What is 2+2?', dry_run: true });
    expect(res.status).toBe(200);
    const exe = path.join(__dirname, '../fixtures/bin', backend);
    expect(res.body.data).toEqual({
      session_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      backend,
      exit_code: 0,
      duration_ms: 0,
      output: `Would execute: ${exe} [${args.join(' ')}]`,
      command: [exe, ...args],
      working_dir: t.workdir,
    });
    expect(t.starts().length).toBe(before);
    const s = await request(t.app).get(`/api/v1/sessions/${res.body.data.session_id}`);
    expect(s.body.data).toMatchObject({ status: 'completed', turn_count: 1, backend });
  });

  test('system prompt: claude flag, codex prefix', async () => {
    const c = await prompt(t, {
      backend: 'claude',
      prompt: 'p',
      system_prompt: 'be brief',
      dry_run: true,
      ephemeral: true,
    });
    expect(c.body.data.command.slice(1)).toEqual([
      '-p',
      '--output-format',
      'json',
      '--system-prompt',
      'be brief',
      '--no-session-persistence',
      '--',
      'p',
    ]);
    const x = await prompt(t, {
      backend: 'codex',
      prompt: 'p',
      system_prompt: 'be brief',
      dry_run: true,
      ephemeral: true,
    });
    expect(x.body.data.command.at(-1)).toBe('[System instructions]\nbe brief\n[End of system instructions]\n\np');
  });

  test('GET /api/v1/backends lists all three in order with resolved commands and, once read, versions', async () => {
    const res = await request(t.app).get('/api/v1/backends');
    expectMatchesSpec('listBackends', res.status, res.body);
    const command = (name: string) => path.join(__dirname, '../fixtures/bin', name);
    const versions: Record<string, string> = { claude: '2.1.197', codex: '0.171.0', gemini: '0.61.0' };
    // The first answer may come before `--version` was read (it is never awaited on a request).
    for (const b of res.body.data.backends) {
      expect(b).toMatchObject({ available: true, enabled: true, command: command(b.name) });
    }
    const again = await waitFor(async () => {
      const r = await request(t.app).get('/api/v1/backends');
      return r.body.data.backends.every((b: { version?: string }) => b.version) && r;
    });
    expectMatchesSpec('listBackends', again.status, again.body);
    expect(again.body).toEqual({
      success: true,
      data: {
        backends: ['claude', 'codex', 'gemini'].map((name) => ({
          name,
          available: true,
          enabled: true,
          command: command(name),
          version: versions[name],
          verified: true,
        })),
      },
    });
  });

  test('GET /health is ok with all backends available', async () => {
    const res = await request(t.app).get('/health');
    expectMatchesSpec('healthCheck', res.status, res.body);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      version: JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')).version,
      session_store: { available: true },
      executions: { running: 0, queued: 0, max_concurrent: 8, max_queued: 64 },
    });
    expect(res.body.uptime).toMatch(/^(\d+h)?(\d+m)?\d+s$/);
    const head = await request(t.app).head('/health');
    expect(head.status).toBe(200);
    expect(head.text ?? '').toBe('');
  });

  test('meta routes: openapi.json, openapi.yaml, docs', async () => {
    const json = await request(t.app).get('/openapi.json');
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(json.body.info).toMatchObject({ title: 'clinvk API', version: '0.1.0' });
    const yaml = await request(t.app).get('/openapi.yaml');
    expect(yaml.headers['content-type']).toMatch(/^application\/yaml/);
    expect(yaml.text).toContain('title: clinvk API');
    const docs = await request(t.app).get('/docs');
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('/docs/assets/swagger-ui-bundle.js');
    const asset = await request(t.app).get('/docs/assets/swagger-ui-bundle.js');
    expect(asset.status).toBe(200);
    const metrics = await request(t.app).get('/metrics');
    expect(metrics.status).toBe(404);
    expect(metrics.body).toEqual({
      success: false,
      error: 'metrics are disabled (server.metrics_enabled: false)',
      code: 'not_found',
    });
  });
});

describe('backend availability and timeouts', () => {
  test('disabled and missing backends → 503, also for dry runs; nothing spawned', async () => {
    const t = await makeTestApp({ backends: { gemini: { enabled: false }, codex: { command: '/nonexistent/codex' } } });
    try {
      const g = await prompt(t, { backend: 'gemini', prompt: 'hi', dry_run: true });
      expect(g.status).toBe(503);
      expect(g.body).toEqual({ success: false, error: 'backend "gemini" is disabled', code: 'backend_unavailable' });
      expect(g.headers['x-should-retry']).toBe('false');
      const c = await prompt(t, { backend: 'codex', prompt: 'hi' });
      expect(c.status).toBe(503);
      expect(c.body.code).toBe('backend_unavailable');
      expect(t.starts()).toEqual([]);
      expect(await t.storedSessionIds()).toEqual([]);
      const h = await request(t.app).get('/health');
      expect(h.body.status).toBe('degraded');
      expect(h.body.backends).toEqual([
        { name: 'claude', available: true, enabled: true },
        { name: 'codex', available: false, enabled: true },
        { name: 'gemini', available: false, enabled: false },
      ]);
    } finally {
      await t.close();
    }
  });

  test('request_timeout_secs kills the CLI → 504 with the result', async () => {
    // 3 s: room for the run to be dispatched and the fake CLI (a Node script) to start on a loaded machine
    const t = await makeTestApp({ server: { request_timeout_secs: 3 } });
    try {
      const res = await prompt(t, { backend: 'claude', prompt: 'slow [SLEEP:8000]' });
      expect(res.status).toBe(504);
      expect(res.body).toMatchObject({
        success: false,
        code: 'backend_timeout',
        error: 'timed out after 3 s',
        data: { backend: 'claude', exit_code: -1, error: 'timed out after 3 s' },
      });
      const s = await request(t.app).get(`/api/v1/sessions/${res.body.data.session_id}`);
      expect(s.body.data).toMatchObject({ status: 'error', error_message: 'timed out after 3 s', turn_count: 1 });
    } finally {
      await t.close();
    }
  });

  test('output over server.max_output_bytes → 502 output_too_large', async () => {
    const t = await makeTestApp({ server: { max_output_bytes: 1000 } });
    try {
      const res = await prompt(t, { backend: 'claude', prompt: 'big [BIGOUT:5000]', ephemeral: true });
      expect(res.status).toBe(502);
      expect(res.body).toMatchObject({
        code: 'output_too_large',
        error: 'backend output exceeded 1000 bytes',
        data: { exit_code: -1 },
      });
    } finally {
      await t.close();
    }
  });
});
