/**
 * Named API keys in the configuration file (`auth.keys`). Only the SHA-256 of a key is ever in the
 * file (`sha256`), or the name of an environment variable holding the key itself (`env`). Validated
 * with ajv; every problem names the entry by its index and name so an operator finds it at once.
 */
import * as path from 'node:path';
import Ajv, { type ErrorObject, type SchemaObject } from 'ajv';
import { BACKEND_NAMES, type ApprovalMode, type BackendName, type SandboxMode } from '../backends/types';

export const KEY_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const KEY_ROLES = ['user', 'admin'] as const;
export type KeyRole = (typeof KEY_ROLES)[number];
/** The name of every request when authentication is off. Not usable as a key name. */
export const ANONYMOUS_NAME = 'anonymous';

const APPROVAL: readonly ApprovalMode[] = ['default', 'auto', 'none', 'always'];
const SANDBOX: readonly SandboxMode[] = ['default', 'read-only', 'workspace', 'full'];

/** One validated `auth.keys` entry (file shape, snake_case). */
export interface KeyEntry {
  name: string;
  /** Lowercase hex SHA-256 of the key; exactly one of `sha256` and `env`. */
  sha256?: string;
  /** Environment variable holding the key itself. */
  env?: string;
  role: KeyRole;
  /** Backends this key may use; absent → all. */
  backends?: BackendName[];
  /** Executions started per UTC day; absent → unlimited. */
  requests_per_day?: number;
  /** Input + output tokens per UTC day; absent → unlimited. */
  tokens_per_day?: number;
  /** Running + queued executions of this key; absent → unlimited. */
  max_concurrent?: number;
  /** Narrows the server's workdir policy (never widens it); absent → the server's policy. */
  workdir_prefixes?: string[];
  approval_modes?: ApprovalMode[];
  sandbox_modes?: SandboxMode[];
  /** false → any non-empty `extra` is refused. */
  extra_flags: boolean;
  /** RFC 3339; from then on the key is refused. */
  expires_at?: string;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const uniqueList = (items: SchemaObject): SchemaObject => ({ type: 'array', minItems: 1, uniqueItems: true, items });

const ENTRY_SCHEMA: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: KEY_NAME_PATTERN.source },
    sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
    env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    role: { type: 'string', enum: [...KEY_ROLES] },
    backends: uniqueList({ type: 'string', enum: [...BACKEND_NAMES] }),
    requests_per_day: { type: 'integer', minimum: 0 },
    tokens_per_day: { type: 'integer', minimum: 0 },
    max_concurrent: { type: 'integer', minimum: 1 },
    workdir_prefixes: uniqueList({ type: 'string', minLength: 1, format: 'absolute-path' }),
    approval_modes: uniqueList({ type: 'string', enum: [...APPROVAL] }),
    sandbox_modes: uniqueList({ type: 'string', enum: [...SANDBOX] }),
    extra_flags: { type: 'boolean' },
    expires_at: { type: 'string', format: 'rfc3339' },
  },
};

const MESSAGES: Record<string, string> = {
  name: `must match ${KEY_NAME_PATTERN.source}`,
  sha256: 'must be the 64 hexadecimal characters of a SHA-256 (clinvk keys hash)',
  env: 'must be an environment variable name',
  workdir_prefixes: 'must be absolute paths',
  expires_at: 'must be an RFC 3339 timestamp (e.g. 2027-01-31T00:00:00Z)',
};

let validator: ReturnType<Ajv['compile']> | undefined;

function validate(): ReturnType<Ajv['compile']> {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    ajv.addFormat('absolute-path', {
      type: 'string',
      validate: (s: string) => !s.includes('\u0000') && path.isAbsolute(s),
    });
    ajv.addFormat('rfc3339', { type: 'string', validate: (s: string) => RFC3339.test(s) && !isNaN(Date.parse(s)) });
    validator = ajv.compile(ENTRY_SCHEMA);
  }
  return validator;
}

function describe(err: ErrorObject): string {
  const field = err.instancePath.split('/')[1] ?? '';
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return `${String(p.missingProperty)}: is required`;
    case 'additionalProperties':
      return `${String(p.additionalProperty)}: unknown key`;
    case 'type':
      return `${field}: must be ${p.type === 'integer' ? 'an integer' : p.type === 'array' ? 'a list' : `a ${String(p.type)}`}`;
    case 'enum':
      return `${err.instancePath.slice(1).replace(/\/(\d+)$/, '[$1]')}: must be one of ${(p.allowedValues as string[]).join(', ')}`;
    case 'minimum':
      return `${field}: must be >= ${String(p.limit)}`;
    case 'minItems':
      return `${field}: must not be empty`;
    case 'uniqueItems':
      return `${field}: must not repeat an entry`;
    default:
      return `${field}: ${MESSAGES[field] ?? err.message ?? 'is invalid'}`;
  }
}

export interface KeyEntryCheck {
  entries: KeyEntry[];
  /** `config error: auth.keys[i] (name): <field>: <problem>`, one per problem. */
  problems: string[];
}

/**
 * Validates `auth.keys` (the raw list from the file). `env` is where `env:` entries are looked up
 * (only their presence is checked here). Duplicate names, duplicate hashes, both or neither of
 * `sha256`/`env` and a missing variable are problems; hashes are lowercased.
 */
export function checkKeyEntries(raw: unknown, env: NodeJS.ProcessEnv): KeyEntryCheck {
  const problems: string[] = [];
  const entries: KeyEntry[] = [];
  if (raw === undefined) return { entries, problems };
  if (!Array.isArray(raw)) return { entries, problems: ['config error: auth.keys: must be a list'] };
  const names = new Map<string, number>();
  const hashes = new Map<string, string>();
  raw.forEach((item: unknown, i) => {
    const name =
      item && typeof item === 'object' && typeof (item as { name?: unknown }).name === 'string'
        ? (item as { name: string }).name
        : undefined;
    const where = `config error: auth.keys[${i}]${name !== undefined ? ` (${name})` : ''}`;
    const before = problems.length;
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      problems.push(`${where}: must be a mapping`);
      return;
    }
    const v = validate();
    if (!v(item)) {
      const seen = new Set<string>();
      for (const err of v.errors ?? []) {
        const msg = describe(err);
        if (!seen.has(msg)) problems.push(`${where}: ${msg}`);
        seen.add(msg);
      }
    }
    const e = item as Record<string, unknown>;
    if (name !== undefined && name === ANONYMOUS_NAME) problems.push(`${where}: name: "${ANONYMOUS_NAME}" is reserved`);
    if (name !== undefined) {
      const prev = names.get(name);
      if (prev !== undefined) problems.push(`${where}: name: duplicate of auth.keys[${prev}]`);
      else names.set(name, i);
    }
    const hasHash = e.sha256 !== undefined;
    const hasEnv = e.env !== undefined;
    if (hasHash === hasEnv) problems.push(`${where}: exactly one of sha256 and env is required`);
    if (hasEnv && !hasHash && typeof e.env === 'string' && !env[e.env]) {
      problems.push(`${where}: env: environment variable ${e.env} is not set or empty`);
    }
    if (hasHash && typeof e.sha256 === 'string') {
      const h = e.sha256.toLowerCase();
      const other = hashes.get(h);
      if (other !== undefined) problems.push(`${where}: sha256: the same key as ${other}`);
      else hashes.set(h, `auth.keys[${i}]${name !== undefined ? ` (${name})` : ''}`);
    }
    if (problems.length > before) return;
    const entry: KeyEntry = { ...(e as unknown as KeyEntry) };
    entry.role = (e.role as KeyRole | undefined) ?? 'user';
    entry.extra_flags = (e.extra_flags as boolean | undefined) ?? true;
    if (entry.sha256) entry.sha256 = entry.sha256.toLowerCase();
    entries.push(entry);
  });
  return { entries, problems };
}
