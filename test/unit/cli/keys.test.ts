/** `clinvk keys new|hash` and the SIGHUP reload of the key set by `clinvk serve`. */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import YAML from 'yaml';

jest.mock('../../../src/http/server', () => ({ startServer: jest.fn() }));

import { KeyRegistry } from '../../../src/auth/registry';
import { run, type CliIo } from '../../../src/cli/main';
import { startServer } from '../../../src/http/server';

const startServerMock = startServer as unknown as jest.Mock;
const sha = (k: string) => createHash('sha256').update(k).digest('hex');

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-keys-cli-'));
  startServerMock.mockReset();
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function makeIo(env: NodeJS.ProcessEnv = {}, stdinText?: string) {
  const stdout = new Capture();
  const stderr = new Capture();
  const signals = new EventEmitter();
  const stdin = new PassThrough();
  if (stdinText !== undefined) stdin.end(stdinText);
  const io: CliIo = {
    stdout,
    stderr,
    env: { CLINVK_HOME: path.join(tmp, 'home'), HOME: tmp, PATH: '/nonexistent', ...env },
    cwd: tmp,
    signals,
    stdin,
  };
  return { io, stdout, stderr, signals };
}

describe('clinvk keys new', () => {
  it('prints the key alone on stdout and the stanza with its sha256 on stderr', async () => {
    const t = makeIo();
    expect(await run(['keys', 'new', '--name', 'ci-bot', '--role', 'admin'], t.io)).toBe(0);
    const key = t.stdout.text.trim();
    expect(t.stdout.text).toBe(`${key}\n`);
    expect(key).toMatch(/^ck_[A-Za-z0-9_-]{43}$/);
    expect(t.stderr.text).not.toContain(key);
    const stanza = YAML.parse(
      t.stderr.text
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n'),
    );
    expect(stanza).toEqual({ auth: { keys: [{ name: 'ci-bot', sha256: sha(key), role: 'admin' }] } });
  });

  it('defaults to role user and makes a different key each time', async () => {
    const a = makeIo();
    const b = makeIo();
    await run(['keys', 'new', '--name', 'x'], a.io);
    await run(['keys', 'new', '--name', 'x'], b.io);
    expect(a.stderr.text).toContain('role: user');
    expect(a.stdout.text).not.toBe(b.stdout.text);
  });

  it.each([
    [['keys', 'new'], 'clinvk: missing --name (e.g. clinvk keys new --name ci-bot)'],
    [['keys', 'new', '--name', 'Bad'], 'clinvk: invalid --name "Bad": must match ^[a-z0-9][a-z0-9._-]{0,63}$'],
    [['keys', 'new', '--name', 'a', '--role', 'root'], 'clinvk: invalid --role "root": must be user or admin'],
    [['keys', 'new', '--name', 'a', '--port', '1'], 'clinvk: option --port is not accepted by "clinvk keys new"'],
    [['keys'], 'clinvk: missing sub-command: clinvk keys new|hash'],
    [['keys', 'rotate'], 'clinvk: unknown keys sub-command "rotate"'],
    [['serve', '--name', 'a'], 'clinvk: option --name is not accepted by "clinvk serve"'],
  ])('%j → exit 2: %s', async (argv, line) => {
    const t = makeIo();
    expect(await run(argv, t.io)).toBe(2);
    expect(t.stderr.text.split('\n')[0]).toBe(line);
    expect(t.stdout.text).toBe('');
  });

  it('--help', async () => {
    const t = makeIo();
    expect(await run(['keys', '--help'], t.io)).toBe(0);
    expect(t.stdout.text).toContain('clinvk keys new --name <name> [--role user|admin]');
  });
});

describe('clinvk keys hash', () => {
  it('prints the SHA-256 of the key on stdin (surrounding whitespace is not part of it)', async () => {
    const t = makeIo({}, 'ck_example\n');
    expect(await run(['keys', 'hash'], t.io)).toBe(0);
    expect(t.stdout.text).toBe(`${sha('ck_example')}\n`);
  });

  it('empty stdin → exit 2', async () => {
    const t = makeIo({}, '  \n');
    expect(await run(['keys', 'hash'], t.io)).toBe(2);
    expect(t.stderr.text).toContain('no key on stdin');
  });
});

describe('clinvk serve: SIGHUP reloads the key set', () => {
  it('revokes and adds named keys, re-reads CLINVK_API_KEYS_FILE, keeps the old set when the new one is invalid', async () => {
    const cfg = path.join(tmp, 'c.yaml');
    const keyFile = path.join(tmp, 'keys');
    fs.writeFileSync(keyFile, 'file-key-1\n', { mode: 0o600 });
    const write = (keys: unknown[]) => fs.writeFileSync(cfg, YAML.stringify({ auth: { keys } }));
    write([
      { name: 'team-a', sha256: sha('ka') },
      { name: 'team-b', env: 'TEAM_B_KEY' },
    ]);

    let registry: KeyRegistry | undefined;
    let shutdown!: () => void;
    startServerMock.mockImplementation(
      async (config: { auth: { keys: never[] }; api_keys: string[] }, opts: { keyEnv: NodeJS.ProcessEnv }) => {
        registry = new KeyRegistry({ entries: config.auth.keys, unnamed: config.api_keys, env: opts.keyEnv });
        return {
          url: 'http://127.0.0.1:1',
          services: { keys: registry },
          shutdown: () => new Promise<void>((r) => (shutdown = r)),
        };
      },
    );
    const t = makeIo({ TEAM_B_KEY: 'kb', CLINVK_API_KEYS_FILE: keyFile, CLINVK_LOG_LEVEL: 'debug' });
    const done = run(['serve', '--config', cfg], t.io);
    const until = async (cond: () => boolean) => {
      const end = Date.now() + 5000;
      while (!cond()) {
        if (Date.now() > end) throw new Error('timeout');
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await until(() => registry !== undefined && t.stdout.text.includes('listening'));
    const ok = (k: string) => registry!.authenticate(k).ok;
    expect([ok('ka'), ok('kb'), ok('file-key-1')]).toEqual([true, true, true]);

    write([
      { name: 'team-b', env: 'TEAM_B_KEY' },
      { name: 'team-c', sha256: sha('kc') },
    ]);
    fs.writeFileSync(keyFile, 'file-key-2\n');
    t.signals.emit('SIGHUP', 'SIGHUP');
    expect([ok('ka'), ok('kb'), ok('kc'), ok('file-key-1'), ok('file-key-2')]).toEqual([
      false,
      true,
      true,
      false,
      true,
    ]);
    expect(t.stderr.text).toContain('API keys reloaded');

    write([{ name: 'team-d', sha256: 'not-a-hash' }]);
    t.signals.emit('SIGHUP', 'SIGHUP');
    expect(t.stderr.text).toContain('API key reload rejected; keeping the previous keys');
    expect(t.stderr.text).toContain('auth.keys[0] (team-d): sha256');
    expect([ok('kb'), ok('kc')]).toEqual([true, true]);

    write([{ name: 'team-b', env: 'TEAM_B_KEY' }]);
    fs.chmodSync(keyFile, 0o644);
    t.signals.emit('SIGHUP', 'SIGHUP');
    expect(t.stderr.text).toMatch(/readable by group or others/);
    expect(ok('kc')).toBe(true);
    for (const secret of ['file-key-1', 'file-key-2', 'kb', sha('kc')]) expect(t.stderr.text).not.toContain(secret);

    t.signals.emit('SIGTERM', 'SIGTERM');
    await until(() => shutdown !== undefined);
    shutdown();
    expect(await done).toBe(0);
  });
});
