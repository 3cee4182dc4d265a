/**
 * Where unnamed API keys come from, first non-empty source wins: `CLINVK_API_KEYS` (comma-separated),
 * the file named by `CLINVK_API_KEYS_FILE` (refused when group/world-readable), or gopass. Also the
 * credential extraction from request headers and the periodic gopass refresh.
 * Keys never appear in errors or log lines produced here.
 */
import * as fs from 'node:fs';

import spawn from 'cross-spawn';

export const GOPASS_PATH_PATTERN = /^[A-Za-z0-9/_.-]+$/;
export const DEFAULT_GOPASS_TIMEOUT_MS = 5000;
export const DEFAULT_KEY_REFRESH_MS = 5 * 60 * 1000;
/** gopass output larger than this is refused (a key list is tiny). */
const MAX_GOPASS_OUTPUT_BYTES = 1024 * 1024;

export interface KeySourceOptions {
  env: NodeJS.ProcessEnv;
  /** `server.api_keys_gopass_path` (used when `CLINVK_API_KEYS_GOPASS_PATH` is unset/empty). */
  gopassPath?: string;
  /** gopass time limit (default 5 s); the process group is killed when it passes. */
  timeoutMs?: number;
}

export interface WarnLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** Comma-separated list → trimmed, non-empty entries. */
export function parseKeyList(raw: string | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

/** The configured gopass path (env first, then config), or undefined when none is configured. */
export function gopassPathFrom(opts: { env: NodeJS.ProcessEnv; gopassPath?: string }): string | undefined {
  const fromEnv = opts.env.CLINVK_API_KEYS_GOPASS_PATH?.trim();
  if (fromEnv) return fromEnv;
  const fromConfig = opts.gopassPath?.trim();
  return fromConfig ? fromConfig : undefined;
}

/** Throws when the gopass path is not acceptable (a leading `-` would be a flag). */
export function assertGopassPath(p: string): void {
  if (!GOPASS_PATH_PATTERN.test(p) || p.startsWith('-')) {
    throw new Error(`API keys: invalid gopass path "${p}" (must match ^[A-Za-z0-9/_.-]+$ and not start with "-")`);
  }
}

/**
 * Runs `gopass show --password <path>` (cross-spawn, no shell, stdin ignored) and returns its
 * stdout. Rejects on spawn failure, non-zero exit, signal, oversized output or timeout.
 */
function runGopass(gopassPath: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';

    const child = spawn('gopass', ['show', '--password', gopassPath], {
      env,
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group, so a timeout kills gopass and whatever it started (gpg, pinentry…).
      detached: true,
      windowsHide: true,
    });

    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        try {
          child.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };

    const finish = (err: Error | undefined, out?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(out ?? '');
    };

    const timer = setTimeout(() => {
      killGroup();
      finish(new Error(`API keys: gopass did not answer within ${timeoutMs} ms (path "${gopassPath}")`));
    }, timeoutMs);
    timer.unref?.();

    child.stdout?.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_GOPASS_OUTPUT_BYTES) {
        killGroup();
        finish(new Error(`API keys: gopass output for "${gopassPath}" is too large`));
        return;
      }
      chunks.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 2048) stderr += chunk.toString('utf8');
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      killGroup();
      finish(new Error(`API keys: cannot run gopass (${e.code ?? e.message})`));
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        finish(undefined, Buffer.concat(chunks).toString('utf8'));
        return;
      }
      const firstLine = stderr
        .split(/\r?\n/)
        .find((l) => l.trim() !== '')
        ?.trim()
        .slice(0, 200);
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      finish(
        new Error(`API keys: gopass show failed for "${gopassPath}" (${how})${firstLine ? `: ${firstLine}` : ''}`),
      );
    });
  });
}

/**
 * Reads the key list stored at a gopass path. Fails closed: an invalid path, a failing or slow
 * gopass, or an entry without any key all throw.
 */
export async function readGopassKeys(
  gopassPath: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number = DEFAULT_GOPASS_TIMEOUT_MS,
): Promise<string[]> {
  assertGopassPath(gopassPath);
  const out = await runGopass(gopassPath, env, timeoutMs);
  const keys = parseKeyList(out);
  if (keys.length === 0) {
    throw new Error(
      `API keys: gopass path "${gopassPath}" yielded no key (empty entry); refusing to start without authentication`,
    );
  }
  return keys;
}

/** Which source the unnamed keys come from (the first that is configured). */
export type KeySourceKind = 'env' | 'file' | 'gopass' | 'none';

export function keySourceOf(opts: { env: NodeJS.ProcessEnv; gopassPath?: string }): KeySourceKind {
  if (parseKeyList(opts.env.CLINVK_API_KEYS).length > 0) return 'env';
  if (opts.env.CLINVK_API_KEYS_FILE?.trim()) return 'file';
  return gopassPathFrom(opts) === undefined ? 'none' : 'gopass';
}

/** Key file lines: comma- or newline-separated keys; blank lines and lines starting with `#` are skipped. */
export function parseKeyFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .filter((line) => !line.trim().startsWith('#'))
    .flatMap((line) => parseKeyList(line));
}

/**
 * Reads `CLINVK_API_KEYS_FILE`. Keeping keys in a file rather than in the server's environment means
 * a same-user child process cannot read them from `/proc/<pid>/environ`. The file must not be
 * readable by group or others, and must yield at least one key.
 */
export function readKeyFile(file: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new Error(
      `API keys: cannot read CLINVK_API_KEYS_FILE ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: e },
    );
  }
  if (!st.isFile()) throw new Error(`API keys: CLINVK_API_KEYS_FILE ${file} is not a regular file`);
  if ((st.mode & 0o077) !== 0) {
    throw new Error(
      `API keys: CLINVK_API_KEYS_FILE ${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`,
    );
  }
  const keys = parseKeyFile(fs.readFileSync(file, 'utf8'));
  if (keys.length === 0) throw new Error(`API keys: CLINVK_API_KEYS_FILE ${file} holds no key`);
  return keys;
}

/**
 * Resolves the unnamed API keys: `CLINVK_API_KEYS` when it yields at least one key; else the file
 * named by `CLINVK_API_KEYS_FILE`; else the gopass path (`CLINVK_API_KEYS_GOPASS_PATH`, else
 * `opts.gopassPath`); else `[]`. A configured source that yields nothing fails (fail closed).
 */
export async function resolveApiKeys(opts: KeySourceOptions): Promise<string[]> {
  switch (keySourceOf(opts)) {
    case 'env':
      return parseKeyList(opts.env.CLINVK_API_KEYS);
    case 'file':
      return readKeyFile(opts.env.CLINVK_API_KEYS_FILE!.trim());
    case 'gopass':
      return readGopassKeys(gopassPathFrom(opts)!, opts.env, opts.timeoutMs ?? DEFAULT_GOPASS_TIMEOUT_MS);
    default:
      return [];
  }
}

export type Credential = { kind: 'key'; value: string } | { kind: 'missing' } | { kind: 'unsupported-scheme' };

type HeaderBag = { [k: string]: string | string[] | undefined };

function header(headers: HeaderBag, name: string): string | undefined {
  let v = headers[name];
  if (v === undefined) {
    const hit = Object.keys(headers).find((k) => k.toLowerCase() === name);
    v = hit === undefined ? undefined : headers[hit];
  }
  if (v === undefined) return undefined;
  // Node joins repeated unknown headers with ", "; do the same for an array (never picks one).
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * The credential of a request: `X-Api-Key` when present and non-empty (it alone is
 * checked); otherwise `Authorization: Bearer <key>` (scheme case-insensitive). Another scheme →
 * `unsupported-scheme`; an absent header or an empty value → `missing`.
 */
export function extractCredential(headers: HeaderBag): Credential {
  const apiKey = header(headers, 'x-api-key')?.trim();
  if (apiKey) return { kind: 'key', value: apiKey };

  const auth = header(headers, 'authorization')?.trim();
  if (!auth) return { kind: 'missing' };
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(auth);
  if (!m) return { kind: 'missing' };
  if (m[1].toLowerCase() !== 'bearer') return { kind: 'unsupported-scheme' };
  const token = (m[2] ?? '').trim();
  return token ? { kind: 'key', value: token } : { kind: 'missing' };
}

export interface KeyRefreshOptions {
  env: NodeJS.ProcessEnv;
  /** `server.api_keys_gopass_path`. */
  gopassPath?: string;
  /** Default 5 minutes. */
  intervalMs?: number;
  /** gopass time limit per refresh (default 5 s). */
  timeoutMs?: number;
  logger: WarnLogger;
}

export interface KeyRefreshHandle {
  /** True when a refresh timer is running (keys come from gopass). */
  readonly active: boolean;
  stop(): void;
  /** Runs one refresh now (tests); resolves when done. */
  refreshNow(): Promise<void>;
}

/**
 * Periodically re-reads the keys from gopass and hands them to `apply`. Inactive (no timer) unless
 * the keys come from gopass. A failed refresh keeps the previous keys and logs a warning. The timer
 * is unref'd; refreshes never overlap.
 */
export function startKeyRefresh(apply: (keys: string[]) => void, opts: KeyRefreshOptions): KeyRefreshHandle {
  const gp = keySourceOf(opts) === 'gopass' ? gopassPathFrom(opts) : undefined;
  if (gp === undefined) {
    return { active: false, stop() {}, refreshNow: async () => {} };
  }
  let stopped = false;
  let running: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) return running;
    running = readGopassKeys(gp, opts.env, opts.timeoutMs ?? DEFAULT_GOPASS_TIMEOUT_MS)
      .then(
        (keys) => {
          if (!stopped) apply(keys);
        },
        (e: unknown) => {
          if (stopped) return;
          opts.logger.warn('API key refresh from gopass failed; keeping the previous keys', {
            error: e instanceof Error ? e.message : String(e),
          });
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const timer = setInterval(() => void refresh(), opts.intervalMs ?? DEFAULT_KEY_REFRESH_MS);
  timer.unref?.();
  return {
    active: true,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    refreshNow: refresh,
  };
}
