/**
 * `clinvk config show`: the effective configuration as YAML with the file's snake_case keys, in the
 * order of their declaration. The output is itself a valid configuration file: secrets are left out
 * (not renamed) — API keys never come from the file anyway, so only their number is stated in a
 * comment; child environment variables whose names look like credentials are omitted and named in
 * a comment.
 */
import YAML from 'yaml';
import { fileSchema, type SchemaNode } from './derive';
import { CONFIG_KEYS } from './keys';
import type { Config } from './types';

/** Environment variable names whose values are treated as secrets in `config show`. */
const SECRET_ENV_NAME = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH/i;

function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return true; // unparsable: do not risk showing it
  }
}

export function redactedKeys(count: number): string {
  return `<redacted: ${count} keys>`;
}

/** Keeps the declared keys of `value` (recursively through sections), in declaration order. */
function project(value: unknown, schema: SchemaNode): unknown {
  if (!schema.properties || value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(schema.properties)) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = project(v, child);
  }
  return out;
}

export function configToYaml(config: Config, apiKeyCount: number): string {
  const doc = project(config, fileSchema(CONFIG_KEYS)) as {
    backends: Record<string, { env?: Record<string, string> }>;
  };
  const omitted: string[] = [];
  for (const [name, backend] of Object.entries(doc.backends)) {
    if (!backend.env) continue;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(backend.env)) {
      if (SECRET_ENV_NAME.test(k)) omitted.push(`backends.${name}.env.${k}`);
      else env[k] = v;
    }
    backend.env = env;
  }
  // A database URL with a password is left out like the other secrets.
  const cluster = (doc as { cluster?: { postgres_url?: string } }).cluster;
  if (cluster?.postgres_url !== undefined && urlHasPassword(cluster.postgres_url)) {
    delete cluster.postgres_url;
    omitted.push('cluster.postgres_url');
  }
  const header = [
    '# clinvk effective configuration (built-in defaults < file < environment < flags)',
    `# home: ${config.home}`,
    `# config file: ${config.config_file ?? 'none (built-in defaults)'}`,
    `# API keys: ${redactedKeys(apiKeyCount)} (from CLINVK_API_KEYS or gopass, never from this file)`,
    ...(omitted.length > 0 ? [`# secret values left out: ${omitted.join(', ')}`] : []),
  ].join('\n');
  return `${header}\n${YAML.stringify(doc, { lineWidth: 0 })}`;
}
