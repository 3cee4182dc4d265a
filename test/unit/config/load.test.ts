import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConfigError,
  deepFreeze,
  loadConfig,
  resolveHome,
  withApiKeys,
  type ConfigFlags,
} from '../../../src/config/load';
import { defaultConfig } from '../../../src/config/defaults';

let tmp: string;
let home: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-config-'));
  home = path.join(tmp, 'home');
  fs.mkdirSync(home);
});

afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function writeConfig(text: string, file = path.join(home, 'config.yaml')): string {
  fs.writeFileSync(file, text);
  return file;
}

function load(opts: { flags?: ConfigFlags; env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  return loadConfig({
    flags: opts.flags ?? {},
    env: { CLINVK_HOME: home, HOME: tmp, ...opts.env },
    cwd: opts.cwd ?? tmp,
  });
}

/** The problems of a failing load. */
function problemsOf(opts: Parameters<typeof load>[0]): string[] {
  try {
    load(opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

function problemsForYaml(yaml: string): string[] {
  writeConfig(yaml);
  return problemsOf({});
}

describe('defaults (§8.2)', () => {
  test('no file: built-in defaults, home and default_workdir resolved', () => {
    const { config, warnings } = load();
    expect(warnings).toEqual([]);
    expect(config.home).toBe(home);
    expect(config.config_file).toBeUndefined();
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 8080,
      request_timeout_secs: 300,
      read_timeout_secs: 30,
      write_timeout_secs: 300,
      idle_timeout_secs: 120,
      shutdown_timeout_secs: 30,
      kill_grace_secs: 3,
      api_keys_gopass_path: '',
      rate_limit_enabled: false,
      rate_limit_rps: 10,
      rate_limit_burst: 20,
      rate_limit_cleanup_secs: 180,
      trusted_proxies: [],
      max_request_body_bytes: 10485760,
      cors_allowed_origins: [],
      cors_allowed_headers: [],
      cors_allow_credentials: false,
      cors_max_age: 300,
      allowed_workdir_prefixes: [],
      blocked_workdir_prefixes: [],
      default_workdir: tmp,
      metrics_enabled: false,
      metrics_public: true,
      max_concurrent_executions: 8,
      exclusive_workdirs: false,
      max_queued_executions: 64,
      max_prompt_bytes: 100000,
      max_output_bytes: 67108864,
      max_output_line_bytes: 10485760,
      stream_heartbeat_secs: 15,
      backend_check_ttl_secs: 30,
      log_level: 'info',
      allowed_hosts: [],
      allow_unauthenticated: false,
      agent_user: '',
    });
    expect(config.default_backend).toBe('claude');
    expect(config.unified_flags).toEqual({
      approval_mode: 'default',
      sandbox_mode: 'default',
      verbose: false,
      dry_run: false,
      max_turns: 0,
      max_tokens: 0,
      command_timeout_secs: 0,
    });
    for (const b of ['claude', 'codex', 'gemini'] as const) {
      expect(config.backends[b]).toEqual({
        enabled: true,
        command: '',
        extra_flags: [],
        env: {},
        env_passthrough: [],
        system_prompt_mode: 'replace',
        container_sandbox: false,
      });
      expect(config.backends[b].model_aliases).toBeUndefined();
      expect(config.backends[b].allowed_extra_flags).toBeUndefined();
    }
    expect(config.session).toEqual({
      store: 'file',
      retention_days: 30,
      cleanup_interval_secs: 3600,
      default_tags: [],
      store_token_usage: true,
      auto_resume: true,
    });
    expect(config.output).toEqual({ format: 'json' });
    expect(config.parallel).toEqual({ max_workers: 3, fail_fast: false, aggregate_output: true });
    expect(config.jobs).toEqual({
      store: 'file',
      max_queued: 1000,
      run_timeout_secs: 3600,
      retention_secs: 86400,
      max_event_bytes: 16777216,
    });
    expect(config.api_keys).toEqual([]);
    expect(config.api_keys_gopass_path).toBeUndefined();
  });

  test('defaultConfig() returns independent copies', () => {
    const a = defaultConfig();
    a.server.trusted_proxies.push('x');
    expect(defaultConfig().server.trusted_proxies).toEqual([]);
  });

  test('CLINVK_HOME defaults to ~/.clinvk and is resolved absolute', () => {
    expect(resolveHome({ HOME: '/home/u' }, '/x')).toBe('/home/u/.clinvk');
    expect(resolveHome({ HOME: '/home/u', CLINVK_HOME: 'rel/dir' }, '/x')).toBe('/x/rel/dir');
    expect(resolveHome({ HOME: '/home/u', CLINVK_HOME: '~/state' }, '/x')).toBe('/home/u/state');
    expect(resolveHome({ HOME: '/home/u', CLINVK_HOME: '' }, '/x')).toBe('/home/u/.clinvk');
  });

  test('the result is deeply frozen', () => {
    const { config } = load();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(Object.isFrozen(config.server.trusted_proxies)).toBe(true);
    expect(Object.isFrozen(config.backends.claude.env)).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  test('withApiKeys returns a frozen copy with the keys', () => {
    const { config } = load();
    const withKeys = withApiKeys(config, ['a', 'b']);
    expect(withKeys.api_keys).toEqual(['a', 'b']);
    expect(Object.isFrozen(withKeys)).toBe(true);
    expect(Object.isFrozen(withKeys.api_keys)).toBe(true);
    expect(config.api_keys).toEqual([]);
    expect(deepFreeze({ a: { b: 1 } }).a).toEqual({ b: 1 });
  });
});

describe('file sources (§8.1)', () => {
  test('$CLINVK_HOME/config.yaml is read', () => {
    const file = writeConfig('server:\n  port: 9000\n');
    const { config } = load();
    expect(config.server.port).toBe(9000);
    expect(config.config_file).toBe(file);
  });

  test('CLINVK_CONFIG beats the default file, --config beats CLINVK_CONFIG', () => {
    writeConfig('server:\n  port: 9000\n');
    const envFile = writeConfig('server:\n  port: 9001\n', path.join(tmp, 'env.yaml'));
    const flagFile = writeConfig('server:\n  port: 9002\n', path.join(tmp, 'flag.yaml'));
    expect(load({ env: { CLINVK_CONFIG: envFile } }).config.server.port).toBe(9001);
    const both = load({ env: { CLINVK_CONFIG: envFile }, flags: { config: flagFile } });
    expect(both.config.server.port).toBe(9002);
    expect(both.config.config_file).toBe(flagFile);
  });

  test('relative --config is resolved against cwd', () => {
    writeConfig('server:\n  port: 9003\n', path.join(tmp, 'rel.yaml'));
    expect(load({ flags: { config: 'rel.yaml' }, cwd: tmp }).config.server.port).toBe(9003);
  });

  test('an explicitly named missing file is an error', () => {
    const missing = path.join(tmp, 'nope.yaml');
    expect(problemsOf({ flags: { config: missing } })).toEqual([
      `config error: --config: config file not found: ${missing}`,
    ]);
    expect(problemsOf({ env: { CLINVK_CONFIG: missing } })).toEqual([
      `config error: CLINVK_CONFIG: config file not found: ${missing}`,
    ]);
  });

  test('a directory given as config file is an error', () => {
    expect(problemsOf({ flags: { config: tmp } })).toEqual([
      `config error: --config: config file is a directory: ${tmp}`,
    ]);
  });

  test('malformed YAML is an error naming the file', () => {
    const file = writeConfig('server:\n  port: [1, 2\n');
    const problems = problemsOf({});
    expect(problems.length).toBeGreaterThanOrEqual(1);
    for (const p of problems) expect(p.startsWith(`config error: ${file}: invalid YAML: `)).toBe(true);
  });

  test('duplicate keys are malformed YAML', () => {
    const file = writeConfig('server:\n  port: 1\n  port: 2\n');
    expect(problemsOf({})[0]).toMatch(new RegExp(`^config error: ${file}: invalid YAML: .*[Uu]nique`));
  });

  test('a top level that is not a mapping is an error', () => {
    const file = writeConfig('- a\n- b\n');
    expect(problemsOf({})).toEqual([`config error: ${file}: the top level must be a mapping (got ["a","b"])`]);
  });

  test('an empty file and null values mean defaults', () => {
    writeConfig('');
    expect(load().config.server.port).toBe(8080);
    writeConfig('server:\n  port:\n  host: 0.0.0.0\nsession:\n');
    const { config } = load();
    expect(config.server.port).toBe(8080);
    expect(config.server.host).toBe('0.0.0.0');
  });

  test('the upstream example file loads', () => {
    writeConfig(
      [
        'default_backend: codex',
        'unified_flags:',
        '  approval_mode: auto',
        '  sandbox_mode: workspace',
        'backends:',
        '  claude:',
        '    model: sonnet',
        '    allowed_tools: "Read,Grep"',
        '    enabled: true',
        '  gemini:',
        '    model: gemini-3.8-flash',
        'session:',
        '  retention_days: 7',
        'output:',
        '  format: text',
        '  color: true',
        'parallel:',
        '  max_workers: 5',
        'server:',
        '  host: "127.0.0.1"',
        '  port: 8080',
        '  request_timeout_secs: 300',
        '  read_timeout_secs: 30',
        '  write_timeout_secs: 300',
        '  idle_timeout_secs: 120',
        '  rate_limit_enabled: false',
        '  metrics_enabled: false',
        '  trusted_proxies: ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", "loopback", "10.0.0.0/255.0.0.0"]',
        '',
      ].join('\n'),
    );
    const { config, warnings } = load();
    expect(warnings).toEqual([]);
    expect(config.default_backend).toBe('codex');
    expect(config.unified_flags.approval_mode).toBe('auto');
    expect(config.backends.claude.model).toBe('sonnet');
    expect(config.backends.claude.allowed_tools).toBe('Read,Grep');
    expect(config.backends.claude.system_prompt_mode).toBe('replace');
    expect(config.backends.gemini.model).toBe('gemini-3.8-flash');
    expect(config.session.retention_days).toBe(7);
    expect(config.session.store_token_usage).toBe(true);
    expect(config.output).toEqual({ format: 'text', color: true });
    expect(config.parallel.max_workers).toBe(5);
    expect(config.server.trusted_proxies).toHaveLength(6);
  });

  test('backend maps replace the built-in ones; other backend keys keep their defaults', () => {
    writeConfig(
      [
        'backends:',
        '  codex:',
        '    model_aliases: {fast: gpt-5.5, "team/x": "org/model@v1"}',
        '    allowed_extra_flags: ["--profile <name>", "--strict-config", "-p <v>", "-d"]',
        '    env: {FOO: bar}',
        '    extra_flags: ["--skip-git-repo-check"]',
        '    command: /opt/codex/bin/codex',
        '  gemini:',
        '    container_sandbox: true',
        '  claude:',
        '    system_prompt_mode: append',
        '',
      ].join('\n'),
    );
    const { config } = load();
    expect(config.backends.codex.model_aliases).toEqual({ fast: 'gpt-5.5', 'team/x': 'org/model@v1' });
    expect(config.backends.codex.allowed_extra_flags).toEqual(['--profile <name>', '--strict-config', '-p <v>', '-d']);
    expect(config.backends.codex.env).toEqual({ FOO: 'bar' });
    expect(config.backends.codex.extra_flags).toEqual(['--skip-git-repo-check']);
    expect(config.backends.codex.command).toBe('/opt/codex/bin/codex');
    expect(config.backends.codex.enabled).toBe(true);
    expect(config.backends.gemini.container_sandbox).toBe(true);
    expect(config.backends.claude.system_prompt_mode).toBe('append');
    expect(config.backends.claude.model_aliases).toBeUndefined();
  });

  test('server.default_workdir is kept when set', () => {
    writeConfig('server:\n  default_workdir: /srv/work\n');
    expect(load().config.server.default_workdir).toBe('/srv/work');
  });
});

describe('precedence: flag > env > file > default', () => {
  beforeEach(() => {
    writeConfig(
      [
        'server:',
        '  host: 10.0.0.1',
        '  port: 9000',
        '  log_level: warn',
        '  api_keys_gopass_path: file/path',
        'default_backend: codex',
        'backends:',
        '  claude: {model: file-model}',
        '',
      ].join('\n'),
    );
  });

  test('file beats default', () => {
    const { config } = load();
    expect(config.server.host).toBe('10.0.0.1');
    expect(config.server.port).toBe(9000);
    expect(config.server.log_level).toBe('warn');
    expect(config.default_backend).toBe('codex');
    expect(config.backends.claude.model).toBe('file-model');
    expect(config.server.api_keys_gopass_path).toBe('file/path');
    expect(config.api_keys_gopass_path).toBe('file/path');
  });

  test('env beats file', () => {
    const { config } = load({
      env: {
        CLINVK_HOST: '0.0.0.0',
        CLINVK_PORT: '9100',
        CLINVK_LOG_LEVEL: 'debug',
        CLINVK_BACKEND: 'gemini',
        CLINVK_CLAUDE_MODEL: 'opus',
        CLINVK_CODEX_MODEL: 'gpt-5.5',
        CLINVK_GEMINI_MODEL: 'gemini-3.1-pro-preview',
        CLINVK_API_KEYS_GOPASS_PATH: 'env/path',
      },
    });
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.server.port).toBe(9100);
    expect(config.server.log_level).toBe('debug');
    expect(config.default_backend).toBe('gemini');
    expect(config.backends.claude.model).toBe('opus');
    expect(config.backends.codex.model).toBe('gpt-5.5');
    expect(config.backends.gemini.model).toBe('gemini-3.1-pro-preview');
    expect(config.server.api_keys_gopass_path).toBe('env/path');
    expect(config.api_keys_gopass_path).toBe('env/path');
  });

  test('flags beat env', () => {
    const { config } = load({
      env: { CLINVK_HOST: '0.0.0.0', CLINVK_PORT: '9100', CLINVK_LOG_LEVEL: 'debug' },
      flags: { host: '127.0.0.2', port: '9200', logLevel: 'error' },
    });
    expect(config.server.host).toBe('127.0.0.2');
    expect(config.server.port).toBe(9200);
    expect(config.server.log_level).toBe('error');
  });

  test('numeric --port and port 0 are accepted', () => {
    expect(load({ flags: { port: 0 } }).config.server.port).toBe(0);
    expect(load({ flags: { port: '0' } }).config.server.port).toBe(0);
  });

  test('empty environment variables count as unset', () => {
    const { config } = load({ env: { CLINVK_HOST: '', CLINVK_PORT: '', CLINVK_CONFIG: '' } });
    expect(config.server.host).toBe('10.0.0.1');
    expect(config.server.port).toBe(9000);
  });

  test('log levels from env and flags are case-insensitive', () => {
    expect(load({ env: { CLINVK_LOG_LEVEL: 'DEBUG' } }).config.server.log_level).toBe('debug');
    expect(load({ flags: { logLevel: 'Warn' } }).config.server.log_level).toBe('warn');
  });
});

describe('validation errors name the key (§8.4)', () => {
  test.each<[string, string]>([
    ['server:\n  rate_limit_rps: -1\n', 'config error: server.rate_limit_rps: must be >= 0 (got -1)'],
    ['server:\n  port: 70000\n', 'config error: server.port: must be <= 65535 (got 70000)'],
    ['server:\n  port: -1\n', 'config error: server.port: must be >= 0 (got -1)'],
    ['server:\n  port: "8080"\n', 'config error: server.port: must be an integer (got "8080")'],
    ['server:\n  port: 80.5\n', 'config error: server.port: must be an integer (got 80.5)'],
    ['server:\n  host: ""\n', 'config error: server.host: must be a host name or IP address (got "")'],
    ['server:\n  request_timeout_secs: 0\n', 'config error: server.request_timeout_secs: must be >= 1 (got 0)'],
    ['server:\n  read_timeout_secs: 0\n', 'config error: server.read_timeout_secs: must be >= 1 (got 0)'],
    ['server:\n  write_timeout_secs: 0\n', 'config error: server.write_timeout_secs: must be >= 1 (got 0)'],
    ['server:\n  idle_timeout_secs: 0\n', 'config error: server.idle_timeout_secs: must be >= 1 (got 0)'],
    ['server:\n  shutdown_timeout_secs: 0\n', 'config error: server.shutdown_timeout_secs: must be >= 1 (got 0)'],
    ['server:\n  kill_grace_secs: 0\n', 'config error: server.kill_grace_secs: must be >= 1 (got 0)'],
    ['server:\n  stream_heartbeat_secs: 0\n', 'config error: server.stream_heartbeat_secs: must be >= 1 (got 0)'],
    ['server:\n  rate_limit_cleanup_secs: 0\n', 'config error: server.rate_limit_cleanup_secs: must be >= 1 (got 0)'],
    [
      'server:\n  max_concurrent_executions: 0\n',
      'config error: server.max_concurrent_executions: must be >= 1 (got 0)',
    ],
    ['server:\n  max_queued_executions: -1\n', 'config error: server.max_queued_executions: must be >= 0 (got -1)'],
    ['server:\n  max_prompt_bytes: 120001\n', 'config error: server.max_prompt_bytes: must be <= 120000 (got 120001)'],
    ['server:\n  max_prompt_bytes: 0\n', 'config error: server.max_prompt_bytes: must be >= 1 (got 0)'],
    ['server:\n  max_output_bytes: 0\n', 'config error: server.max_output_bytes: must be >= 1 (got 0)'],
    ['server:\n  max_output_line_bytes: 0\n', 'config error: server.max_output_line_bytes: must be >= 1 (got 0)'],
    ['server:\n  max_request_body_bytes: -5\n', 'config error: server.max_request_body_bytes: must be >= 0 (got -5)'],
    ['server:\n  cors_max_age: -1\n', 'config error: server.cors_max_age: must be >= 0 (got -1)'],
    ['server:\n  backend_check_ttl_secs: -1\n', 'config error: server.backend_check_ttl_secs: must be >= 0 (got -1)'],
    [
      'server:\n  rate_limit_enabled: "yes"\n',
      'config error: server.rate_limit_enabled: must be a boolean (got "yes")',
    ],
    [
      'server:\n  log_level: verbose\n',
      'config error: server.log_level: must be one of error, warn, info, debug (got "verbose")',
    ],
    ['server:\n  log_level: 3\n', 'config error: server.log_level: must be a string (got 3)'],
    [
      'server:\n  allowed_workdir_prefixes: [/ok, relative/dir]\n',
      'config error: server.allowed_workdir_prefixes[1]: must be an absolute path (got "relative/dir")',
    ],
    [
      'server:\n  blocked_workdir_prefixes: ["./x"]\n',
      'config error: server.blocked_workdir_prefixes[0]: must be an absolute path (got "./x")',
    ],
    [
      'server:\n  default_workdir: rel\n',
      'config error: server.default_workdir: must be an absolute path or "" (got "rel")',
    ],
    [
      'server:\n  trusted_proxies: ["10.0.0.0/33"]\n',
      'config error: server.trusted_proxies[0]: must be an IP address, a CIDR range or one of loopback, linklocal, uniquelocal (got "10.0.0.0/33")',
    ],
    [
      'server:\n  trusted_proxies: ["example.com"]\n',
      'config error: server.trusted_proxies[0]: must be an IP address, a CIDR range or one of loopback, linklocal, uniquelocal (got "example.com")',
    ],
    [
      'server:\n  trusted_proxies: ["10.0.0.0/255.0.255.0"]\n',
      'config error: server.trusted_proxies[0]: must be an IP address, a CIDR range or one of loopback, linklocal, uniquelocal (got "10.0.0.0/255.0.255.0")',
    ],
    ['server:\n  trusted_proxies: 10.0.0.1\n', 'config error: server.trusted_proxies: must be a list (got "10.0.0.1")'],
    [
      'server:\n  api_keys_gopass_path: "bad path!"\n',
      'config error: server.api_keys_gopass_path: must match ^[A-Za-z0-9/_.-]+$ and not start with "-" (got "bad path!")',
    ],
    [
      'server:\n  api_keys_gopass_path: "-x"\n',
      'config error: server.api_keys_gopass_path: must match ^[A-Za-z0-9/_.-]+$ and not start with "-" (got "-x")',
    ],
    [
      'server:\n  cors_allowed_headers: ["X Bad"]\n',
      'config error: server.cors_allowed_headers[0]: must be an HTTP header name (got "X Bad")',
    ],
    ['default_backend: aider\n', 'config error: default_backend: must be one of claude, codex, gemini (got "aider")'],
    [
      'unified_flags:\n  approval_mode: yolo\n',
      'config error: unified_flags.approval_mode: must be one of default, auto, none, always (got "yolo")',
    ],
    [
      'unified_flags:\n  sandbox_mode: none\n',
      'config error: unified_flags.sandbox_mode: must be one of default, read-only, workspace, full (got "none")',
    ],
    ['unified_flags:\n  max_turns: 1001\n', 'config error: unified_flags.max_turns: must be <= 1000 (got 1001)'],
    ['unified_flags:\n  dry_run: 1\n', 'config error: unified_flags.dry_run: must be a boolean (got 1)'],
    [
      'backends:\n  claude:\n    model: "-bad"\n',
      'config error: backends.claude.model: must match the model pattern ^[A-Za-z0-9][A-Za-z0-9._:/@+\\[\\]-]*$ (got "-bad")',
    ],
    [
      'backends:\n  codex:\n    model_aliases: {fast: "has space"}\n',
      'config error: backends.codex.model_aliases.fast: must match the model pattern ^[A-Za-z0-9][A-Za-z0-9._:/@+\\[\\]-]*$ (got "has space")',
    ],
    [
      'backends:\n  codex:\n    model_aliases: {fast: 5}\n',
      'config error: backends.codex.model_aliases.fast: must be a string (got 5)',
    ],
    [
      'backends:\n  codex:\n    model_aliases: {"-x": gpt}\n',
      'config error: backends.codex.model_aliases: invalid key "-x": must match the model pattern ^[A-Za-z0-9][A-Za-z0-9._:/@+\\[\\]-]*$',
    ],
    [
      'backends:\n  gemini:\n    allowed_extra_flags: ["--debug", "debug"]\n',
      'config error: backends.gemini.allowed_extra_flags[1]: must be "--flag", "--flag <value>", "-x" or "-x <value>" (got "debug")',
    ],
    [
      'backends:\n  gemini:\n    allowed_extra_flags: ["--flag=<v>"]\n',
      'config error: backends.gemini.allowed_extra_flags[0]: must be "--flag", "--flag <value>", "-x" or "-x <value>" (got "--flag=<v>")',
    ],
    [
      'backends:\n  gemini:\n    allowed_extra_flags: ["--flag <v> <w>"]\n',
      'config error: backends.gemini.allowed_extra_flags[0]: must be "--flag", "--flag <value>", "-x" or "-x <value>" (got "--flag <v> <w>")',
    ],
    ['backends:\n  gemini:\n    env: {FOO: 1}\n', 'config error: backends.gemini.env.FOO: must be a string (got 1)'],
    ['backends:\n  gemini:\n    env: []\n', 'config error: backends.gemini.env: must be a mapping (got [])'],
    [
      'backends:\n  claude:\n    enabled: "no"\n',
      'config error: backends.claude.enabled: must be a boolean (got "no")',
    ],
    [
      'backends:\n  claude:\n    system_prompt_mode: prepend\n',
      'config error: backends.claude.system_prompt_mode: must be one of replace, append (got "prepend")',
    ],
    [
      'backends:\n  claude:\n    extra_flags: "--x"\n',
      'config error: backends.claude.extra_flags: must be a list (got "--x")',
    ],
    [
      'backends:\n  codex:\n    command: ./bin/codex\n',
      'config error: backends.codex.command: must be an executable name (looked up on PATH) or an absolute path (got "./bin/codex")',
    ],
    ['session:\n  store: redis\n', 'config error: session.store: must be one of file, postgres (got "redis")'],
    ['session:\n  retention_days: -1\n', 'config error: session.retention_days: must be >= 0 (got -1)'],
    ['session:\n  cleanup_interval_secs: 0\n', 'config error: session.cleanup_interval_secs: must be >= 1 (got 0)'],
    [
      'output:\n  format: yaml\n',
      'config error: output.format: must be one of default, text, json, stream-json (got "yaml")',
    ],
    ['parallel:\n  max_workers: 0\n', 'config error: parallel.max_workers: must be >= 1 (got 0)'],
    ['parallel:\n  max_workers: 65\n', 'config error: parallel.max_workers: must be <= 64 (got 65)'],
    ['server: 5\n', 'config error: server: must be a mapping (got 5)'],
  ])('%j', (yaml, expected) => {
    expect(problemsForYaml(yaml)).toEqual([expected]);
  });

  test('every problem is reported, one line each', () => {
    const problems = problemsForYaml('server:\n  rate_limit_rps: -1\n  port: 70000\nparallel:\n  max_workers: 0\n');
    expect(problems).toEqual([
      'config error: server.port: must be <= 65535 (got 70000)',
      'config error: server.rate_limit_rps: must be >= 0 (got -1)',
      'config error: parallel.max_workers: must be >= 1 (got 0)',
    ]);
  });

  test('a lone "*" origin together with credentials is an error', () => {
    writeConfig('server:\n  cors_allowed_origins: ["*"]\n  cors_allow_credentials: true\n');
    expect(problemsOf({})).toEqual([
      'config error: server.cors_allowed_origins: a lone "*" origin cannot be combined with server.cors_allow_credentials: true',
    ]);
  });

  test('"*" without credentials and patterns with credentials are fine', () => {
    writeConfig('server:\n  cors_allowed_origins: ["*"]\n');
    expect(load().config.server.cors_allowed_origins).toEqual(['*']);
    writeConfig('server:\n  cors_allowed_origins: ["https://*.example.com"]\n  cors_allow_credentials: true\n');
    expect(load().config.server.cors_allow_credentials).toBe(true);
  });

  describe('stores in cluster mode', () => {
    const cluster = { CLINVK_CLUSTER: 'true', CLINVK_REDIS_URL: 'redis://127.0.0.1:6379' };
    const pg = { ...cluster, CLINVK_POSTGRES_URL: 'postgres://db/clinvk' };

    test('the stores default to postgres with cluster.enabled, to file without', () => {
      const stores = (env: NodeJS.ProcessEnv) => {
        const { config } = load({ env });
        return [config.session.store, config.jobs.store, config.usage.store];
      };
      expect(stores(pg)).toEqual(['postgres', 'postgres', 'postgres']);
      expect(stores({})).toEqual(['file', 'file', 'file']);
      expect(stores({ CLINVK_POSTGRES_URL: 'postgres://db/clinvk' })).toEqual(['file', 'file', 'file']);
      writeConfig('session:\n  store: postgres\nusage:\n  store: postgres\n');
      expect(stores(pg)).toEqual(['postgres', 'postgres', 'postgres']);
    });

    test('an explicit file store with cluster.enabled is an error, one line per store', () => {
      writeConfig('session:\n  store: file\nusage:\n  store: file\n');
      expect(problemsOf({ env: pg })).toEqual([
        'config error: session.store: a cluster keeps its records in PostgreSQL: file is not allowed with cluster.enabled (use postgres or leave it unset)',
        'config error: usage.store: a cluster keeps its records in PostgreSQL: file is not allowed with cluster.enabled (use postgres or leave it unset)',
      ]);
    });

    test('cluster.enabled without cluster.postgres_url is one error', () => {
      expect(problemsOf({ env: cluster })).toEqual([
        'config error: cluster.enabled: cluster mode needs cluster.postgres_url (or CLINVK_POSTGRES_URL)',
      ]);
      writeConfig('cluster:\n  enabled: true\n');
      expect(problemsOf({})).toEqual([
        'config error: cluster.enabled: cluster mode needs cluster.redis_url (or CLINVK_REDIS_URL)',
        'config error: cluster.enabled: cluster mode needs cluster.postgres_url (or CLINVK_POSTGRES_URL)',
      ]);
    });

    test('a postgres store without a cluster still needs the URL', () => {
      writeConfig('jobs:\n  store: postgres\n');
      expect(problemsOf({})).toEqual([
        'config error: jobs.store: postgres needs cluster.postgres_url (or CLINVK_POSTGRES_URL) to be set',
      ]);
    });
  });

  test('ConfigError carries the problems and a message', () => {
    writeConfig('server:\n  rate_limit_rps: -1\n');
    expect(() => load()).toThrow('config error: server.rate_limit_rps: must be >= 0 (got -1)');
  });
});

describe('bad environment and flag values name their source', () => {
  test('CLINVK_PORT that is not an integer', () => {
    expect(problemsOf({ env: { CLINVK_PORT: 'abc' } })).toEqual([
      'config error: CLINVK_PORT: must be an integer (got "abc")',
    ]);
  });

  test('CLINVK_PORT out of range', () => {
    expect(problemsOf({ env: { CLINVK_PORT: '70000' } })).toEqual([
      'config error: CLINVK_PORT: must be <= 65535 (got 70000)',
    ]);
  });

  test('--port that is not an integer or out of range', () => {
    expect(problemsOf({ flags: { port: '12ab' } })).toEqual(['config error: --port: must be an integer (got "12ab")']);
    expect(problemsOf({ flags: { port: 65536 } })).toEqual(['config error: --port: must be <= 65535 (got 65536)']);
  });

  test('CLINVK_LOG_LEVEL and --log-level', () => {
    expect(problemsOf({ env: { CLINVK_LOG_LEVEL: 'loud' } })).toEqual([
      'config error: CLINVK_LOG_LEVEL: must be one of error, warn, info, debug (got "loud")',
    ]);
    expect(problemsOf({ flags: { logLevel: 'trace' } })).toEqual([
      'config error: --log-level: must be one of error, warn, info, debug (got "trace")',
    ]);
  });

  test('CLINVK_BACKEND and CLINVK_<B>_MODEL', () => {
    expect(problemsOf({ env: { CLINVK_BACKEND: 'aider', CLINVK_GEMINI_MODEL: 'bad model' } })).toEqual([
      'config error: CLINVK_BACKEND: must be one of claude, codex, gemini (got "aider")',
      'config error: CLINVK_GEMINI_MODEL: must match the model pattern ^[A-Za-z0-9][A-Za-z0-9._:/@+\\[\\]-]*$ (got "bad model")',
    ]);
  });

  test('CLINVK_API_KEYS_GOPASS_PATH', () => {
    expect(problemsOf({ env: { CLINVK_API_KEYS_GOPASS_PATH: 'a b' } })).toEqual([
      'config error: CLINVK_API_KEYS_GOPASS_PATH: must match ^[A-Za-z0-9/_.-]+$ and not start with "-" (got "a b")',
    ]);
  });

  test('env and file problems are reported together', () => {
    writeConfig('server:\n  rate_limit_rps: -1\n');
    expect(problemsOf({ env: { CLINVK_PORT: 'x' } })).toEqual([
      'config error: CLINVK_PORT: must be an integer (got "x")',
      'config error: server.rate_limit_rps: must be >= 0 (got -1)',
    ]);
  });
});

describe('unknown keys are warnings (§8.4)', () => {
  test('each unknown key is named; the rest of the file applies', () => {
    const file = writeConfig(
      [
        'server:',
        '  port: 9000',
        '  tls_cert: /x',
        'backends:',
        '  aider: {model: x}',
        '  claude:',
        '    colour: red',
        '  codex:',
        '    system_prompt_mode: append',
        'telemetry: true',
        '',
      ].join('\n'),
    );
    const { config, warnings } = load();
    expect(config.server.port).toBe(9000);
    expect(warnings.sort()).toEqual(
      [
        `config warning: server.tls_cert: unknown key (ignored) in ${file}`,
        `config warning: backends.aider: unknown key (ignored) in ${file}`,
        `config warning: backends.claude.colour: unknown key (ignored) in ${file}`,
        `config warning: backends.codex.system_prompt_mode: unknown key (ignored) in ${file}`,
        `config warning: telemetry: unknown key (ignored) in ${file}`,
      ].sort(),
    );
    expect((config.server as unknown as Record<string, unknown>).tls_cert).toBeUndefined();
    expect((config.backends as unknown as Record<string, unknown>).aider).toBeUndefined();
  });

  test('unknown keys do not hide errors', () => {
    writeConfig('server:\n  nope: 1\n  port: -1\n');
    expect(problemsOf({})).toEqual(['config error: server.port: must be >= 0 (got -1)']);
  });
});
