/**
 * The environment of a CLI child process is an allow-list (see docs/security.md, "Child
 * environment"): a base set every CLI needs, the backend's own variable prefixes, the variables the
 * operator names in `backends.<b>.env_passthrough`, and the values of `backends.<b>.env`. Nothing
 * named `CLINVK_*` ever reaches a child, and one backend never sees another backend's keys unless
 * the operator lists them by name.
 */
import type { BackendName } from '../backends/types';

const BASE_NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'TZ',
  'TERM',
  'TMPDIR',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
]);
const BASE_PREFIXES = ['LC_'];

/** Each backend's own variables. */
export const BACKEND_ENV_PREFIXES: Record<BackendName, readonly string[]> = {
  claude: ['ANTHROPIC_', 'CLAUDE_', 'DISABLE_', 'CLOUD_ML_'],
  codex: ['OPENAI_', 'CODEX_', 'AZURE_OPENAI_'],
  gemini: ['GEMINI_', 'GOOGLE_'],
};

/** claude on Amazon Bedrock reads the AWS_* variables; they pass only when Bedrock is switched on. */
function bedrockOn(env: NodeJS.ProcessEnv, values: Readonly<Record<string, string>> = {}): boolean {
  const v = values.CLAUDE_CODE_USE_BEDROCK ?? env.CLAUDE_CODE_USE_BEDROCK;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export function isClinvkVariable(name: string): boolean {
  return name.toUpperCase().startsWith('CLINVK_');
}

export interface ChildEnvOptions {
  backend: BackendName;
  /** The server's environment. */
  serverEnv: NodeJS.ProcessEnv;
  /** `backends.<b>.env` (values set by the operator). */
  values: Readonly<Record<string, string>>;
  /** `backends.<b>.env_passthrough` (names taken from the server's environment). */
  passthrough: readonly string[];
  /** The agent user's HOME/USER/LOGNAME (applied before `values`, so the operator's values win). */
  identity?: Readonly<Record<string, string>>;
  /** Applied last (TRACEPARENT). */
  overrides?: Readonly<Record<string, string>>;
}

/** Whether `name` from the server's environment passes to `backend`'s child. */
export function passesThrough(
  backend: BackendName,
  name: string,
  serverEnv: NodeJS.ProcessEnv,
  passthrough: readonly string[],
  values: Readonly<Record<string, string>> = {},
): boolean {
  if (isClinvkVariable(name)) return false;
  if (passthrough.includes(name)) return true;
  if (BASE_NAMES.has(name) || BASE_PREFIXES.some((p) => name.startsWith(p))) return true;
  if (BACKEND_ENV_PREFIXES[backend].some((p) => name.startsWith(p))) return true;
  return backend === 'claude' && name.startsWith('AWS_') && bedrockOn(serverEnv, values);
}

/** The environment of one child process. */
export function childEnv(o: ChildEnvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(o.serverEnv)) {
    if (value !== undefined && passesThrough(o.backend, name, o.serverEnv, o.passthrough, o.values)) env[name] = value;
  }
  for (const [name, value] of Object.entries(o.identity ?? {})) env[name] = value;
  for (const [name, value] of Object.entries(o.values)) if (!isClinvkVariable(name)) env[name] = value;
  for (const [name, value] of Object.entries(o.overrides ?? {})) if (!isClinvkVariable(name)) env[name] = value;
  return env;
}

/** The CLIs' state directories for a child environment (protected from being a workdir or its parent). */
export function cliStateDirs(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME;
  const out: string[] = [];
  if (env.CLAUDE_CONFIG_DIR) out.push(env.CLAUDE_CONFIG_DIR);
  if (env.CODEX_HOME) out.push(env.CODEX_HOME);
  if (home)
    out.push(
      `${home.replace(/\/+$/, '')}/.claude`,
      `${home.replace(/\/+$/, '')}/.codex`,
      `${home.replace(/\/+$/, '')}/.gemini`,
    );
  return out.filter((d) => d.startsWith('/'));
}
