import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultsOf, fileSchema, listKeys } from '../../../src/config/derive';
import { defaultConfig } from '../../../src/config/defaults';
import { CONFIG_KEYS, X_ENV } from '../../../src/config/keys';
import { CONFIG_SCHEMA } from '../../../src/config/schema';
import { loadConfig } from '../../../src/config/load';
import { renderConfigExample, renderConfigReference } from '../../../src/config/reference';

const keys = listKeys(CONFIG_KEYS);
const dotted = (p: string[]) => p.join('.');

test('every key has a description', () => {
  const missing = keys.filter((k) => typeof k.schema.description !== 'string' || k.schema.description.length < 10);
  expect(missing.map((k) => dotted(k.path))).toEqual([]);
});

test('every key either has a default or is optional (unset is a state)', () => {
  for (const k of keys) expect([dotted(k.path), k.required]).toEqual([dotted(k.path), k.schema.default !== undefined]);
});

test('the key list covers every section and the backend-specific keys only where they apply', () => {
  const names = keys.map((k) => dotted(k.path));
  expect(names).toContain('server.port');
  expect(names).toContain('backends.claude.system_prompt_mode');
  expect(names).not.toContain('backends.codex.system_prompt_mode');
  expect(names).toContain('backends.gemini.container_sandbox');
  expect(names).not.toContain('backends.claude.container_sandbox');
  expect(names.length).toBeGreaterThan(60);
});

test('the file schema: no required keys, no defaults, no environment annotations', () => {
  const text = JSON.stringify(CONFIG_SCHEMA);
  expect(text).not.toContain('"required":');
  expect(text).not.toContain('"default":');
  expect(text).not.toContain(X_ENV);
  expect(CONFIG_SCHEMA.properties.backends.properties.claude.properties.system_prompt_mode).toBeDefined();
  expect(CONFIG_SCHEMA.properties.backends.properties.codex.properties.system_prompt_mode).toBeUndefined();
  expect(fileSchema(CONFIG_KEYS)).toEqual(CONFIG_SCHEMA);
});

test('defaults come from the declaration, as independent copies', () => {
  const d = defaultConfig();
  expect(d.server.port).toBe(8080);
  expect(d.backends.codex).toEqual({
    enabled: true,
    command: '',
    extra_flags: [],
    env: {},
    env_passthrough: [],
    system_prompt_mode: 'replace',
    container_sandbox: false,
  });
  expect(d.output).toEqual({ format: 'json' });
  const a = defaultsOf(CONFIG_KEYS) as { server: { trusted_proxies: string[] } };
  a.server.trusted_proxies.push('x');
  expect(defaultConfig().server.trusted_proxies).toEqual([]);
});

test('environment variables named in the declaration', () => {
  const env = keys.filter((k) => k.schema[X_ENV]).map((k) => [k.schema[X_ENV], dotted(k.path)]);
  expect(env).toEqual([
    ['CLINVK_HOST', 'server.host'],
    ['CLINVK_PORT', 'server.port'],
    ['CLINVK_API_KEYS_GOPASS_PATH', 'server.api_keys_gopass_path'],
    ['CLINVK_LOG_LEVEL', 'server.log_level'],
    ['CLINVK_BACKEND', 'default_backend'],
    ['CLINVK_CLAUDE_MODEL', 'backends.claude.model'],
    ['CLINVK_CODEX_MODEL', 'backends.codex.model'],
    ['CLINVK_GEMINI_MODEL', 'backends.gemini.model'],
    ['CLINVK_CLUSTER', 'cluster.enabled'],
    ['CLINVK_REDIS_URL', 'cluster.redis_url'],
    ['CLINVK_ROLE', 'cluster.role'],
    ['CLINVK_NODE_ID', 'cluster.node_id'],
    ['CLINVK_POSTGRES_URL', 'cluster.postgres_url'],
    ['CLINVK_POSTGRES_SCHEMA', 'cluster.postgres_schema'],
  ]);
});

describe('generated configuration docs', () => {
  const root = path.join(__dirname, '../../..');
  test('docs/configuration.md and config.example.yaml are up to date (npm run generate)', () => {
    expect(fs.readFileSync(path.join(root, 'docs/configuration.md'), 'utf8')).toBe(renderConfigReference());
    expect(fs.readFileSync(path.join(root, 'config.example.yaml'), 'utf8')).toBe(renderConfigExample());
  });

  test('every key is documented with its default and environment variable', () => {
    const doc = renderConfigReference();
    for (const k of keys) {
      const line = doc.split('\n').find((l) => l.startsWith(`| \`${dotted(k.path)}\` |`));
      expect([dotted(k.path), line]).toEqual([
        dotted(k.path),
        expect.stringContaining(k.schema.description!.slice(0, 20)),
      ]);
      if (k.schema[X_ENV]) expect(line).toContain(`\`${String(k.schema[X_ENV])}\``);
    }
  });

  test('the example file is a valid configuration that yields the defaults when uncommented', () => {
    const uncommented = renderConfigExample()
      .split('\n')
      .filter((l) => !/^\s*## /.test(l) && /^\s*# [a-z_]+:/.test(l))
      .map((l) => l.replace(/^(\s*)# /, '$1'))
      .join('\n');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-example-'));
    try {
      fs.writeFileSync(path.join(dir, 'config.yaml'), uncommented);
      const { config, warnings } = loadConfig({ flags: {}, env: { CLINVK_HOME: dir, HOME: dir }, cwd: dir });
      expect(warnings).toEqual([]);
      const d = defaultConfig();
      expect(config.server).toEqual({ ...d.server, default_workdir: dir });
      expect(config.backends).toEqual(d.backends);
      expect(config.session).toEqual(d.session);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
