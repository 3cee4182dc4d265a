import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { loadConfig, withApiKeys } from '../../../src/config/load';
import { configToYaml, redactedKeys } from '../../../src/config/show';

let tmp: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-show-'));
});

afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function load(yaml?: string) {
  if (yaml !== undefined) fs.writeFileSync(path.join(tmp, 'config.yaml'), yaml);
  return loadConfig({ flags: {}, env: { CLINVK_HOME: tmp, HOME: tmp }, cwd: tmp });
}

test('API keys are shown only as their number', () => {
  const config = withApiKeys(load().config, ['sk-first-secret', 'sk-second-secret']);
  const out = configToYaml(config, config.api_keys.length);
  expect(out).toContain('<redacted: 2 keys>');
  expect(out).not.toContain('sk-first-secret');
  expect(out).not.toContain('sk-second-secret');
  expect(out).toContain('# API keys: <redacted: 2 keys>');
  expect(YAML.parse(out).server.api_keys).toBeUndefined();
  expect(redactedKeys(0)).toBe('<redacted: 0 keys>');
});

test('snake_case sections like the file, header with home and file', () => {
  const { config } = load('server:\n  port: 9001\nbackends:\n  claude:\n    model: opus\n');
  const out = configToYaml(config, 0);
  expect(out.startsWith('# clinvk effective configuration')).toBe(true);
  expect(out).toContain(`# home: ${tmp}`);
  expect(out).toContain(`# config file: ${path.join(tmp, 'config.yaml')}`);
  const doc = YAML.parse(out);
  expect(Object.keys(doc)).toEqual([
    'server',
    'default_backend',
    'unified_flags',
    'backends',
    'session',
    'output',
    'parallel',
    'auth',
    'usage',
    'jobs',
    'cluster',
  ]);
  expect(doc.auth).toEqual({ keys: [] });
  expect(doc.usage).toEqual({ store: 'file', retention_days: 90 });
  expect(doc.server.port).toBe(9001);
  expect(doc.server.default_workdir).toBe(tmp);
  expect(doc.backends.claude.model).toBe('opus');
  expect(doc.backends.claude.system_prompt_mode).toBe('replace');
  expect(doc.backends.codex.system_prompt_mode).toBeUndefined();
  expect(doc.backends.gemini.container_sandbox).toBe(false);
  expect(doc.backends.claude.container_sandbox).toBeUndefined();
  expect('model' in doc.backends.codex).toBe(false);
  expect(doc.api_keys).toBeUndefined();
});

test('no file: the header says so', () => {
  expect(configToYaml(load().config, 0)).toContain('# config file: none (built-in defaults)');
});

test('credential-looking child environment variables are left out and named in a comment', () => {
  const { config } = load(
    'backends:\n  claude:\n    env:\n      ANTHROPIC_API_KEY: sk-ant-secret\n      MY_TOKEN: t0k\n      LANG: C.UTF-8\n',
  );
  const out = configToYaml(config, 0);
  expect(out).not.toContain('sk-ant-secret');
  expect(out).not.toContain('t0k');
  const env = YAML.parse(out).backends.claude.env;
  expect(env).toEqual({ LANG: 'C.UTF-8' });
  expect(out).toContain(
    '# secret values left out: backends.claude.env.ANTHROPIC_API_KEY, backends.claude.env.MY_TOKEN',
  );
});

test('a PostgreSQL URL with a password is left out and named; one without a password is shown', () => {
  const secret = configToYaml(load('cluster:\n  postgres_url: postgres://clinvk:pa55w0rd@db:5432/clinvk\n').config, 0);
  expect(secret).not.toContain('pa55w0rd');
  expect(YAML.parse(secret).cluster).toMatchObject({ postgres_schema: 'public', postgres_pool_size: 10 });
  expect(YAML.parse(secret).cluster).not.toHaveProperty('postgres_url');
  expect(secret).toContain('# secret values left out: cluster.postgres_url');
  const plain = configToYaml(load('cluster:\n  postgres_url: postgres://clinvk@db/clinvk\n').config, 0);
  expect(YAML.parse(plain).cluster.postgres_url).toBe('postgres://clinvk@db/clinvk');
});

test('the output loads back as a configuration file with the same values and no warning', () => {
  const { config } = load(
    'server:\n  port: 9002\n  trusted_proxies: [loopback]\nbackends:\n  codex:\n    model_aliases: {fast: gpt-5.5}\nparallel:\n  max_workers: 7\n',
  );
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-show2-'));
  try {
    fs.writeFileSync(path.join(other, 'config.yaml'), configToYaml(config, 3));
    const again = loadConfig({ flags: {}, env: { CLINVK_HOME: other, HOME: other }, cwd: other });
    expect(again.warnings).toEqual([]);
    expect(again.config.server).toEqual(config.server);
    expect(again.config.backends).toEqual(config.backends);
    expect(again.config.parallel).toEqual(config.parallel);
    expect(again.config.session).toEqual(config.session);
    expect(again.config.unified_flags).toEqual(config.unified_flags);
    expect(again.config.output).toEqual(config.output);
    expect(again.config.default_backend).toEqual(config.default_backend);
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
});
