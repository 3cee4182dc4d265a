import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import YAML from 'yaml';
import type { Config } from '../../../src/config/types';

jest.mock('../../../src/http/server', () => ({ startServer: jest.fn() }));
jest.mock('../../../src/auth/sources', () => {
  const actual = jest.requireActual('../../../src/auth/sources');
  return { ...actual, resolveApiKeys: jest.fn(actual.resolveApiKeys) };
});

import { isLoopbackHost, run, startupWarnings, type CliIo } from '../../../src/cli/main';
import { startServer } from '../../../src/http/server';
import { resolveApiKeys } from '../../../src/auth/sources';

const startServerMock = startServer as unknown as jest.Mock;
const resolveApiKeysMock = resolveApiKeys as unknown as jest.Mock;
const pkgVersion = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as { version: string }
).version;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let tmp: string;
let home: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-cli-'));
  home = path.join(tmp, 'home');
  fs.mkdirSync(home);
  startServerMock.mockReset();
  resolveApiKeysMock.mockClear();
});

afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function makeIo(env: NodeJS.ProcessEnv = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const signals = new EventEmitter();
  const io: CliIo = {
    stdout,
    stderr,
    env: { CLINVK_HOME: home, HOME: tmp, PATH: '/nonexistent', ...env },
    cwd: tmp,
    signals,
  };
  return { io, stdout, stderr, signals };
}

async function exec(argv: string[], env?: NodeJS.ProcessEnv) {
  const t = makeIo(env);
  const code = await run(argv, t.io);
  return { code, stdout: t.stdout.text, stderr: t.stderr.text };
}

function writeConfig(text: string, file = path.join(home, 'config.yaml')): string {
  fs.writeFileSync(file, text);
  return file;
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('version and help', () => {
  test('version prints the package version', async () => {
    expect(await exec(['version'])).toEqual({ code: 0, stdout: `clinvk ${pkgVersion}\n`, stderr: '' });
    expect((await exec(['--version'])).stdout).toBe(`clinvk ${pkgVersion}\n`);
  });

  test('--help, -h, help and <cmd> --help print usage on stdout', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const r = await exec(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: clinvk <command>');
      expect(r.stdout).toContain('config show');
      expect(r.stderr).toBe('');
    }
    const serve = await exec(['serve', '--help']);
    expect(serve.code).toBe(0);
    expect(serve.stdout).toContain(
      'Usage: clinvk serve [--host <host>] [--port|-p <port>] [--config <file>] [--log-level <level>]',
    );
    expect((await exec(['config', 'show', '--help'])).stdout).toContain('Usage: clinvk config show');
    expect((await exec(['config', '--help'])).stdout).toContain('Usage: clinvk config show');
    expect((await exec(['version', '--help'])).stdout).toContain('Usage: clinvk version');
    expect(startServerMock).not.toHaveBeenCalled();
  });
});

describe('usage errors exit 2', () => {
  test.each<[string[], string]>([
    [['frobnicate'], 'clinvk: unknown command "frobnicate"'],
    [['serve', '--bogus'], "clinvk: Unknown option '--bogus'"],
    [['serve', '--port'], "clinvk: Option '-p, --port <value>' argument missing"],
    [['serve', 'extra'], 'clinvk: unexpected argument "extra"'],
    [['config'], 'clinvk: missing sub-command: clinvk config show'],
    [['config', 'edit'], 'clinvk: unknown config sub-command "edit"'],
    [['config', 'show', 'x'], 'clinvk: unexpected argument "x"'],
    [['version', '--port', '1'], 'clinvk: option --port is not accepted by "clinvk version"'],
  ])('%j', async (argv, first) => {
    const r = await exec(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(first);
    // The hint names the command's own help when a command was given.
    const command = ['serve', 'config', 'version'].find((c) => argv.includes(c));
    expect(r.stderr).toContain(`Run 'clinvk ${command ? `${command} ` : ''}--help' for usage.`);
  });

  test('--log-format picks the log line format; a bad value is a usage error', async () => {
    const bad = await exec(['serve', '--log-format', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('config error: --log-format: must be one of json, text (got "xml")\n');
    const badEnv = await exec(['serve'], { CLINVK_LOG_FORMAT: 'yaml' });
    expect(badEnv.stderr).toBe('config error: CLINVK_LOG_FORMAT: must be one of json, text (got "yaml")\n');
  });

  test('no command prints usage on stderr', async () => {
    const r = await exec([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: clinvk <command>');
  });
});

describe('config show', () => {
  test('API keys are redacted', async () => {
    const r = await exec(['config', 'show'], { CLINVK_API_KEYS: 'sk-alpha-111, sk-beta-222' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('<redacted: 2 keys>');
    expect(r.stdout).not.toContain('sk-alpha-111');
    expect(r.stdout).not.toContain('sk-beta-222');
    expect(r.stderr).not.toContain('sk-alpha-111');
  });

  test('effective values after file, env and flags; --config before the sub-command', async () => {
    const file = writeConfig('server:\n  port: 9000\n  host: 10.1.1.1\n  log_level: warn\n', path.join(tmp, 'c.yaml'));
    const r = await exec(['--config', file, 'config', 'show', '--port', '9100'], { CLINVK_LOG_LEVEL: 'debug' });
    expect(r.code).toBe(0);
    const doc = YAML.parse(r.stdout);
    expect(doc.server.port).toBe(9100);
    expect(doc.server.host).toBe('10.1.1.1');
    expect(doc.server.log_level).toBe('debug');
    expect(doc.server.api_keys).toBeUndefined();
    expect(r.stdout).toContain('# API keys: <redacted: 0 keys>');
    expect(r.stdout).toContain(`# config file: ${file}`);
  });

  test('the output is itself a valid config file: fed back, no warning and the same configuration', async () => {
    const file = writeConfig(
      [
        'server:',
        '  port: 9000',
        '  allowed_workdir_prefixes: [/srv/agents]',
        'backends:',
        '  claude:',
        '    model: sonnet',
        '    env: { ANTHROPIC_API_KEY: sk-ant-secret-value, HTTPS_PROXY: "http://proxy:3128" }',
        '  gemini:',
        '    enabled: false',
        '',
      ].join('\n'),
      path.join(tmp, 'in.yaml'),
    );
    const first = await exec(['config', 'show', '--config', file], { CLINVK_API_KEYS: 'k-one-1234567,k-two-1234567' });
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('');
    // Secrets are left out (not renamed): no key material, no placeholder keys.
    expect(first.stdout).not.toContain('sk-ant-secret-value');
    expect(first.stdout).not.toContain('k-one-1234567');
    expect(first.stdout).toContain('# secret values left out: backends.claude.env.ANTHROPIC_API_KEY');
    const doc = YAML.parse(first.stdout);
    expect(doc.backends.claude.env).toEqual({ HTTPS_PROXY: 'http://proxy:3128' });
    expect(doc.server.api_keys).toBeUndefined();

    const again = writeConfig(first.stdout, path.join(tmp, 'again.yaml'));
    const second = await exec(['config', 'show', '--config', again]);
    expect(second.code).toBe(0);
    expect(second.stderr).toBe(''); // no unknown-key warning, no validation error
    const body = (text: string) => text.split('\n').filter((l) => !l.startsWith('#'));
    expect(body(second.stdout)).toEqual(body(first.stdout));
  });

  test('unknown keys are warned about on stderr', async () => {
    const file = writeConfig('server:\n  tls: true\n');
    const r = await exec(['config', 'show']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`config warning: server.tls: unknown key (ignored) in ${file}\n`);
  });

  test('an invalid config file exits 2 naming the key', async () => {
    writeConfig('server:\n  rate_limit_rps: -1\n  port: 99999\n');
    const r = await exec(['config', 'show']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'config error: server.port: must be <= 65535 (got 99999)\nconfig error: server.rate_limit_rps: must be >= 0 (got -1)\n',
    );
  });

  test('gopass failure exits 2', async () => {
    resolveApiKeysMock.mockRejectedValueOnce(new Error('API keys: gopass path "team/keys" yielded no key'));
    const r = await exec(['config', 'show'], { CLINVK_API_KEYS_GOPASS_PATH: 'team/keys' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('config error: API keys: gopass path "team/keys" yielded no key\n');
    expect(resolveApiKeysMock).toHaveBeenCalledWith(expect.objectContaining({ gopassPath: 'team/keys' }));
  });
});

describe('serve', () => {
  function fakeServer(url = 'http://127.0.0.1:41234') {
    const server = {
      url,
      port: Number(url.split(':').pop()),
      host: '127.0.0.1',
      shutdown: jest.fn<Promise<void>, [{ force?: boolean }?]>().mockResolvedValue(undefined),
      services: {
        availability: {
          check: async (name: string) =>
            name === 'claude'
              ? { name, enabled: true, available: true, command: '/opt/bin/claude' }
              : { name, enabled: name === 'codex', available: false },
        },
      },
    };
    startServerMock.mockResolvedValue(server);
    return server;
  }

  test('bad CLINVK_PORT exits 2 without starting', async () => {
    const r = await exec(['serve'], { CLINVK_PORT: 'abc' });
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'config error: CLINVK_PORT: must be an integer (got "abc")\n' });
    expect(startServerMock).not.toHaveBeenCalled();
  });

  test('invalid config file exits 2 naming the key', async () => {
    writeConfig('server:\n  max_prompt_bytes: 200000\n');
    const r = await exec(['serve']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('config error: server.max_prompt_bytes: must be <= 120000 (got 200000)\n');
    expect(startServerMock).not.toHaveBeenCalled();
  });

  test('missing explicit --config exits 2', async () => {
    const missing = path.join(tmp, 'missing.yaml');
    const r = await exec(['serve', '--config', missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`config error: --config: config file not found: ${missing}\n`);
  });

  test('fail-closed gopass error exits 2', async () => {
    resolveApiKeysMock.mockRejectedValueOnce(new Error('API keys: gopass failed'));
    const r = await exec(['serve'], { CLINVK_API_KEYS_GOPASS_PATH: 'x/y' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('config error: API keys: gopass failed\n');
    expect(startServerMock).not.toHaveBeenCalled();
  });

  test('starts with the merged config, prints the banner after bind, SIGTERM shuts down with exit 0', async () => {
    const server = fakeServer('http://127.0.0.1:41234');
    writeConfig('server:\n  metrics_enabled: true\n  host: 127.0.0.1\n');
    const t = makeIo({ CLINVK_API_KEYS: 'k1,k2', CLINVK_LOG_LEVEL: 'debug' });
    const done = run(['serve', '-p', '0'], t.io);
    await waitFor(() => t.stdout.text.includes('Press Ctrl+C'));

    expect(startServerMock).toHaveBeenCalledTimes(1);
    const [config, opts] = startServerMock.mock.calls[0] as [Config, { logger: unknown }];
    expect(config.server.port).toBe(0);
    expect(config.server.metrics_enabled).toBe(true);
    expect(config.server.log_level).toBe('debug');
    expect(config.api_keys).toEqual(['k1', 'k2']);
    expect(config.home).toBe(home);
    expect(config.server.default_workdir).toBe(tmp);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.api_keys)).toBe(true);
    expect(opts.logger).toBeDefined();

    expect(t.stdout.text.split('\n')[0]).toBe('clinvk API server listening on http://127.0.0.1:41234');
    expect(t.stdout.text).toContain('GET  /metrics   (enabled)');
    // What a newcomer needs first: auth, which CLIs were found, config file, where agents run.
    const file = path.join(home, 'config.yaml');
    expect(t.stdout.text).toContain(
      [
        '  Auth            on (2 API keys; send Authorization: Bearer <key> or x-api-key)',
        '  Backends        claude (/opt/bin/claude)  codex (not found)  gemini (disabled)',
        '                  not found: install them (clinvk doctor) or set backends.<name>.enabled: false',
        `  Config file     ${file}`,
        `  Default workdir ${tmp} (agents run here when a request names no workdir)`,
      ].join('\n'),
    );
    expect(t.stdout.text).toContain(
      'Press Ctrl+C to stop (running requests get up to 30 s to finish; press it again to stop at once)',
    );
    expect(server.shutdown).not.toHaveBeenCalled();

    t.signals.emit('SIGTERM', 'SIGTERM');
    expect(await done).toBe(0);
    expect(server.shutdown).toHaveBeenCalledTimes(1);
    expect(server.shutdown.mock.calls[0][0]).toBeUndefined();
    expect(t.signals.listenerCount('SIGTERM')).toBe(0);
    expect(t.signals.listenerCount('SIGINT')).toBe(0);
    expect(t.stderr.text).not.toContain('k1');
    const shutdownLine = jsonLines(t.stderr.text).find((l) => String(l.message).startsWith('shutting down'));
    expect(shutdownLine).toMatchObject({
      level: 'info',
      message:
        'shutting down: running requests get up to 30 s to finish; send the signal again (Ctrl+C) to stop at once',
      signal: 'SIGTERM',
      drain_secs: 30,
    });
  });

  test('a second signal forces the shutdown', async () => {
    const server = fakeServer();
    let finishDrain: () => void = () => undefined;
    server.shutdown.mockImplementation((o?: { force?: boolean }) =>
      o?.force ? Promise.resolve() : new Promise<void>((r) => (finishDrain = r)),
    );
    const t = makeIo();
    const done = run(['serve'], t.io);
    await waitFor(() => t.stdout.text.includes('Press Ctrl+C'));
    t.signals.emit('SIGINT', 'SIGINT');
    t.signals.emit('SIGINT', 'SIGINT');
    expect(await done).toBe(0);
    expect(server.shutdown.mock.calls).toEqual([[undefined], [{ force: true }]]);
    finishDrain();
  });

  test('a signal received while starting shuts the server down once it is up', async () => {
    const server = fakeServer();
    let finishStart: () => void = () => undefined;
    startServerMock.mockImplementation(() => new Promise((r) => (finishStart = () => r(server))));
    const t = makeIo();
    const done = run(['serve'], t.io);
    await waitFor(() => startServerMock.mock.calls.length === 1);
    t.signals.emit('SIGTERM', 'SIGTERM');
    expect(server.shutdown).not.toHaveBeenCalled();
    finishStart();
    expect(await done).toBe(0);
    expect(server.shutdown).toHaveBeenCalledTimes(1);
    expect(t.signals.listenerCount('SIGTERM')).toBe(0);
  });

  test('start-up failure removes the signal listeners', async () => {
    startServerMock.mockRejectedValue(new Error('nope'));
    const t = makeIo();
    expect(await run(['serve'], t.io)).toBe(1);
    expect(t.signals.listenerCount('SIGTERM')).toBe(0);
    expect(t.signals.listenerCount('SIGINT')).toBe(0);
  });

  test('the banner says disabled by default', async () => {
    fakeServer('http://127.0.0.1:8080');
    const t = makeIo();
    const done = run(['serve'], t.io);
    await waitFor(() => t.stdout.text.includes('Press Ctrl+C'));
    expect(t.stdout.text).toContain('GET  /metrics   (disabled: server.metrics_enabled)');
    expect(t.stdout.text).toContain('  Auth            off (no API keys configured');
    expect(t.stdout.text).toContain('  Config file     none (built-in defaults)');
    t.signals.emit('SIGTERM', 'SIGTERM');
    await done;
  });

  test('address in use exits 1 with a message on stderr', async () => {
    startServerMock.mockRejectedValue(
      Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8080'), { code: 'EADDRINUSE' }),
    );
    const r = await exec(['serve', '--port', '8080']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('clinvk: cannot listen on 127.0.0.1:8080: address already in use\n');
  });

  test('other start-up failures exit 1', async () => {
    startServerMock.mockRejectedValue(new Error('session store unavailable'));
    const r = await exec(['serve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('clinvk: failed to start the server: session store unavailable\n');
  });

  test('start-up warnings: non-loopback bind allowed without keys, dry_run, unknown keys', async () => {
    fakeServer('http://0.0.0.0:8080');
    const file = writeConfig('unified_flags:\n  dry_run: true\nserver:\n  shiny: 1\n  allow_unauthenticated: true\n');
    const t = makeIo();
    const done = run(['serve', '--host', '0.0.0.0'], t.io);
    await waitFor(() => t.stdout.text.includes('Press Ctrl+C'));
    t.signals.emit('SIGTERM', 'SIGTERM');
    expect(await done).toBe(0);
    const warns = jsonLines(t.stderr.text)
      .filter((l) => l.level === 'warn')
      .map((l) => String(l.message));
    expect(warns).toEqual([
      `config warning: server.shiny: unknown key (ignored) in ${file}`,
      expect.stringContaining('binding to non-loopback address 0.0.0.0 without API keys'),
      expect.stringContaining('unified_flags.dry_run is on'),
    ]);
  });

  test('a non-loopback bind without API keys refuses to start (exit 2) unless allowed', async () => {
    fakeServer('http://0.0.0.0:8080');
    const r = await exec(['serve', '--host', '0.0.0.0']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^config error: server\.host: binding to non-loopback address 0\.0\.0\.0 without API keys .*server\.allow_unauthenticated: true\n$/,
    );
    expect(startServerMock).not.toHaveBeenCalled();
  });

  test('a configured mode a CLI cannot enforce refuses to start (exit 2)', async () => {
    fakeServer();
    writeConfig('unified_flags:\n  sandbox_mode: read-only\n');
    const r = await exec(['serve']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'config error: backends.gemini.sandbox_mode: gemini cannot enforce sandbox_mode read-only',
    );
    expect(startServerMock).not.toHaveBeenCalled();
  });

  test('shutdown failure exits 1', async () => {
    const server = fakeServer();
    server.shutdown.mockRejectedValue(new Error('stuck'));
    const t = makeIo();
    const done = run(['serve'], t.io);
    await waitFor(() => t.stdout.text.includes('Press Ctrl+C'));
    t.signals.emit('SIGTERM', 'SIGTERM');
    expect(await done).toBe(1);
  });
});

describe('helpers', () => {
  test('isLoopbackHost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) {
      expect([h, isLoopbackHost(h)]).toEqual([h, true]);
    }
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '192.168.1.2']) {
      expect([h, isLoopbackHost(h)]).toEqual([h, false]);
    }
  });

  test('startupWarnings is empty for the defaults with loopback host', () => {
    const config = {
      server: { host: '127.0.0.1' },
      api_keys: [],
      auth: { keys: [] },
      unified_flags: { dry_run: false },
    } as unknown as Config;
    expect(startupWarnings(config)).toEqual([]);
    expect(startupWarnings({ ...config, server: { host: '0.0.0.0' }, api_keys: ['k'] } as unknown as Config)).toEqual(
      [],
    );
  });
});
