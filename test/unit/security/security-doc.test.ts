/**
 * docs/security.md is the operator's guide to the hardening: the threat model, a hardened example
 * configuration that the loader accepts, and the reverse-proxy setup; every setting it names exists.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listKeys } from '../../../src/config/derive';
import { CONFIG_KEYS } from '../../../src/config/keys';
import { loadConfig } from '../../../src/config/load';

const root = path.join(__dirname, '../../..');
const doc = () => fs.readFileSync(path.join(root, 'docs/security.md'), 'utf8');

test('docs/security.md has the threat model, a hardened configuration and the reverse proxy with TLS', () => {
  const headings = doc()
    .split('\n')
    .filter((l) => l.startsWith('## '));
  expect(headings).toEqual(['## Threat model', '## Hardened configuration', '## Behind a reverse proxy with TLS']);
  const model = doc().split('## Hardened configuration')[0]!;
  for (const topic of [
    'Who can call clinvk',
    'What an agent can do',
    'Working directories',
    'Child environment',
    'Agent user',
  ]) {
    expect([topic, model.includes(topic)]).toEqual([topic, true]);
  }
});

test('the hardened example configuration loads, and every setting the document names exists', () => {
  const yaml = /## Hardened configuration\n```yaml\n([\s\S]*?)```/.exec(doc())![1]!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-secdoc-'));
  try {
    const file = path.join(dir, 'config.yaml');
    fs.writeFileSync(file, yaml);
    const { config, warnings } = loadConfig({
      flags: { config: file },
      env: { CLINVK_HOME: dir, HOME: dir },
      cwd: dir,
    });
    expect(warnings).toEqual([]);
    expect(config.server.agent_user).toBe('clinvk-agent');
    expect(config.backends.codex.max_sandbox_mode).toBe('workspace');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const known = new Set(
    listKeys(CONFIG_KEYS).map((k) => k.path.join('.').replace(/^backends\.(claude|codex|gemini)\./, 'backends.<b>.')),
  );
  const named = [...doc().matchAll(/`((?:server|backends\.<b>|auth|jobs)\.[a-z_]+)`/g)].map((m) => m[1]!);
  expect(named.length).toBeGreaterThan(5);
  expect(named.filter((k) => !known.has(k))).toEqual([]);
});
