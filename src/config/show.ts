/**
 * `clinvk config show`: the effective configuration as YAML with the file's snake_case
 * keys. API keys are never printed, only their number; values of child environment variables whose
 * names look like credentials are redacted as well.
 */
import YAML from 'yaml';
import { BACKEND_NAMES } from '../backends/types';
import type { Config } from './types';

/** Environment variable names whose values are treated as secrets in `config show`. */
const SECRET_ENV_NAME = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH/i;

export function redactedKeys(count: number): string {
  return `<redacted: ${count} keys>`;
}

export function configToYaml(config: Config, apiKeyCount: number): string {
  const server: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config.server)) {
    if (k === 'api_keys_gopass_path') server.api_keys = redactedKeys(apiKeyCount);
    server[k] = v;
  }
  const backends: Record<string, unknown> = {};
  for (const b of BACKEND_NAMES) {
    const bc = config.backends[b];
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(bc.env)) env[name] = SECRET_ENV_NAME.test(name) ? '<redacted>' : value;
    const out: Record<string, unknown> = { ...bc, env };
    if (b !== 'claude') delete out.system_prompt_mode;
    if (b !== 'gemini') delete out.container_sandbox;
    backends[b] = out;
  }
  const doc = {
    server,
    default_backend: config.default_backend,
    unified_flags: config.unified_flags,
    backends,
    session: config.session,
    output: config.output,
    parallel: config.parallel,
  };
  const header = [
    '# clinvk effective configuration (built-in defaults < file < environment < flags)',
    `# home: ${config.home}`,
    `# config file: ${config.config_file ?? 'none (built-in defaults)'}`,
  ].join('\n');
  return `${header}\n${YAML.stringify(doc, { lineWidth: 0 })}`;
}
