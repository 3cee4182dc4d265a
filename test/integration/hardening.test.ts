/**
 * Security hardening (docs/security.md): each reproduction of the security review gets the
 * specified 4xx (or is inert), proven against the fake CLIs' invocation logs.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { ConfigError } from '../../src/config/load';
import { expectMatchesSpec } from '../helpers/contract';
import { makeTestApp, type TestApp } from '../helpers/server';

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
