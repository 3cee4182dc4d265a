/**
 * JSON Schema of the configuration file (derived from `keys.ts`) and its ajv validator.
 *
 * The schema describes the *file* shape (every key optional; defaults are applied afterwards by
 * `loadConfig`). Unknown keys are not errors: they are reported as warnings naming the key and
 * removed, so configuration files written for the upstream Go clinvoker keep working.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type SchemaObject } from 'ajv';
import { fileSchema } from './derive';
import { CONFIG_KEYS, TRUSTED_PROXY_NAMES, X_MESSAGE } from './keys';

export {
  APPROVAL_MODES,
  GOPASS_PATH_PATTERN,
  LOG_LEVELS,
  MAX_PROMPT_BYTES_LIMIT,
  OUTPUT_FORMATS,
  SANDBOX_MODES,
  SYSTEM_PROMPT_MODES,
  TRUSTED_PROXY_NAMES,
} from './keys';

/** Message override for `pattern`/`format` failures of the subschema that carries it. */
const MSG = X_MESSAGE;

/** The JSON Schema of the YAML configuration file, derived from the key declaration in `keys.ts`. */
export const CONFIG_SCHEMA: SchemaObject = fileSchema(CONFIG_KEYS);

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
