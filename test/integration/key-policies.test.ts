/**
 * Per-key policies at admission, in every API style: backends (403 backend_not_allowed, filtered
 * model and backend lists, compat fallback), workdir prefixes (403 forbidden_workdir), approval and
 * sandbox modes and extra flags (403 option_not_allowed with details). Native JSON errors, the
 * official OpenAI and Anthropic SDKs (PermissionDeniedError, no retries), aggregates and jobs (any
 * refused item refuses the whole request and nothing runs), dry runs. Every JSON answer is checked
 * against the contract.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { flagValue, lastRun, runs } from '../helpers/compat';
import { call } from '../helpers/jobs';
import { as, KEY_A, KEY_ADMIN, KEY_B, sha256, teamKeys } from '../helpers/keys';
import request from 'supertest';
import { expectMatchesSpec } from '../helpers/contract';
import { inProcessOnly, makeTestApp, makeTestServer, type TestServer } from '../helpers/server';

type AnyObject = Record<string, any>;

const KEY_C = 'ck_team-c-secret';
const KEY_D = 'ck_team-d-secret';
const KEY_OLD = 'ck_expired-secret';

let srv: TestServer;
let base: string;
let teamDir: string;
let otherDir: string;

beforeAll(async () => {
  base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-key-policies-')));
  teamDir = path.join(base, 'team-a');
  otherDir = path.join(base, 'other');
  for (const d of [teamDir, path.join(teamDir, 'sub'), otherDir]) fs.mkdirSync(d, { recursive: true });
  srv = await makeTestServer({
    server: { default_workdir: teamDir },
    default_backend: 'gemini',
    // the server itself allows these modes on claude: refusals below come from the keys
    backends: { claude: { max_approval_mode: 'auto', max_sandbox_mode: 'full' } },
    auth: {
      keys: [
        ...teamKeys({
          'team-a': {
            backends: ['claude', 'codex'],
            workdir_prefixes: [teamDir],
            approval_modes: ['default', 'always'],
            sandbox_modes: ['default', 'read-only', 'workspace'],
            extra_flags: false,
          },
          // no `default`: a request without modes is refused, a compat request runs with `always`
          'team-b': { approval_modes: ['always'] },
        }),
        { name: 'team-c', sha256: sha256(KEY_C), workdir_prefixes: [otherDir] },
        { name: 'team-d', sha256: sha256(KEY_D), approval_modes: ['none'] },
        { name: 'old', sha256: sha256(KEY_OLD), expires_at: '2021-06-01T00:00:00Z' },
      ],
    },
  });
});
afterAll(async () => {
  await srv.close();
  fs.rmSync(base, { recursive: true, force: true });
});

const PROMPT = { backend: 'claude', prompt: 'hello' };

function post(key: string, p: string, operationId: string, body: unknown) {
  return call(srv.url, 'POST', p, operationId, body, as(key));
}

function starts(): number {
  return runs(srv).length;
}

/** Expects a native 403 with this code (and `details` when given), and that nothing ran. */
async function refused(
  key: string,
  p: string,
  operationId: string,
  body: unknown,
  code: string,
  expected: { error?: string | RegExp; details?: AnyObject[] } = {},
): Promise<AnyObject> {
  const before = starts();
  const res = await post(key, p, operationId, body);
  expect(res.status).toBe(403);
  expect(res.body.success).toBe(false);
  expect(res.body.code).toBe(code);
  if (typeof expected.error === 'string') expect(res.body.error).toBe(expected.error);
  if (expected.error instanceof RegExp) expect(res.body.error).toMatch(expected.error);
  if (expected.details) expect(res.body.details).toEqual(expected.details);
  else if (code === 'option_not_allowed') expect(res.body.details).toEqual([expect.any(Object)]);
  else expect(res.body).not.toHaveProperty('details');
  expect(starts()).toBe(before);
  return res.body;
}

function openai(key: string): OpenAI {
  return new OpenAI({ baseURL: `${srv.url}/openai/v1`, apiKey: key, maxRetries: 0 });
}

function anthropic(key: string): Anthropic {
  return new Anthropic({ baseURL: `${srv.url}/anthropic`, apiKey: key, maxRetries: 0 });
}

async function openaiError(key: string, model: string): Promise<InstanceType<typeof OpenAI.APIError>> {
  const before = starts();
  const err = await openai(key)
    .chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.APIError);
  expect(starts()).toBe(before);
  return err as InstanceType<typeof OpenAI.APIError>;
}

async function anthropicError(key: string, model: string): Promise<InstanceType<typeof Anthropic.APIError>> {
  const before = starts();
  const err = await anthropic(key)
    .messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Anthropic.APIError);
  expect(starts()).toBe(before);
  return err as InstanceType<typeof Anthropic.APIError>;
}

function anthropicType(err: InstanceType<typeof Anthropic.APIError>): string {
  return (err.error as AnyObject).error.type as string;
}

describe('backends', () => {
  const error = 'backend gemini is not allowed for this API key';

  test('native prompt, stream, dry run: 403 backend_not_allowed; an admin runs the same request', async () => {
    const body = { backend: 'gemini', prompt: 'hello' };
    await refused(KEY_A, '/api/v1/prompt', 'executePrompt', body, 'backend_not_allowed', { error });
    await refused(KEY_A, '/api/v1/prompt/stream', 'streamPrompt', body, 'backend_not_allowed', { error });
    await refused(KEY_A, '/api/v1/prompt', 'executePrompt', { ...body, dry_run: true }, 'backend_not_allowed');
    const ok = await post(KEY_ADMIN, '/api/v1/prompt', 'executePrompt', { ...body, ephemeral: true });
    expect(ok.status).toBe(200);
  });

  test('validation problems (400) come before the policy (403)', async () => {
    const res = await post(KEY_A, '/api/v1/prompt', 'executePrompt', { backend: 'gemini', prompt: '   ' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_error');
    const agg = await post(KEY_A, '/api/v1/parallel', 'executeParallel', {
      tasks: [
        { backend: 'gemini', prompt: 'x' },
        { backend: 'claude', prompt: ' ' },
      ],
    });
    expect(agg.status).toBe(400);
  });

  test('aggregates: one disallowed item refuses the whole request, nothing runs', async () => {
    const ok = { backend: 'claude', prompt: 'fine' };
    const bad = { backend: 'gemini', prompt: 'not for you' };
    await refused(KEY_A, '/api/v1/parallel', 'executeParallel', { tasks: [ok, bad] }, 'backend_not_allowed', {
      error,
    });
    await refused(KEY_A, '/api/v1/chain', 'executeChain', { steps: [ok, bad] }, 'backend_not_allowed');
    await refused(
      KEY_A,
      '/api/v1/compare',
      'executeCompare',
      { prompt: 'x', backends: ['claude', 'gemini'] },
      'backend_not_allowed',
    );
    await refused(
      KEY_A,
      '/api/v1/parallel',
      'executeParallel',
      { tasks: [ok, bad], dry_run: true },
      'backend_not_allowed',
    );
  });

  test('jobs: refused at creation (prompt and aggregate), nothing is stored', async () => {
    await refused(
      KEY_A,
      '/api/v1/jobs',
      'createJob',
      { operation: 'prompt', request: { backend: 'gemini', prompt: 'x' } },
      'backend_not_allowed',
    );
    await refused(
      KEY_A,
      '/api/v1/jobs',
      'createJob',
      { operation: 'compare', request: { prompt: 'x', backends: ['codex', 'gemini'] } },
      'backend_not_allowed',
    );
    const list = await call(srv.url, 'GET', '/api/v1/jobs', 'listJobs', undefined, as(KEY_ADMIN));
    expect(list.body.data.total).toBe(0);
  });

  test('backend and model lists show only the allowed backends', async () => {
    const backends = await call(srv.url, 'GET', '/api/v1/backends', 'listBackends', undefined, as(KEY_A));
    expect(backends.body.data.backends.map((b: AnyObject) => b.name)).toEqual(['claude', 'codex']);
    const all = await call(srv.url, 'GET', '/api/v1/backends', 'listBackends', undefined, as(KEY_ADMIN));
    expect(all.body.data.backends.map((b: AnyObject) => b.name)).toEqual(['claude', 'codex', 'gemini']);

    const ids: string[] = [];
    for await (const m of openai(KEY_A).models.list()) ids.push(m.id);
    expect(ids).toEqual(['claude', 'codex']);
    const missing = await openai(KEY_A)
      .models.retrieve('gemini')
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((await openai(KEY_ADMIN).models.retrieve('gemini')).id).toBe('gemini');

    const page = await anthropic(KEY_A).models.list();
    expect(page.data.map((m) => m.id)).toEqual(['claude', 'codex']);
    const raw = await call(srv.url, 'GET', '/anthropic/v1/models', 'anthropicListModels', undefined, as(KEY_A));
    expect(raw.body).toMatchObject({ has_more: false, first_id: 'claude', last_id: 'codex' });
    expect(
      await anthropic(KEY_A)
        .models.retrieve('gemini')
        .catch((e: unknown) => e),
    ).toBeInstanceOf(Anthropic.NotFoundError);
  });

  test('OpenAI SDK: a model routed to a disallowed backend raises PermissionDeniedError', async () => {
    for (const model of ['gemini', 'gemini/gemini-2.5-pro', 'gemini-2.5-flash']) {
      const err = await openaiError(KEY_A, model);
      expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(err.status).toBe(403);
      expect(err.code).toBe('backend_not_allowed');
      expect(err.type).toBe('permission_error');
      expect(err.message).toContain(error);
    }
  });

  test('Anthropic SDK: a model routed to a disallowed backend raises PermissionDeniedError', async () => {
    for (const model of ['gemini', 'gemini-2.5-flash']) {
      const err = await anthropicError(KEY_A, model);
      expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
      expect(anthropicType(err)).toBe('permission_error');
      expect(err.message).toContain(error);
    }
  });

  test("a model naming no backend falls back to the key's first allowed backend when default_backend is not allowed", async () => {
    const res = await openai(KEY_A).chat.completions.create({
      model: 'some-model',
      messages: [{ role: 'user', content: 'fallback' }],
    });
    expect(res.choices[0]!.message.content).toMatch(/^MOCK-REPLY/);
    expect(lastRun(srv).cli).toBe('claude');
    await anthropic(KEY_A).messages.create({
      model: 'some-model',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'fallback' }],
    });
    expect(lastRun(srv).cli).toBe('claude');
    // a key allowed to use default_backend keeps it
    await openai(KEY_ADMIN).chat.completions.create({
      model: 'some-model',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(lastRun(srv).cli).toBe('gemini');
  });
});

describe('workdir prefixes', () => {
  test("a workdir outside the key's prefixes → 403 forbidden_workdir, existing or not; inside runs", async () => {
    for (const workdir of [otherDir, path.join(otherDir, 'missing'), base]) {
      await refused(KEY_A, '/api/v1/prompt', 'executePrompt', { ...PROMPT, workdir }, 'forbidden_workdir', {
        error: `work directory not allowed: ${workdir} (not in the allowed paths of this API key)`,
      });
    }
    const ok = await post(KEY_A, '/api/v1/prompt', 'executePrompt', {
      ...PROMPT,
      workdir: path.join(teamDir, 'sub'),
      ephemeral: true,
    });
    expect(ok.status).toBe(200);
    expect(lastRun(srv).cwd).toBe(path.join(teamDir, 'sub'));
    // the server's default workdir is outside team-c's prefixes
    await refused(KEY_C, '/api/v1/prompt', 'executePrompt', PROMPT, 'forbidden_workdir');
    const admin = await post(KEY_ADMIN, '/api/v1/prompt', 'executePrompt', {
      ...PROMPT,
      workdir: otherDir,
      ephemeral: true,
    });
    expect(admin.status).toBe(200);
  });

  test('aggregates and jobs: one item outside refuses the whole request', async () => {
    await refused(
      KEY_A,
      '/api/v1/parallel',
      'executeParallel',
      { tasks: [{ ...PROMPT }, { ...PROMPT, workdir: otherDir }] },
      'forbidden_workdir',
    );
    await refused(
      KEY_A,
      '/api/v1/compare',
      'executeCompare',
      { prompt: 'x', backends: ['claude'], workdir: otherDir },
      'forbidden_workdir',
    );
    await refused(
      KEY_A,
      '/api/v1/jobs',
      'createJob',
      { operation: 'prompt', request: { ...PROMPT, workdir: otherDir } },
      'forbidden_workdir',
    );
  });

  test('OpenAI and Anthropic SDKs: the default workdir outside the key’s prefixes raises PermissionDeniedError', async () => {
    const oa = await openaiError(KEY_C, 'claude');
    expect(oa).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(oa.code).toBe('forbidden_workdir');
    const an = await anthropicError(KEY_C, 'claude');
    expect(an).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(anthropicType(an)).toBe('permission_error');
  });
});

describe('approval and sandbox modes', () => {
  test('a mode not in the key’s list → 403 option_not_allowed naming the field; an admin may', async () => {
    const approval = 'approval_mode auto is not allowed for this API key (allowed: default, always)';
    await refused(
      KEY_A,
      '/api/v1/prompt',
      'executePrompt',
      { ...PROMPT, approval_mode: 'auto' },
      'option_not_allowed',
      {
        error: approval,
        details: [{ path: 'body.approval_mode', message: approval }],
      },
    );
    const sandbox = 'sandbox_mode full is not allowed for this API key (allowed: default, read-only, workspace)';
    await refused(KEY_A, '/api/v1/prompt', 'executePrompt', { ...PROMPT, sandbox_mode: 'full' }, 'option_not_allowed', {
      error: sandbox,
      details: [{ path: 'body.sandbox_mode', message: sandbox }],
    });
    await refused(
      KEY_A,
      '/api/v1/prompt',
      'executePrompt',
      { ...PROMPT, approval_mode: 'auto', dry_run: true },
      'option_not_allowed',
    );
    const ok = await post(KEY_A, '/api/v1/prompt', 'executePrompt', {
      ...PROMPT,
      approval_mode: 'always',
      ephemeral: true,
    });
    expect(ok.status).toBe(200);
    expect(flagValue(lastRun(srv).argv!, '--permission-mode')).toBe('default');
    const admin = await post(KEY_ADMIN, '/api/v1/prompt', 'executePrompt', {
      ...PROMPT,
      approval_mode: 'auto',
      sandbox_mode: 'full',
      ephemeral: true,
    });
    expect(admin.status).toBe(200);
  });

  test('a request without modes is checked with the configured default', async () => {
    const message = 'approval_mode default is not allowed for this API key (allowed: always)';
    await refused(KEY_B, '/api/v1/prompt', 'executePrompt', PROMPT, 'option_not_allowed', {
      details: [{ path: 'body.approval_mode', message }],
    });
    const ok = await post(KEY_B, '/api/v1/prompt', 'executePrompt', {
      ...PROMPT,
      approval_mode: 'always',
      ephemeral: true,
    });
    expect(ok.status).toBe(200);
  });

  test("compat requests run with the key's first allowed mode when the default is not allowed", async () => {
    await openai(KEY_B).chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'modes' }] });
    expect(flagValue(lastRun(srv).argv!, '--permission-mode')).toBe('default'); // approval always
    await anthropic(KEY_B).messages.create({
      model: 'claude',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'm' }],
    });
    expect(flagValue(lastRun(srv).argv!, '--permission-mode')).toBe('default');
    // the default is allowed for team-a: no flag, as configured
    await openai(KEY_A).chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'modes' }] });
    expect(lastRun(srv).argv).not.toContain('--permission-mode');
  });

  test("compat: a key whose only mode exceeds the server's ceiling gets PermissionDeniedError", async () => {
    const oa = await openaiError(KEY_D, 'claude');
    expect(oa).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(oa.code).toBe('option_not_allowed');
    const an = await anthropicError(KEY_D, 'claude');
    expect(an).toBeInstanceOf(Anthropic.PermissionDeniedError);
  });

  test('aggregates and jobs: the refused item is named', async () => {
    const message = 'approval_mode auto is not allowed for this API key (allowed: default, always)';
    await refused(
      KEY_A,
      '/api/v1/parallel',
      'executeParallel',
      { tasks: [PROMPT, { ...PROMPT, approval_mode: 'auto' }] },
      'option_not_allowed',
      { details: [{ path: 'body.tasks[1].approval_mode', message }] },
    );
    await refused(
      KEY_A,
      '/api/v1/chain',
      'executeChain',
      { steps: [PROMPT, { ...PROMPT, sandbox_mode: 'full' }] },
      'option_not_allowed',
    );
    await refused(
      KEY_A,
      '/api/v1/jobs',
      'createJob',
      { operation: 'prompt', request: { ...PROMPT, approval_mode: 'auto' } },
      'option_not_allowed',
    );
  });
});

describe('extra flags', () => {
  const message = 'extra flags are not allowed for this API key';

  test('extra_flags: false refuses any non-empty extra (even one the allow-list would refuse)', async () => {
    for (const extra of [['--effort', 'low'], ['--dangerously-skip-permissions']]) {
      await refused(KEY_A, '/api/v1/prompt', 'executePrompt', { ...PROMPT, extra }, 'option_not_allowed', {
        error: message,
        details: [{ path: 'body.extra', message }],
      });
    }
    const empty = await post(KEY_A, '/api/v1/prompt', 'executePrompt', { ...PROMPT, extra: [], ephemeral: true });
    expect(empty.status).toBe(200);
    const admin = await post(KEY_ADMIN, '/api/v1/prompt', 'executePrompt', {
      ...PROMPT,
      extra: ['--effort', 'low'],
      ephemeral: true,
    });
    expect(admin.status).toBe(200);
    expect(flagValue(lastRun(srv).argv!, '--effort')).toBe('low');
  });

  test('aggregates and jobs', async () => {
    await refused(
      KEY_A,
      '/api/v1/parallel',
      'executeParallel',
      { tasks: [PROMPT, { ...PROMPT, extra: ['--effort', 'low'] }] },
      'option_not_allowed',
      { details: [{ path: 'body.tasks[1].extra', message }] },
    );
    await refused(
      KEY_A,
      '/api/v1/jobs',
      'createJob',
      { operation: 'parallel', request: { tasks: [{ ...PROMPT, extra: ['--effort', 'low'] }] } },
      'option_not_allowed',
      { details: [{ path: 'body.request.tasks[0].extra', message }] },
    );
  });
});

describe('expires_at', () => {
  test('an expired key is refused in every style (401; the SDKs raise AuthenticationError)', async () => {
    const res = await post(KEY_OLD, '/api/v1/prompt', 'executePrompt', PROMPT);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ success: false, error: 'invalid API key', code: 'unauthorized' });
    const oa = await openaiError(KEY_OLD, 'claude');
    expect(oa).toBeInstanceOf(OpenAI.AuthenticationError);
    const an = await anthropicError(KEY_OLD, 'claude');
    expect(an).toBeInstanceOf(Anthropic.AuthenticationError);
  });
});

describe('a continued session is re-checked against the key’s current policy', () => {
  inProcessOnly("replaces one process's key registry")(
    'after a reload narrows the key, its own session is refused (workdir, backend); nothing runs',
    async () => {
      const t = await makeTestApp({
        server: { default_workdir: teamDir },
        auth: { keys: teamKeys() },
      });
      try {
        const send = (body: AnyObject) => request(t.app).post('/api/v1/prompt').set(as(KEY_A)).send(body);
        const inTeam = await send({ ...PROMPT, workdir: path.join(teamDir, 'sub') });
        const onCodex = await send({ backend: 'codex', prompt: 'codex session' });
        expect([inTeam.status, onCodex.status]).toEqual([200, 200]);
        const entries = t.config.auth.keys.map((k) =>
          k.name === 'team-a' ? { ...k, workdir_prefixes: [otherDir], backends: ['claude' as const] } : k,
        );
        t.bundle.services.keys.replace(entries, {});
        const before = t.starts().length;
        const moved = await send({ session_id: inTeam.body.data.session_id, prompt: 'again' });
        expectMatchesSpec('executePrompt', moved.status, moved.body);
        expect(moved.status).toBe(403);
        expect(moved.body.code).toBe('forbidden_workdir');
        const codex = await send({ session_id: onCodex.body.data.session_id, prompt: 'again', workdir: otherDir });
        expectMatchesSpec('executePrompt', codex.status, codex.body);
        expect(codex.status).toBe(403);
        expect(codex.body.code).toBe('backend_not_allowed');
        expect(t.starts().length).toBe(before);
      } finally {
        await t.close();
      }
    },
  );
});
