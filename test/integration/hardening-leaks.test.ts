/**
 * The smaller leaks of the security review (docs/security.md): no workdir existence probe, an
 * `X-Clinvk-Ignored-Params` header no body can break, at most 2 KiB of a CLI's stderr in answers,
 * and `/health` / `/api/v1/backends` details only for callers entitled to them.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { MAX_ERROR_TEXT_BYTES } from '../../src/execution/executor';
import { expectMatchesSpec } from '../helpers/contract';
import { as, KEY_A, KEY_ADMIN, memoryLogger, teamKeys } from '../helpers/keys';
import { makeTestApp } from '../helpers/server';

describe('workdir: no existence probe outside the allowed prefixes', () => {
  test('a missing and an existing directory outside the allowed prefixes get the same 403', async () => {
    const u = await makeTestApp({ server: { allowed_workdir_prefixes: ['/nonexistent-allowed'] } });
    try {
      const existing = path.join(u.root, 'outside');
      fs.mkdirSync(existing);
      const missing = path.join(u.root, 'outside-missing');
      const answers = [];
      for (const workdir of [existing, missing]) {
        const res = await request(u.app)
          .post('/api/v1/prompt')
          .set('Content-Type', 'application/json')
          .send({ backend: 'claude', prompt: 'hi', workdir, dry_run: true, ephemeral: true });
        expectMatchesSpec('executePrompt', res.status, res.body);
        answers.push({ status: res.status, body: JSON.stringify(res.body).split(workdir).join('<dir>') });
      }
      expect(answers[0]).toEqual(answers[1]);
      expect(answers[0]!.status).toBe(403);
      expect(JSON.parse(answers[0]!.body).code).toBe('forbidden_workdir');
      expect(u.starts()).toHaveLength(0);
    } finally {
      await u.close();
    }
  });
});

describe('X-Clinvk-Ignored-Params: only token names, never a 500', () => {
  const odd = ['a\r\nX-Evil: 1', 'ünïcode', 'sp ace', '日本', 'comma,name', 'semi;colon'];

  test.each([
    [
      'openai',
      '/openai/v1/chat/completions',
      'openaiChatCompletions',
      { model: 'claude', messages: [{ role: 'user', content: 'hi' }] },
    ],
    [
      'anthropic',
      '/anthropic/v1/messages',
      'anthropicCreateMessage',
      { model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
    ],
  ])('%s: odd names are counted, token names listed', async (_api, url, op, base) => {
    const t = await makeTestApp();
    try {
      const body: Record<string, unknown> = { ...base, seed: 1, 'x-ok_name.v2': true };
      for (const k of odd) body[k] = 1;
      const res = await request(t.app).post(url).set('Content-Type', 'application/json').send(body);
      expect(res.status).toBe(200);
      expectMatchesSpec(op, res.status, res.body);
      expect(res.headers['x-clinvk-ignored-params']).toBe(`seed,x-ok_name.v2,(${odd.length} not shown)`);
      expect(res.headers['x-evil']).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  test('a body with thousands of ignored fields gets a header of at most 1024 listed characters', async () => {
    const t = await makeTestApp();
    try {
      const body: Record<string, unknown> = { model: 'claude', messages: [{ role: 'user', content: 'hi' }] };
      for (let i = 0; i < 3000; i++) body[`field_${String(i).padStart(4, '0')}`] = i;
      const res = await request(t.app)
        .post('/openai/v1/chat/completions')
        .set('Content-Type', 'application/json')
        .send(body);
      expect(res.status).toBe(200);
      const header: string = res.headers['x-clinvk-ignored-params'];
      const names = header.split(',');
      const more = names.pop()!;
      expect(names.join(',').length).toBeLessThanOrEqual(1024);
      expect(names[0]).toBe('field_0000');
      expect(more).toBe(`(${3000 - names.length} not shown)`);
    } finally {
      await t.close();
    }
  });
});

describe('at most 2 KiB of a CLI stderr in answers', () => {
  const stderrOf = (s: string) => s.replace(/\n\[… \d+ bytes omitted …\]\n/, '');

  test('JSON answer: the error text keeps the start and the end, the debug log has the whole tail', async () => {
    const dbg = memoryLogger('debug');
    const t = await makeTestApp({}, { logger: dbg.logger });
    try {
      const res = await request(t.app)
        .post('/api/v1/prompt')
        .set('Content-Type', 'application/json')
        .send({ backend: 'claude', prompt: 'noisy [STDERR:20000] [EXIT:3]', ephemeral: true });
      expect([res.status, res.body.code]).toEqual([502, 'backend_failed']);
      expectMatchesSpec('executePrompt', res.status, res.body);
      const error: string = res.body.data.error;
      expect(error).toMatch(/^STDERR-HEAD\n/);
      expect(error).toMatch(/\nSTDERR-TAIL$/);
      expect(error).toMatch(/\n\[… \d+ bytes omitted …\]\n/);
      expect(Buffer.byteLength(stderrOf(error))).toBeLessThanOrEqual(MAX_ERROR_TEXT_BYTES);
      expect(Buffer.byteLength(stderrOf(error))).toBeGreaterThan(MAX_ERROR_TEXT_BYTES - 100);
      expect(res.body.error).toBe(`claude failed: ${error}`);
      const full = dbg.lines().find((l) => typeof l.stderr === 'string' && l.stderr.includes('STDERR-HEAD'));
      expect(full?.stderr.trim().length).toBe(20000 - 1);
    } finally {
      await t.close();
    }
  });

  test('gemini (last stderr lines) is shortened too; a short stderr is unchanged', async () => {
    const t = await makeTestApp();
    try {
      const res = await request(t.app)
        .post('/api/v1/prompt')
        .set('Content-Type', 'application/json')
        .send({ backend: 'gemini', prompt: 'noisy [STDERR:30000] [EXIT:3]', ephemeral: true });
      expect([res.status, res.body.code]).toEqual([502, 'backend_failed']);
      const error: string = res.body.data.error;
      expect(error).toMatch(/\n\[… \d+ bytes omitted …\]\n/);
      expect(error).toMatch(/\nSTDERR-TAIL$/);
      expect(Buffer.byteLength(stderrOf(error))).toBeLessThanOrEqual(MAX_ERROR_TEXT_BYTES);
      const short = await request(t.app)
        .post('/api/v1/prompt')
        .set('Content-Type', 'application/json')
        .send({ backend: 'claude', prompt: 'short [STDERR:300] [EXIT:3]', ephemeral: true });
      expect(short.body.data.error).toBe(`STDERR-HEAD\n${'e'.repeat(275)}\nSTDERR-TAIL`);
    } finally {
      await t.close();
    }
  });
});

describe('/health and /api/v1/backends without the right key', () => {
  test('auth on: /health without a valid key answers only the status; with any valid key the full report', async () => {
    const t = await makeTestApp({ auth: { keys: teamKeys() } });
    try {
      for (const headers of [{}, as('wrong-key')]) {
        const res = await request(t.app).get('/health').set(headers);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ status: 'ok' });
        expectMatchesSpec('healthCheck', res.status, res.body);
      }
      const full = await request(t.app).get('/health').set(as(KEY_A));
      expect(Object.keys(full.body)).toEqual([
        'status',
        'version',
        'uptime',
        'uptime_ms',
        'backends',
        'session_store',
        'executions',
      ]);
      expectMatchesSpec('healthCheck', full.status, full.body);
    } finally {
      await t.close();
    }
  });

  test('auth off: /health keeps the full report', async () => {
    const t = await makeTestApp();
    try {
      const res = await request(t.app).get('/health');
      expect(res.body.session_store).toEqual({ available: true, session_count: 0 });
      expectMatchesSpec('healthCheck', res.status, res.body);
    } finally {
      await t.close();
    }
  });

  test('/api/v1/backends: executable paths for admin keys only (and while auth is off)', async () => {
    const t = await makeTestApp({ auth: { keys: teamKeys() } });
    try {
      const user = await request(t.app).get('/api/v1/backends').set(as(KEY_A));
      expect(user.status).toBe(200);
      expectMatchesSpec('listBackends', user.status, user.body);
      expect(
        user.body.data.backends.map((b: Record<string, unknown>) => [b.name, b.available, 'command' in b]),
      ).toEqual([
        ['claude', true, false],
        ['codex', true, false],
        ['gemini', true, false],
      ]);
      const admin = await request(t.app).get('/api/v1/backends').set(as(KEY_ADMIN));
      expect(admin.body.data.backends.map((b: { command?: string }) => b.command)).toEqual(
        ['claude', 'codex', 'gemini'].map((n) => t.config.backends[n as 'claude'].command),
      );
    } finally {
      await t.close();
    }
    const off = await makeTestApp();
    try {
      const res = await request(off.app).get('/api/v1/backends');
      expect(res.body.data.backends.every((b: { command?: string }) => typeof b.command === 'string')).toBe(true);
    } finally {
      await off.close();
    }
  });
});
