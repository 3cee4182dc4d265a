/**
 * Configuration loading: YAML file → environment overrides → command-line flags,
 * validated against the JSON Schema, merged over the built-in defaults and deeply frozen.
 *
 * Read once at start-up; nothing here is consulted again later (no hot reload).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { checkKeyEntries } from '../auth/key-config';
import { CONFIG_FILE_NAME, DEFAULT_HOME_DIR_NAME, defaultConfig } from './defaults';
import { fileSchema, listKeys, type SchemaNode } from './derive';
import { CONFIG_KEYS, X_ENV } from './keys';
import { checkConfigDocument, showValue } from './schema';
import type { Config } from './types';

/** Invalid configuration: one `config error: <key>: <message>` line per problem (exit code 2). */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface ConfigFlags {
  config?: string;
  host?: string;
  port?: number | string;
  logLevel?: string;
  /** `serve --role`: what this cluster node does. */
  role?: string;
}

export interface LoadConfigInput {
  flags: ConfigFlags;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface LoadConfigResult {
  config: Config;
  /** `config warning: …` lines (unknown keys, YAML warnings); to be logged at `warn`. */
  warnings: string[];
}

type Doc = Record<string, unknown>;

function isMapping(v: unknown): v is Doc {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Non-empty environment value, or undefined (an empty variable counts as unset). */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  if (p === '~' || p.startsWith('~/')) return path.join(env.HOME || os.homedir(), p.slice(1));
  return p;
}

/** `$CLINVK_HOME` (default `~/.clinvk`), absolute. */
export function resolveHome(env: NodeJS.ProcessEnv, cwd: string): string {
  const configured = envValue(env, 'CLINVK_HOME');
  if (configured !== undefined) return path.resolve(cwd, expandHome(configured, env));
  return path.join(env.HOME || os.homedir(), DEFAULT_HOME_DIR_NAME);
}

/** Recursively freezes plain objects and arrays; returns its argument. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** A frozen copy of `config` with the resolved API keys filled in. */
export function withApiKeys(config: Config, keys: readonly string[]): Config {
  return deepFreeze({ ...config, api_keys: [...keys] });
}

/** Removes `null` mapping values (YAML `key:` with nothing after it means "not set"). */
function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (isMapping(v)) {
    const out: Doc = {};
    for (const [k, val] of Object.entries(v)) if (val !== null) out[k] = stripNulls(val);
    return out;
  }
  return v;
}

/** Sets `doc[a][b]…` creating missing mappings; false when a parent exists but is not a mapping. */
function setPath(doc: Doc, keys: string[], value: unknown): boolean {
  let cur: Doc = doc;
  for (const k of keys.slice(0, -1)) {
    if (cur[k] === undefined) cur[k] = {};
    const next = cur[k];
    if (!isMapping(next)) return false;
    cur = next;
  }
  cur[keys[keys.length - 1]] = value;
  return true;
}

interface FileSource {
  file: string;
  /** `--config` / `CLINVK_CONFIG` when named explicitly; undefined for the default location. */
  label?: string;
}

function chooseFile(flags: ConfigFlags, env: NodeJS.ProcessEnv, cwd: string, home: string): FileSource {
  if (flags.config !== undefined && flags.config !== '') {
    return { file: path.resolve(cwd, expandHome(flags.config, env)), label: '--config' };
  }
  const fromEnv = envValue(env, 'CLINVK_CONFIG');
  if (fromEnv !== undefined) return { file: path.resolve(cwd, expandHome(fromEnv, env)), label: 'CLINVK_CONFIG' };
  return { file: path.join(home, CONFIG_FILE_NAME) };
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim();
}

interface ReadResult {
  doc: Doc;
  read: boolean;
}

function readFile(src: FileSource, problems: string[], warnings: string[]): ReadResult {
  let text: string;
  try {
    text = fs.readFileSync(src.file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' && src.label === undefined) return { doc: {}, read: false };
    const what = src.label ?? src.file;
    if (e.code === 'ENOENT') problems.push(`config error: ${what}: config file not found: ${src.file}`);
    else if (e.code === 'EISDIR') problems.push(`config error: ${what}: config file is a directory: ${src.file}`);
    else problems.push(`config error: ${what}: cannot read config file ${src.file}: ${firstLine(e.message)}`);
    return { doc: {}, read: false };
  }
  const parsed = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (parsed.errors.length > 0) {
    for (const e of parsed.errors) problems.push(`config error: ${src.file}: invalid YAML: ${firstLine(e.message)}`);
    return { doc: {}, read: true };
  }
  for (const w of parsed.warnings) warnings.push(`config warning: ${src.file}: ${firstLine(w.message)}`);
  let value: unknown;
  try {
    value = parsed.toJS({ maxAliasCount: 100 });
  } catch (err) {
    problems.push(`config error: ${src.file}: invalid YAML: ${firstLine((err as Error).message)}`);
    return { doc: {}, read: true };
  }
  if (value === null || value === undefined) return { doc: {}, read: true };
  if (!isMapping(value)) {
    problems.push(`config error: ${src.file}: the top level must be a mapping (got ${showValue(value)})`);
    return { doc: {}, read: true };
  }
  return { doc: stripNulls(value) as Doc, read: true };
}

interface EnvBinding {
  name: string;
  path: string[];
  /** Integer keys take digits only (`CLINVK_PORT=abc` → "must be an integer"). */
  integer: boolean;
  /** Boolean keys take true/false/1/0/yes/no (anything else is left for the schema to refuse). */
  boolean: boolean;
  normalise?: (raw: string) => string;
}

const ENV_BOOLEANS: Record<string, boolean> = { true: true, '1': true, yes: true, false: false, '0': false, no: false };

/** Environment values that are compared case-insensitively. */
const ENV_NORMALISE: Record<string, (raw: string) => string> = {
  CLINVK_LOG_LEVEL: (raw) => raw.trim().toLowerCase(),
};

const ENV_BINDINGS: EnvBinding[] = listKeys(CONFIG_KEYS).flatMap((k) => {
  const name = k.schema[X_ENV];
  if (typeof name !== 'string') return [];
  return [
    {
      name,
      path: k.path,
      integer: k.schema.type === 'integer',
      boolean: k.schema.type === 'boolean',
      normalise: ENV_NORMALISE[name],
    },
  ];
});

/** Parses a port given as text; numbers pass through (the schema checks the range). */
function parsePort(v: number | string, label: string, problems: string[]): number | undefined {
  if (typeof v === 'number') return v;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t);
  problems.push(`config error: ${label}: must be an integer (got ${JSON.stringify(v)})`);
  return undefined;
}

/**
 * Loads the effective configuration. Precedence: flag > environment > file > built-in default.
 * Throws `ConfigError` listing every problem found.
 */
export function loadConfig(input: LoadConfigInput): LoadConfigResult {
  const { flags, env, cwd } = input;
  const problems: string[] = [];
  const warnings: string[] = [];
  const home = resolveHome(env, cwd);
  const src = chooseFile(flags, env, cwd, home);
  const { doc, read } = readFile(src, problems, warnings);

  /** Dotted key → the environment variable or flag that set it (for messages). */
  const labels = new Map<string, string>();
  const override = (keys: string[], value: unknown, label: string): void => {
    if (value === undefined) return;
    if (setPath(doc, keys, value)) labels.set(keys.join('.'), label);
  };

  // Environment: every key declared with an `x-env` variable (see keys.ts).
  for (const binding of ENV_BINDINGS) {
    const raw = envValue(env, binding.name);
    if (raw === undefined) continue;
    const value = binding.integer
      ? parsePort(raw, binding.name, problems)
      : binding.boolean
        ? (ENV_BOOLEANS[raw.trim().toLowerCase()] ?? raw)
        : (binding.normalise?.(raw) ?? raw);
    override(binding.path, value, binding.name);
  }

  // Command-line flags.
  if (flags.host !== undefined) override(['server', 'host'], flags.host, '--host');
  if (flags.port !== undefined) override(['server', 'port'], parsePort(flags.port, '--port', problems), '--port');
  if (flags.logLevel !== undefined)
    override(['server', 'log_level'], flags.logLevel.trim().toLowerCase(), '--log-level');
  if (flags.role !== undefined) override(['cluster', 'role'], flags.role.trim().toLowerCase(), '--role');

  const checked = checkConfigDocument(doc, labels);
  problems.push(...checked.problems);
  const keys = checkKeyEntries(isMapping(doc.auth) ? doc.auth.keys : undefined, env);
  problems.push(...keys.problems);
  warnings.push(...checked.warnings.map((w) => (read ? `${w} in ${src.file}` : w)));
  if (problems.length > 0) throw new ConfigError(problems);

  const config = merge(doc);
  config.home = home;
  if (read) config.config_file = src.file;
  if (config.server.default_workdir === '') config.server.default_workdir = path.resolve(cwd);
  const gopass = config.server.api_keys_gopass_path;
  if (gopass !== '') config.api_keys_gopass_path = gopass;
  config.api_keys = [];
  config.auth = { keys: keys.entries };

  // Invalid combinations.
  if (config.server.cors_allow_credentials && config.server.cors_allowed_origins.includes('*')) {
    problems.push(
      'config error: server.cors_allowed_origins: a lone "*" origin cannot be combined with server.cors_allow_credentials: true',
    );
  }
  if (config.cluster.enabled && !config.cluster.redis_url) {
    problems.push('config error: cluster.enabled: cluster mode needs cluster.redis_url (or CLINVK_REDIS_URL)');
  }
  storeChoices(config, doc, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  return { config: deepFreeze(config), warnings };
}

const STORE_SECTIONS = ['session', 'jobs', 'usage'] as const;

/**
 * The session, job and usage stores. A cluster keeps them in PostgreSQL, which every node reaches:
 * there they default to `postgres`, and `file` (each node its own records) is refused. Without a
 * cluster they default to `file`. Every `postgres` store needs the database's URL.
 */
function storeChoices(config: Config, doc: Doc, problems: string[]): void {
  const explicit = (section: string): boolean => isMapping(doc[section]) && doc[section].store !== undefined;
  const { enabled, postgres_url: url } = config.cluster;
  if (enabled && url === undefined) {
    problems.push('config error: cluster.enabled: cluster mode needs cluster.postgres_url (or CLINVK_POSTGRES_URL)');
  }
  for (const section of STORE_SECTIONS) {
    const chosen = config[section];
    if (enabled && !explicit(section)) chosen.store = 'postgres';
    if (enabled && chosen.store === 'file') {
      problems.push(
        `config error: ${section}.store: a cluster keeps its records in PostgreSQL: file is not allowed with cluster.enabled (use postgres or leave it unset)`,
      );
    } else if (!enabled && chosen.store === 'postgres' && url === undefined) {
      problems.push(
        `config error: ${section}.store: postgres needs cluster.postgres_url (or CLINVK_POSTGRES_URL) to be set`,
      );
    }
  }
}

/**
 * Overlays a validated file document (unknown keys already removed) on the defaults: declared
 * sections merge key by key, every other value (lists, maps such as `env`) replaces the default.
 */
function merge(doc: Doc): Config {
  const config = defaultConfig();
  const overlay = (target: Doc, source: Doc, schema: SchemaNode): void => {
    for (const [key, value] of Object.entries(source)) {
      const child = schema.properties?.[key];
      if (child?.properties && isMapping(value) && isMapping(target[key])) overlay(target[key] as Doc, value, child);
      else target[key] = value;
    }
  };
  overlay(config as unknown as Doc, doc, CONFIG_FILE_SCHEMA);
  return config;
}

const CONFIG_FILE_SCHEMA = fileSchema(CONFIG_KEYS);
