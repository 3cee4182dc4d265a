/**
 * JSON Schema of the configuration file and its ajv validator.
 *
 * The schema describes the *file* shape (every key optional; defaults are applied afterwards by
 * `loadConfig`). Unknown keys are not errors: they are reported as warnings naming the key and
 * removed, so configuration files written for the upstream Go clinvoker keep working.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type SchemaObject } from 'ajv';
import { ALLOW_LIST_ENTRY_PATTERN } from '../backends/extra-flags';
import { MODEL_MAX_LENGTH, MODEL_PATTERN } from '../backends/model-and-prompt';
import { BACKEND_NAMES } from '../backends/types';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export const APPROVAL_MODES = ['default', 'auto', 'none', 'always'] as const;
export const SANDBOX_MODES = ['default', 'read-only', 'workspace', 'full'] as const;
export const OUTPUT_FORMATS = ['default', 'text', 'json', 'stream-json'] as const;
export const SYSTEM_PROMPT_MODES = ['replace', 'append'] as const;
/** Names Express's `trust proxy` (proxy-addr) accepts besides addresses and CIDRs. */
export const TRUSTED_PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'] as const;
export const MAX_PROMPT_BYTES_LIMIT = 120_000;
export const GOPASS_PATH_PATTERN = '^(?!-)[A-Za-z0-9/_.-]*$';

/** Message override for `pattern`/`format` failures of the subschema that carries it. */
const MSG = 'x-message';

const str = (extra: SchemaObject = {}): SchemaObject => ({ type: 'string', ...extra });
/** A string without U+0000. */
const text = (): SchemaObject => str({ pattern: '^[^\\u0000]*$', [MSG]: 'must not contain U+0000' });
const bool = (): SchemaObject => ({ type: 'boolean' });
const int = (minimum?: number, maximum?: number): SchemaObject => ({
  type: 'integer',
  ...(minimum === undefined ? {} : { minimum }),
  ...(maximum === undefined ? {} : { maximum }),
});
/** A timeout or interval in whole seconds (≥ 1). */
const secs = (): SchemaObject => int(1);
const list = (items: SchemaObject): SchemaObject => ({ type: 'array', items });
const enumOf = (values: readonly string[]): SchemaObject => ({ type: 'string', enum: [...values] });
const obj = (properties: Record<string, SchemaObject>): SchemaObject => ({
  type: 'object',
  additionalProperties: false,
  properties,
});

const model = (): SchemaObject =>
  str({
    minLength: 1,
    maxLength: MODEL_MAX_LENGTH,
    pattern: MODEL_PATTERN.source,
    [MSG]: `must match the model pattern ${MODEL_PATTERN.source}`,
  });

const absolutePath = (): SchemaObject =>
  str({ minLength: 1, format: 'absolute-path', [MSG]: 'must be an absolute path' });

const backendSchema = (name: string): SchemaObject => {
  const props: Record<string, SchemaObject> = {
    enabled: bool(),
    command: str({
      pattern: '^([^/\\u0000]*|/[^\\u0000]*)$',
      [MSG]: 'must be an executable name (looked up on PATH) or an absolute path',
    }),
    model: model(),
    model_aliases: {
      type: 'object',
      propertyNames: model(),
      additionalProperties: model(),
    },
    approval_mode: enumOf(APPROVAL_MODES),
    sandbox_mode: enumOf(SANDBOX_MODES),
    system_prompt: text(),
    allowed_tools: text(),
    extra_flags: list(text()),
    allowed_extra_flags: list(
      str({
        pattern: ALLOW_LIST_ENTRY_PATTERN,
        [MSG]: 'must be "--flag", "--flag <value>", "-x" or "-x <value>"',
      }),
    ),
    env: {
      type: 'object',
      propertyNames: str({
        pattern: '^[^=\\u0000]+$',
        [MSG]: 'must be a non-empty environment variable name without "=" or U+0000',
      }),
      additionalProperties: text(),
    },
  };
  if (name === 'claude') props.system_prompt_mode = enumOf(SYSTEM_PROMPT_MODES);
  if (name === 'gemini') props.container_sandbox = bool();
  return obj(props);
};

/** The JSON Schema of the YAML configuration file. */
export const CONFIG_SCHEMA: SchemaObject = obj({
  server: obj({
    host: str({ pattern: '^[^\\s/]+$', [MSG]: 'must be a host name or IP address' }),
    port: int(0, 65535),
    request_timeout_secs: secs(),
    read_timeout_secs: secs(),
    write_timeout_secs: secs(),
    idle_timeout_secs: secs(),
    shutdown_timeout_secs: secs(),
    kill_grace_secs: secs(),
    api_keys_gopass_path: str({
      pattern: GOPASS_PATH_PATTERN,
      [MSG]: 'must match ^[A-Za-z0-9/_.-]+$ and not start with "-"',
    }),
    rate_limit_enabled: bool(),
    rate_limit_rps: { type: 'number', minimum: 0 },
    rate_limit_burst: int(),
    rate_limit_cleanup_secs: secs(),
    trusted_proxies: list(
      str({
        format: 'trusted-proxy',
        [MSG]: `must be an IP address, a CIDR range or one of ${TRUSTED_PROXY_NAMES.join(', ')}`,
      }),
    ),
    max_request_body_bytes: int(0),
    cors_allowed_origins: list(
      str({ pattern: '^\\S+$', [MSG]: 'must be an origin (e.g. https://example.com, http://localhost:*) or "*"' }),
    ),
    cors_allowed_headers: list(str({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", [MSG]: 'must be an HTTP header name' })),
    cors_allow_credentials: bool(),
    cors_max_age: int(0),
    allowed_workdir_prefixes: list(absolutePath()),
    blocked_workdir_prefixes: list(absolutePath()),
    default_workdir: str({ format: 'absolute-path-or-empty', [MSG]: 'must be an absolute path or ""' }),
    metrics_enabled: bool(),
    metrics_public: bool(),
    max_concurrent_executions: int(1),
    max_queued_executions: int(0),
    max_prompt_bytes: int(1, MAX_PROMPT_BYTES_LIMIT),
    max_output_bytes: int(1),
    max_output_line_bytes: int(1),
    stream_heartbeat_secs: secs(),
    backend_check_ttl_secs: int(0),
    log_level: enumOf(LOG_LEVELS),
  }),
  default_backend: enumOf(BACKEND_NAMES),
  unified_flags: obj({
    approval_mode: enumOf(APPROVAL_MODES),
    sandbox_mode: enumOf(SANDBOX_MODES),
    verbose: bool(),
    dry_run: bool(),
    max_turns: int(0, 1000),
    max_tokens: int(0),
    command_timeout_secs: int(0),
  }),
  backends: obj(Object.fromEntries(BACKEND_NAMES.map((b) => [b, backendSchema(b)]))),
  session: obj({
    store: enumOf(['file']),
    retention_days: int(0),
    cleanup_interval_secs: secs(),
    default_tags: list(str({ minLength: 1, pattern: '^[^\\u0000]*$', [MSG]: 'must not contain U+0000' })),
    store_token_usage: bool(),
    auto_resume: bool(),
  }),
  output: obj({
    format: enumOf(OUTPUT_FORMATS),
    show_tokens: bool(),
    show_timing: bool(),
    color: { type: ['boolean', 'string'] },
  }),
  parallel: obj({
    max_workers: int(1, 64),
    fail_fast: bool(),
    aggregate_output: bool(),
  }),
});

/** IP address, CIDR (`addr/bits` or IPv4 `addr/netmask`) or an Express `trust proxy` name. */
export function isTrustedProxyEntry(s: string): boolean {
  if ((TRUSTED_PROXY_NAMES as readonly string[]).includes(s)) return true;
  if (net.isIP(s) !== 0) return true;
  const slash = s.indexOf('/');
  if (slash <= 0) return false;
  const addr = s.slice(0, slash);
  const range = s.slice(slash + 1);
  const family = net.isIP(addr);
  if (family === 0) return false;
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128);
  return family === 4 && net.isIPv4(range) && isContiguousNetmask(range);
}

function isContiguousNetmask(mask: string): boolean {
  const bits = mask
    .split('.')
    .map((o) => Number(o).toString(2).padStart(8, '0'))
    .join('');
  return /^1*0*$/.test(bits);
}

function isAbsolutePath(s: string): boolean {
  return s.length > 0 && !s.includes('\u0000') && path.isAbsolute(s);
}

let validator: ReturnType<Ajv['compile']> | undefined;

function getValidator(): ReturnType<Ajv['compile']> {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    ajv.addKeyword(MSG);
    ajv.addFormat('absolute-path', { type: 'string', validate: isAbsolutePath });
    ajv.addFormat('absolute-path-or-empty', { type: 'string', validate: (s: string) => s === '' || isAbsolutePath(s) });
    ajv.addFormat('trusted-proxy', { type: 'string', validate: isTrustedProxyEntry });
    validator = ajv.compile(CONFIG_SCHEMA);
  }
  return validator;
}

export interface SchemaCheckResult {
  /** `config error: <key>: <message> (got <value>)`, one per violation. */
  problems: string[];
  /** `config warning: <key>: unknown key (ignored)`, one per unknown key. */
  warnings: string[];
}

/**
 * Validates a configuration document (the parsed file with environment and flag overrides already
 * applied). Unknown keys are reported as warnings and **deleted from `doc`**. `labels` maps a dotted
 * key (`server.port`) to the name of the source that set it (`CLINVK_PORT`, `--port`); problems with
 * such a value name that source instead of the key.
 */
export function checkConfigDocument(
  doc: Record<string, unknown>,
  labels: ReadonlyMap<string, string> = new Map(),
): SchemaCheckResult {
  const validate = getValidator();
  const problems: string[] = [];
  const warnings: string[] = [];
  if (validate(doc)) return { problems, warnings };
  const unknown: Array<{ parent: Record<string, unknown>; key: string }> = [];
  /** One problem per value: ajv may report e.g. both `type` and `enum` for the same value. */
  const reported = new Set<string>();
  for (const err of validate.errors ?? []) {
    const segments = pointerSegments(err.instancePath);
    const where = displayPath(doc, segments);
    if (err.keyword === 'additionalProperties' && err.parentSchema?.additionalProperties === false) {
      const key = String((err.params as { additionalProperty: string }).additionalProperty);
      warnings.push(`config warning: ${joinKey(where, key)}: unknown key (ignored)`);
      unknown.push({ parent: err.data as Record<string, unknown>, key });
      continue;
    }
    if (err.keyword === 'propertyNames') continue; // reported through the inner error
    const propertyName = (err as ErrorObject & { propertyName?: string }).propertyName;
    if (propertyName !== undefined) {
      problems.push(`config error: ${where}: invalid key ${JSON.stringify(propertyName)}: ${describe(err)}`);
      continue;
    }
    if (reported.has(where)) continue;
    reported.add(where);
    const label = labels.get(where) ?? where;
    problems.push(`config error: ${label || '(top level)'}: ${describe(err)} (got ${showValue(err.data)})`);
  }
  for (const { parent, key } of unknown) delete parent[key];
  return { problems: dedupe(problems), warnings: dedupe(warnings) };
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}

function describe(err: ErrorObject): string {
  const parent = (err.parentSchema ?? {}) as Record<string, unknown>;
  const custom = typeof parent[MSG] === 'string' ? (parent[MSG] as string) : undefined;
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'type': {
      const types = Array.isArray(p.type) ? (p.type as string[]) : String(p.type).split(',');
      return `must be ${types.map(typeName).join(' or ')}`;
    }
    case 'minimum':
      return `must be >= ${String(p.limit)}`;
    case 'maximum':
      return `must be <= ${String(p.limit)}`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters`;
    case 'maxLength':
      return `must be at most ${String(p.limit)} characters`;
    case 'pattern':
      return custom ?? `must match ${String(p.pattern)}`;
    case 'format':
      return custom ?? `must be a valid ${String(p.format)}`;
    default:
      return err.message ?? 'is invalid';
  }
}

function typeName(t: string): string {
  switch (t) {
    case 'integer':
      return 'an integer';
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    default:
      return `a ${t}`;
  }
}

/** Renders a value for `(got …)`: JSON, truncated. */
export function showValue(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `["server","trusted_proxies","0"]` → `server.trusted_proxies[0]` (array-aware). */
function displayPath(doc: unknown, segments: string[]): string {
  let out = '';
  let cur: unknown = doc;
  for (const seg of segments) {
    if (Array.isArray(cur)) {
      out += `[${seg}]`;
      cur = cur[Number(seg)];
    } else {
      out = joinKey(out, seg);
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

function joinKey(prefix: string, key: string): string {
  const part = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
  return prefix ? `${prefix}.${part}` : part;
}
