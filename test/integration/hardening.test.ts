/**
 * Security hardening (docs/security.md): each reproduction of the security review gets the
 * specified 4xx (or is inert), proven against the fake CLIs' invocation logs.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { ConfigError } from '../../src/config/load';
import { expectMatchesSpec } from '../helpers/contract';
import { makeTestApp, waitFor, type TestApp } from '../helpers/server';

type Body = Record<string, unknown>;

/** POSTs JSON, checks the status/code and the contract, and that nothing was spawned. */
async function rejected(t: TestApp, pathname: string, body: Body, status: number, code: string) {
  const spawned = t.starts().length;
  const res = await request(t.app).post(pathname).set('Content-Type', 'application/json').send(body);
  expect({ status: res.status, code: res.body.code ?? res.body.error?.code ?? res.body.error?.type }).toEqual({
    status,
    code,
  });
  const op = { '/api/v1/prompt': 'executePrompt', '/api/v1/parallel': 'executeParallel' }[pathname]!;
  expectMatchesSpec(op, res.status, res.body);
  expect(t.starts().length).toBe(spawned);
  return res;
}

const dry = (b: Body): Body => ({ prompt: 'hi', dry_run: true, ephemeral: true, ...b });

describe('modes are ceilings', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ backends: { codex: { approval_mode: 'always', sandbox_mode: 'read-only' } } });
  });
  afterAll(() => t.close());

  test('codex configured always/read-only: a request for none/full → 403 option_not_allowed', async () => {
    const res = await rejected(
      t,
      '/api/v1/prompt',
      dry({ backend: 'codex', approval_mode: 'none', sandbox_mode: 'full' }),
      403,
      'option_not_allowed',
    );
    expect(res.body.details).toEqual([{ path: 'body.approval_mode', message: expect.stringContaining('codex') }]);
    const sandbox = await rejected(
      t,
      '/api/v1/prompt',
      dry({ backend: 'codex', sandbox_mode: 'full' }),
      403,
      'option_not_allowed',
    );
    expect(sandbox.body.details[0].path).toBe('body.sandbox_mode');
  });

  test('equal or stricter values run with the meaning of the table', async () => {
    const res = await request(t.app)
      .post('/api/v1/prompt')
      .send(dry({ backend: 'codex', approval_mode: 'always', sandbox_mode: 'read-only' }));
    expect(res.status).toBe(200);
    expect(res.body.data.command.slice(1, 4)).toEqual(['-a', 'on-request', 'exec']);
    expect(res.body.data.command).toEqual(expect.arrayContaining(['-s', 'read-only']));
  });

  test('gemini approval none (yolo) is above its default ceiling; read-only cannot be enforced', async () => {
    await rejected(t, '/api/v1/prompt', dry({ backend: 'gemini', approval_mode: 'none' }), 403, 'option_not_allowed');
    const res = await rejected(
      t,
      '/api/v1/prompt',
      dry({ backend: 'gemini', sandbox_mode: 'read-only' }),
      403,
      'option_not_allowed',
    );
    expect(res.body.error).toContain('gemini cannot enforce sandbox_mode read-only');
  });

  test('aggregates: the item path is named and no task runs', async () => {
    const res = await rejected(
      t,
      '/api/v1/parallel',
      {
        tasks: [
          { backend: 'claude', prompt: 'a' },
          { backend: 'codex', prompt: 'b', sandbox_mode: 'workspace' },
        ],
      },
      403,
      'option_not_allowed',
    );
    expect(res.body.details[0].path).toBe('body.tasks[1].sandbox_mode');
  });

  test('a configured default a CLI cannot enforce stops start-up', async () => {
    await expect(makeTestApp({ unified_flags: { sandbox_mode: 'read-only' } })).rejects.toThrow(ConfigError);
    await expect(makeTestApp({ unified_flags: { sandbox_mode: 'read-only' } })).rejects.toThrow(
      /backends\.gemini\.sandbox_mode/,
    );
  });
});

describe('extra cannot grant permissions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({
      backends: {
        claude: { allowed_tools: 'Read', allowed_extra_flags: ['--allowedTools <tools>', '--effort <v>'] },
        codex: { extra_flags: ['--strict-config'] },
        gemini: { max_approval_mode: 'none' },
      },
    });
  });
  afterAll(() => t.close());

  test('the built-in lists no longer carry permission-widening flags', async () => {
    const fresh = await makeTestApp();
    try {
      for (const [backend, extra] of [
        ['claude', ['--allowedTools', 'Bash Edit Write WebFetch']],
        ['claude', ['--tools', 'Bash']],
        ['claude', ['--bare']],
        ['claude', ['--safe-mode']],
        ['gemini', ['--allowed-tools', 'run_shell_command']],
        ['codex', ['--profile', 'evil']],
        ['codex', ['-p', 'evil']],
      ] as const) {
        const res = await rejected(fresh, '/api/v1/prompt', dry({ backend, extra }), 400, 'validation_error');
        expect(res.body.details[0]).toEqual({
          path: 'body.extra[0]',
          message: `flag not allowed for ${backend}: ${extra[0]}`,
        });
      }
    } finally {
      await fresh.close();
    }
  });

  test('repeating a flag clinvk or the configuration already passes → 400', async () => {
    const cases: [Body, string][] = [
      // configured allowed_tools renders --allowedTools: the operator-allowed flag cannot add a second one.
      [{ backend: 'claude', extra: ['--allowedTools', 'Bash'] }, 'flag already set by clinvk: --allowedTools'],
      [{ backend: 'codex', extra: ['--skip-git-repo-check'] }, 'flag already set by clinvk: --skip-git-repo-check'],
      [{ backend: 'codex', extra: ['--strict-config'] }, 'flag already set by the configuration: --strict-config'],
      [{ backend: 'gemini', verbose: true, extra: ['-d'] }, 'flag already set by clinvk: -d'],
    ];
    for (const [body, message] of cases) {
      const res = await rejected(t, '/api/v1/prompt', dry(body), 400, 'validation_error');
      expect(res.body.details[0]).toEqual({ path: 'body.extra[0]', message });
    }
    // Operator-allowed flags that repeat nothing pass.
    const ok = await request(t.app)
      .post('/api/v1/prompt')
      .send(dry({ backend: 'claude', extra: ['--effort', 'high'] }));
    expect(ok.status).toBe(200);
  });
});

describe('ids reported by a CLI are data, not flags', () => {
  let t: TestApp;
  let fake: string;
  beforeAll(async () => {
    t = await makeTestApp();
    // A claude that reports a flag as its session id (first run) and logs its argv.
    fake = path.join(t.root, 'evil-claude');
    const log = path.join(t.root, 'evil.log');
    fs.writeFileSync(
      fake,
      `#!/usr/bin/env node
require('fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');
process.stdout.write(JSON.stringify({type:'result',subtype:'success',is_error:false,result:'ok',session_id:'--dangerously-skip-permissions',usage:{input_tokens:1,output_tokens:1}}) + '\\n');
`,
      { mode: 0o755 },
    );
  });
  afterAll(() => t.close());

  test('a non-UUID id is not stored; the next turn does not resume with it', async () => {
    const app = await makeTestApp({ backends: { claude: { command: fake } } });
    try {
      const first = await request(app.app).post('/api/v1/prompt').send({ backend: 'claude', prompt: 'hi' });
      expect(first.status).toBe(200);
      const id = first.body.data.session_id as string;
      const record = await app.bundle.services.store.resolve(id);
      expect(record.id).toBe(id);
      expect(record.backend_session_id).toBeUndefined();
      const second = await request(app.app).post('/api/v1/prompt').send({ session_id: id, prompt: 'again' });
      expect(second.status).toBe(200);
      const argvs = fs
        .readFileSync(path.join(t.root, 'evil.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as string[]);
      expect(argvs).toHaveLength(2);
      for (const argv of argvs) {
        expect(argv).not.toContain('--dangerously-skip-permissions');
        expect(argv.some((a) => a.startsWith('--resume'))).toBe(false);
      }
    } finally {
      await app.close();
    }
  });
});

describe('browsers cannot drive clinvk', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ server: { allowed_hosts: ['clinvk.internal'] } });
  });
  afterAll(() => t.close());

  const routes = [
    ['/api/v1/prompt', 'executePrompt', { backend: 'claude', prompt: 'hi', ephemeral: true }],
    [
      '/openai/v1/chat/completions',
      'openaiChatCompletions',
      { model: 'claude', messages: [{ role: 'user', content: 'hi' }] },
    ],
    [
      '/anthropic/v1/messages',
      'anthropicCreateMessage',
      { model: 'claude', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
    ],
  ] as const;

  test('the review reproduction: no Content-Type and a foreign Origin runs nothing', async () => {
    const res = await request(t.app)
      .post('/api/v1/prompt')
      .set('Content-Type', '')
      .set('Origin', 'https://evil.example')
      .send(JSON.stringify({ backend: 'codex', prompt: 'touch /tmp/pwned', sandbox_mode: 'full', workdir: t.workdir }));
    expect([res.status, res.body.code]).toEqual([403, 'forbidden_origin']);
    expectMatchesSpec('executePrompt', res.status, res.body);
    expect(t.starts()).toEqual([]);
  });

  test('a POST without Content-Type → 415 in every style (even with an empty body)', async () => {
    for (const [p, op, body] of routes) {
      const res = await request(t.app).post(p).set('Content-Type', '').send(JSON.stringify(body));
      expect([p, res.status]).toEqual([p, 415]);
      expectMatchesSpec(op, res.status, res.body);
      const empty = await request(t.app).post(p);
      expect([p, empty.status]).toEqual([p, 415]);
    }
    expect(t.starts()).toEqual([]);
  });

  test('a foreign Origin on POST and DELETE → 403 forbidden_origin in every style; GET is unaffected', async () => {
    for (const [p, op, body] of routes) {
      const res = await request(t.app).post(p).set('Origin', 'http://evil.example:8080').send(body);
      expect([p, res.status]).toEqual([p, 403]);
      expectMatchesSpec(op, res.status, res.body);
      if (p.startsWith('/openai/'))
        expect(res.body.error).toMatchObject({ type: 'permission_error', code: 'forbidden_origin' });
      if (p.startsWith('/anthropic/')) expect(res.body.error.type).toBe('permission_error');
    }
    const del = await request(t.app).delete('/api/v1/sessions/0123456789abcdef0123456789abcdef').set('Origin', 'null');
    expect([del.status, del.body.code]).toEqual([403, 'forbidden_origin']);
    const get = await request(t.app).get('/api/v1/backends').set('Origin', 'http://evil.example');
    expect(get.status).toBe(200);
    expect(t.starts()).toEqual([]);
  });

  test("the request's own origin and allowed CORS origins may POST", async () => {
    const own = await request(t.app)
      .post('/api/v1/prompt')
      .set('Host', 'clinvk.internal:8443')
      .set('Origin', 'http://clinvk.internal:8443')
      .send({ backend: 'claude', prompt: 'hi', dry_run: true, ephemeral: true });
    expect(own.status).toBe(200);
    const local = await request(t.app)
      .post('/api/v1/prompt')
      .set('Origin', 'http://localhost:5173')
      .send({ backend: 'claude', prompt: 'hi', dry_run: true, ephemeral: true });
    expect(local.status).toBe(200);
  });

  test('Host must name the server (DNS rebinding) → 403 forbidden_host, even for a preflight', async () => {
    for (const host of ['evil.example', 'evil.example:8080', '127.0.0.1.evil.example', '10.0.0.1']) {
      const res = await request(t.app).get('/api/v1/backends').set('Host', host);
      expect([host, res.status, res.body.code]).toEqual([host, 403, 'forbidden_host']);
      expectMatchesSpec('listBackends', res.status, res.body);
    }
    const post = await request(t.app)
      .post('/openai/v1/chat/completions')
      .set('Host', 'evil.example')
      .send(routes[1][2]);
    expect([post.status, post.body.error.code]).toEqual([403, 'forbidden_host']);
    const preflight = await request(t.app).options('/api/v1/prompt').set('Host', 'evil.example');
    expect(preflight.status).toBe(403);
    for (const host of [
      'localhost:9',
      '127.0.0.1',
      '[::1]:8080',
      'LOCALHOST',
      'clinvk.internal',
      'clinvk.internal:1',
    ]) {
      const res = await request(t.app).get('/api/v1/backends').set('Host', host);
      expect([host, res.status]).toEqual([host, 200]);
    }
    expect(t.starts()).toEqual([]);
  });

  test('with a non-loopback bind, allowed_hosts (when set) are the only names accepted', async () => {
    const wide = await makeTestApp({ server: { host: '0.0.0.0', allowed_hosts: ['clinvk.example.com'] } });
    try {
      expect((await request(wide.app).get('/api/v1/backends').set('Host', 'clinvk.example.com')).status).toBe(200);
      expect((await request(wide.app).get('/api/v1/backends').set('Host', 'localhost')).status).toBe(403);
    } finally {
      await wide.close();
    }
    const open = await makeTestApp({ server: { host: '0.0.0.0' } });
    try {
      expect((await request(open.app).get('/api/v1/backends').set('Host', 'anything.example')).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

describe('strict decoding', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(() => t.close());

  test('malformed percent-escapes in a path parameter → 400 path.<name> in the path style', async () => {
    const cases = [
      ['/api/v1/sessions/%ff', 'getSession', 'path.id'],
      ['/api/v1/sessions/%', 'getSession', 'path.id'],
      ['/api/v1/sessions/%zz', 'getSession', 'path.id'],
      ['/openai/v1/models/%ff', 'openaiGetModel', 'path.model'],
      ['/anthropic/v1/models/%ff', 'anthropicGetModel', 'path.model_id'],
    ] as const;
    for (const [p, op, field] of cases) {
      const res = await request(t.app).get(p);
      expect([p, res.status]).toEqual([p, 400]);
      expectMatchesSpec(op, res.status, res.body);
      if (p.startsWith('/api/')) expect(res.body.details).toEqual([{ path: field, message: expect.any(String) }]);
      if (p.startsWith('/openai/')) expect(res.body.error).toMatchObject({ code: 'validation_error', param: field });
      if (p.startsWith('/anthropic/')) expect(res.body.error.type).toBe('invalid_request_error');
    }
    const del = await request(t.app).delete('/api/v1/sessions/%ff');
    expect([del.status, del.body.code]).toEqual([400, 'validation_error']);
  });

  test('invalid UTF-8 in a JSON body → 400 invalid_json; nothing reaches a CLI', async () => {
    const body = Buffer.concat([
      Buffer.from('{"backend":"claude","prompt":"a'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('","ephemeral":true}'),
    ]);
    const res = await request(t.app)
      .post('/api/v1/prompt')
      .set('Content-Type', 'application/json')
      .serialize((b: unknown) => b as string)
      .send(body as unknown as string);
    expect([res.status, res.body.code]).toEqual([400, 'invalid_json']);
    expectMatchesSpec('executePrompt', res.status, res.body);
    expect(t.starts()).toEqual([]);
  });

  test('an operation without a body accepts none', async () => {
    const res = await request(t.app)
      .delete('/api/v1/sessions/0123456789abcdef0123456789abcdef')
      .set('Content-Type', 'application/json')
      .send('{"x":1}');
    expect([res.status, res.body.code, res.body.details]).toEqual([
      400,
      'validation_error',
      [{ path: 'body', message: 'must be empty (this operation takes no request body)' }],
    ]);
    const empty = await request(t.app).delete('/api/v1/sessions/0123456789abcdef0123456789abcdef');
    expect(empty.status).toBe(404);
  });
});

describe('working directories', () => {
  test('re-validated after the slot is granted: a directory swapped for a symlink → 403, nothing runs', async () => {
    const t = await makeTestApp({ server: { max_concurrent_executions: 1 } });
    try {
      const dir = path.join(t.root, 'swap');
      fs.mkdirSync(dir);
      const holder = request(t.app)
        .post('/api/v1/prompt')
        .send({ backend: 'codex', prompt: 'hold [SLEEP:1500]', ephemeral: true })
        .then((r) => r);
      await waitFor(() => t.starts().length === 1, 10_000);
      const waiting = request(t.app)
        .post('/api/v1/prompt')
        .send({ backend: 'claude', prompt: 'hi', workdir: dir, ephemeral: true })
        .then((r) => r);
      await new Promise((r) => setTimeout(r, 300));
      fs.rmdirSync(dir);
      fs.symlinkSync('/etc', dir);
      const res = await waiting;
      expect([res.status, res.body.code, res.body.error]).toEqual([
        403,
        'forbidden_workdir',
        'work directory changed after validation',
      ]);
      expectMatchesSpec('executePrompt', res.status, res.body);
      expect((await holder).status).toBe(200);
      expect(t.starts()).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  test('ancestors of protected places are refused; a missing directory outside the allowed prefixes is 403', async () => {
    const t = await makeTestApp();
    try {
      for (const workdir of ['/usr', '/var', '/', t.root, path.dirname(t.home)]) {
        const res = await rejected(t, '/api/v1/prompt', dry({ backend: 'claude', workdir }), 403, 'forbidden_workdir');
        expect(res.body.error).toContain('blocked path');
      }
      // The child's HOME is t.root (fakes): its ~/.claude is protected, inside and above.
      fs.mkdirSync(path.join(t.root, '.claude', 'x'), { recursive: true });
      await rejected(
        t,
        '/api/v1/prompt',
        dry({ backend: 'claude', workdir: path.join(t.root, '.claude', 'x') }),
        403,
        'forbidden_workdir',
      );
      const ok = await request(t.app)
        .post('/api/v1/prompt')
        .send(dry({ backend: 'claude', workdir: t.workdir }));
      expect(ok.status).toBe(200);
    } finally {
      await t.close();
    }
    const narrow = await makeTestApp({ server: { allowed_workdir_prefixes: ['/nonexistent-allowed'] } });
    try {
      await rejected(
        narrow,
        '/api/v1/prompt',
        dry({ backend: 'claude', workdir: '/srv/missing/dir' }),
        403,
        'forbidden_workdir',
      );
    } finally {
      await narrow.close();
    }
  });
});

describe('child environment is an allow-list', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  test("a backend sees its own keys, never CLINVK_* or another backend's keys", async () => {
    Object.assign(process.env, {
      OPENAI_API_KEY: 'sk-openai',
      GEMINI_API_KEY: 'g-key',
      ANTHROPIC_API_KEY: 'a-key',
      CLINVK_API_KEYS: 'secret',
      CLINVK_HOME: '/somewhere',
      SOME_SECRET: 'x',
      PASS_ME: 'yes',
    });
    const t = await makeTestApp({
      backends: { claude: { env_passthrough: ['PASS_ME', 'CLINVK_HOME'], env: { CLINVK_X: 'no', EXTRA: 'v' } } },
    });
    try {
      for (const backend of ['claude', 'codex'] as const) {
        const res = await request(t.app).post('/api/v1/prompt').send({ backend, prompt: 'hi', ephemeral: true });
        expect(res.status).toBe(200);
      }
      const [claude, codex] = t.starts() as unknown as { envKeys: string[] }[];
      expect(claude!.envKeys).toEqual(
        expect.arrayContaining(['ANTHROPIC_API_KEY', 'PASS_ME', 'EXTRA', 'PATH', 'TRACEPARENT']),
      );
      for (const k of [
        'OPENAI_API_KEY',
        'GEMINI_API_KEY',
        'SOME_SECRET',
        'CLINVK_API_KEYS',
        'CLINVK_HOME',
        'CLINVK_X',
      ]) {
        expect([k, claude!.envKeys.includes(k)]).toEqual([k, false]);
      }
      expect(codex!.envKeys).toContain('OPENAI_API_KEY');
      for (const k of ['ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'PASS_ME', 'SOME_SECRET', 'CLINVK_HOME']) {
        expect([k, codex!.envKeys.includes(k)]).toEqual([k, false]);
      }
    } finally {
      await t.close();
    }
  });
});
