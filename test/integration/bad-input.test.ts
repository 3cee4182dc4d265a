/**
 * The bad-input catalogue (SPEC §9) for the native prompt/session endpoints: status, code, details,
 * and proof that nothing was spawned and no session file changed.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { expectMatchesSpec } from '../helpers/contract';
import { makeTestApp, type TestApp } from '../helpers/server';

let t: TestApp;
let link: string;
let file: string;
beforeAll(async () => {
  t = await makeTestApp();
  link = path.join(t.root, 'etc-link');
  fs.symlinkSync('/etc', link);
  file = path.join(t.root, 'a-file');
  fs.writeFileSync(file, 'x');
});
afterAll(() => t.close());

function snapshot() {
  const dir = path.join(t.home, 'sessions');
  return t.sessionFiles().map((f) => [f, fs.statSync(path.join(dir, f)).mtimeMs]);
}

/** Sends the request, checks status/code/spec, and that nothing ran or changed. */
async function expectRejected(
  send: () => request.Test,
  status: number,
  code: string,
  operationId = 'executePrompt',
): Promise<request.Response> {
  const before = snapshot();
  const spawned = t.starts().length;
  const res = await send();
  expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
  expect(res.body.success).toBe(false);
  expectMatchesSpec(operationId, res.status, res.body);
  expect(t.starts().length).toBe(spawned);
  expect(snapshot()).toEqual(before);
  return res;
}

const post =
  (body: unknown, type = 'application/json') =>
  () =>
    request(t.app)
      .post('/api/v1/prompt')
      .set('Content-Type', type)
      .send(typeof body === 'string' ? body : JSON.stringify(body));

const detailPaths = (res: request.Response) => (res.body.details as { path: string }[]).map((d) => d.path);

test('row 1: truncated JSON → invalid_json', async () => {
  await expectRejected(post('{"backend":"claude","prompt":"hi"'), 400, 'invalid_json');
});

test('row 2: array or string body → body must be object', async () => {
  for (const body of ['[]', '"hi"']) {
    const res = await expectRejected(post(body), 400, 'validation_error');
    expect(res.body.details).toContainEqual({ path: 'body', message: 'must be object' });
  }
});

test('row 3: empty body → request body is required', async () => {
  const res = await expectRejected(post(''), 400, 'validation_error');
  expect(res.body.details).toEqual([{ path: 'body', message: 'request body is required' }]);
});

test('row 4: wrong types, no coercion', async () => {
  const res = await expectRejected(post({ backend: null, prompt: 42, dry_run: 'yes' }), 400, 'validation_error');
  expect(detailPaths(res)).toEqual(expect.arrayContaining(['body.backend', 'body.prompt', 'body.dry_run']));
  expect(res.body.details).toContainEqual({ path: 'body.dry_run', message: 'must be boolean' });
  expect(res.body.error).toMatch(/^request validation failed: body\.\w+ .+ \(and \d+ more\)$/);
});

test.each([[{ backend: 'claude' }], [{ backend: 'claude', prompt: '' }], [{ backend: 'claude', prompt: '  \n\t' }]])(
  'row 5: prompt missing/empty/blank %j',
  async (body) => {
    const res = await expectRejected(post(body), 400, 'validation_error');
    expect(detailPaths(res)).toEqual(['body.prompt']);
  },
);

test('row 6: unknown property and wrong case', async () => {
  const res = await expectRejected(
    post({ backend: 'claude', prompt: 'hi', promt: 'x', Backend: 'codex' }),
    400,
    'validation_error',
  );
  expect(res.body.details).toEqual(
    expect.arrayContaining([
      { path: 'body.promt', message: 'unknown property' },
      { path: 'body.Backend', message: 'unknown property' },
    ]),
  );
});

test('row 7: unknown backend', async () => {
  const res = await expectRejected(post({ backend: 'gpt4', prompt: 'hi' }), 400, 'validation_error');
  expect(res.body.details).toEqual([{ path: 'body.backend', message: 'must be one of: claude, codex, gemini' }]);
});

test('row 9: non-JSON content types → 415', async () => {
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) {
    await expectRejected(post({ backend: 'claude', prompt: 'hi' }, type), 415, 'unsupported_media_type');
  }
});

test('row 10: 200 000-character prompt → exceeds 100000 bytes', async () => {
  const res = await expectRejected(post({ backend: 'claude', prompt: 'x'.repeat(200_000) }), 400, 'validation_error');
  expect(res.body.details).toEqual([{ path: 'body.prompt', message: 'exceeds 100000 bytes' }]);
});

test('row 11: NUL and lone surrogate', async () => {
  await expectRejected(post('{"backend":"claude","prompt":"a\\u0000b"}'), 400, 'validation_error');
  await expectRejected(post('{"backend":"claude","prompt":"a\\ud800b"}'), 400, 'validation_error');
});

test.each([['--dangerously-skip-permissions'], ['sonnet --yolo'], ['x'.repeat(500)], ['']])(
  'rows 13–14: model %j',
  async (model) => {
    const res = await expectRejected(post({ backend: 'claude', prompt: 'hi', model }), 400, 'validation_error');
    expect(new Set(detailPaths(res))).toEqual(new Set(['body.model']));
  },
);

test('row 13: flag injection through the model says invalid model name', async () => {
  const res = await expectRejected(
    post({ backend: 'claude', prompt: 'hi', model: '--dangerously-skip-permissions' }),
    400,
    'validation_error',
  );
  expect(res.body.details).toEqual([{ path: 'body.model', message: 'invalid model name' }]);
});

test.each([
  ['claude', ['--dangerously-skip-permissions'], 'flag not allowed for claude: --dangerously-skip-permissions'],
  ['gemini', ['--yolo'], 'flag not allowed for gemini: --yolo'],
  ['gemini', ['--approval-mode=yolo'], 'flag not allowed for gemini: --approval-mode=yolo'],
  ['codex', ['-c', 'sandbox_mode=danger-full-access'], 'flag not allowed for codex: -c'],
  ['claude', ['--add-dir', '/etc'], 'flag not allowed for claude: --add-dir'],
  ['claude', ['--effort'], undefined],
  ['claude', ['--effort=ludicrous'], undefined],
  ['claude', ['--bare=1'], undefined],
  ['claude', ['--fallback-model', '--dangerously-skip-permissions'], undefined],
  ['claude', ['hello'], 'unexpected argument: hello'],
  ['claude', ['--'], undefined],
  ['claude', ['--bare', 5], undefined],
  ['claude', Array(33).fill('--bare'), undefined],
])('rows 15–20: %s extra %j', async (backend, extra, message) => {
  const res = await expectRejected(post({ backend, prompt: 'hi', extra }), 400, 'validation_error');
  expect(detailPaths(res).every((p: string) => p.startsWith('body.extra'))).toBe(true);
  if (message) expect(res.body.details[0].message).toBe(message);
});

test('allowed extra flags pass (dry run shows them before the prompt)', async () => {
  const res = await request(t.app)
    .post('/api/v1/prompt')
    .send({
      backend: 'claude',
      prompt: 'hi',
      extra: ['--effort', 'high', '--strict-mcp-config'],
      dry_run: true,
      ephemeral: true,
    });
  expect(res.status).toBe(200);
  expect(res.body.data.command.slice(1)).toEqual([
    '-p',
    '--output-format',
    'json',
    '--no-session-persistence',
    '--effort',
    'high',
    '--strict-mcp-config',
    '--',
    'hi',
  ]);
});

test.each([['relative/dir'], ['/tmp/a\u0000b']])('row 21: workdir %j', async (workdir) => {
  const res = await expectRejected(post({ backend: 'claude', prompt: 'hi', workdir }), 400, 'validation_error');
  expect(detailPaths(res)).toEqual(['body.workdir']);
});

test('row 22: missing directory or a regular file', async () => {
  await expectRejected(post({ backend: 'claude', prompt: 'hi', workdir: '/does/not/exist' }), 400, 'validation_error');
  await expectRejected(post({ backend: 'claude', prompt: 'hi', workdir: file }), 400, 'validation_error');
});

test('rows 23–25, 27: blocked, traversal, symlink, inside CLINVK_HOME → 403', async () => {
  for (const workdir of [
    '/etc',
    '/etc/ssl',
    '/',
    '/home/alice/p/../../../etc',
    link,
    path.join(t.home, 'sessions'),
    t.home,
  ]) {
    const res = await expectRejected(post({ backend: 'claude', prompt: 'hi', workdir }), 403, 'forbidden_workdir');
    expect(res.body.error).toMatch(/^work directory not allowed: .+ \(blocked path\)$/);
  }
});

test('row 28: bad enums', async () => {
  const res = await expectRejected(
    post({
      backend: 'claude',
      prompt: 'hi',
      approval_mode: 'yolo',
      sandbox_mode: 'danger',
      output_format: 'STREAM-JSON',
    }),
    400,
    'validation_error',
  );
  expect(detailPaths(res).sort()).toEqual(['body.approval_mode', 'body.output_format', 'body.sandbox_mode']);
});

test('row 29: max_turns and metadata', async () => {
  for (const max_turns of [-1, 1.5, '3']) {
    await expectRejected(post({ backend: 'claude', prompt: 'hi', max_turns }), 400, 'validation_error');
  }
  const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']));
  for (const metadata of [{ k: 1 }, many, { '../x': 'v' }]) {
    const res = await expectRejected(post({ backend: 'claude', prompt: 'hi', metadata }), 400, 'validation_error');
    expect(detailPaths(res)[0]).toMatch(/^body\.metadata/);
  }
});

test('row 30: malformed session ids', async () => {
  for (const session_id of ['ZZZ', '../../etc/passwd']) {
    const res = await expectRejected(post({ session_id, prompt: 'hi' }), 400, 'validation_error');
    expect(detailPaths(res)).toEqual(['body.session_id']);
  }
});

test('row 31: unknown session → 404', async () => {
  const res = await expectRejected(post({ session_id: 'abcdef0123', prompt: 'hi' }), 404, 'session_not_found');
  expect(res.body.error).toBe('session not found: abcdef0123');
});

test('row 35: bad session ids in the path', async () => {
  for (const id of ['..%2F..%2Fetc%2Fpasswd', 'ABCDEF', 'a'.repeat(33)]) {
    const res = await expectRejected(
      () => request(t.app).get(`/api/v1/sessions/${id}`),
      400,
      'validation_error',
      'getSession',
    );
    expect(detailPaths(res)).toEqual(['path.id']);
  }
});

test('row 37: bad list queries', async () => {
  for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'offset=-1', 'status=running', 'limit=1&limit=2']) {
    const res = await expectRejected(
      () => request(t.app).get(`/api/v1/sessions?${q}`),
      400,
      'validation_error',
      'listSessions',
    );
    expect(detailPaths(res)[0]).toMatch(/^query\./);
  }
});

test('row 42: wrong methods → 405 with Allow', async () => {
  for (const [method, url, allow] of [
    ['put', '/api/v1/prompt', 'POST'],
    ['get', '/api/v1/prompt', 'POST'],
    ['delete', '/health', 'GET, HEAD'],
  ] as const) {
    const res = await request(t.app)[method](url);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.body).toMatchObject({ success: false, code: 'method_not_allowed' });
  }
});

test('row 43: unknown routes → 404 in each style; no trailing-slash redirect', async () => {
  const n = await request(t.app).get('/api/v1/nope');
  expect(n.status).toBe(404);
  expect(n.body).toMatchObject({ success: false, code: 'not_found' });
  const slash = await request(t.app).get('/api/v1/backends/');
  expect(slash.status).toBe(404);
  const o = await request(t.app).get('/openai/v1/embeddings');
  expect(o.status).toBe(404);
  expect(o.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found', param: null });
  const a = await request(t.app).post('/anthropic/v1/complete').send({});
  expect(a.status).toBe(404);
  expect(a.body).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  expect(a.headers['request-id']).toBe(a.headers['x-request-id']);
});

test('row 49: deeply nested JSON never gives a 500', async () => {
  const deep = '{"backend":"claude","prompt":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}';
  const res = await post(deep)();
  expect([400]).toContain(res.status);
  expect(['validation_error', 'invalid_json']).toContain(res.body.code);
  const ok = await request(t.app).get('/health');
  expect(ok.status).toBe(200);
});

test('an incoming X-Request-Id is echoed; an invalid one is replaced', async () => {
  const ok = await request(t.app).get('/api/v1/backends').set('X-Request-Id', 'abc.DEF:123-_');
  expect(ok.headers['x-request-id']).toBe('abc.DEF:123-_');
  const bad = await request(t.app).get('/api/v1/backends').set('X-Request-Id', 'has space');
  expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  expect(bad.headers['x-content-type-options']).toBe('nosniff');
});

test('undeclared query parameters are ignored (SPEC §2.10)', async () => {
  const res = await request(t.app).get('/api/v1/backends?verbose=1&x=y');
  expect(res.status).toBe(200);
  const list = await request(t.app).get('/api/v1/sessions?limit=5&foo=bar');
  expect(list.status).toBe(200);
  expect(list.body.data.limit).toBe(5);
});
