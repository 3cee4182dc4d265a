/**
 * Backend availability: resolves each backend's executable (configured absolute path,
 * or a name looked up on PATH), checks that it is a regular file executable by this process, and
 * caches the answer per backend for `ttlMs`. No version probe is ever run.
 */
import { constants as fsConstants, promises as fsp } from 'fs';
import * as path from 'path';
import { BACKEND_NAMES, type BackendName } from './types';

export interface BackendStatus {
  name: BackendName;
  enabled: boolean;
  /** enabled and the executable was found. */
  available: boolean;
  /** Resolved absolute path, when the executable was found (also for a disabled backend). */
  command?: string;
  /** Why the backend is not available (the 503 `backend_unavailable` message). */
  reason?: string;
  /** Cluster mode: the version a worker read with `--version` (else the status reads it locally). */
  version?: string;
  verified?: boolean;
}

export interface BackendAvailabilityOptions {
  backends: Record<BackendName, { enabled: boolean; command: string }>;
  ttlMs: number;
  /** Source of PATH (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
}

interface CacheEntry {
  at: number;
  status: Promise<BackendStatus>;
}

type Resolution = { found: true; path: string } | { found: false; why: string };

/** A regular file (after following symlinks) that this process may execute. */
export async function isExecutableFile(p: string): Promise<boolean> {
  try {
    const st = await fsp.stat(p);
    if (!st.isFile()) return false;
    await fsp.access(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves `command` like this: an absolute path is used as is; a bare name is
 * looked up in the absolute entries of PATH (empty and relative entries are skipped; a match that
 * is a directory or not executable is skipped, like a shell does); a relative path containing `/`
 * is never resolved.
 */
export async function resolveExecutable(command: string, envPath: string | undefined): Promise<Resolution> {
  if (path.isAbsolute(command)) {
    if (await isExecutableFile(command)) return { found: true, path: command };
    return {
      found: false,
      why: (await exists(command)) ? `"${command}" is not an executable file` : `"${command}" not found`,
    };
  }
  if (command.includes('/')) return { found: false, why: `"${command}" not found` };
  for (const dir of (envPath ?? '').split(':')) {
    if (dir === '' || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, command);
    if (await isExecutableFile(candidate)) return { found: true, path: candidate };
  }
  return { found: false, why: `"${command}" not found on PATH` };
}

export class BackendAvailability {
  private readonly cache = new Map<BackendName, CacheEntry>();
  private readonly backends: BackendAvailabilityOptions['backends'];
  private readonly ttlMs: number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly now: () => number;

  constructor(opts: BackendAvailabilityOptions) {
    this.backends = opts.backends;
    this.ttlMs = opts.ttlMs;
    this.env = opts.env ?? process.env;
    this.now = opts.now ?? Date.now;
  }

  /** Availability of one backend, from the cache when younger than `ttlMs`. Never rejects. */
  check(name: BackendName): Promise<BackendStatus> {
    const t = this.now();
    const hit = this.cache.get(name);
    if (hit && t - hit.at < this.ttlMs) return hit.status;
    const status = this.probe(name);
    this.cache.set(name, { at: t, status });
    return status;
  }

  /** All three backends in the fixed order claude, codex, gemini. */
  checkAll(): Promise<BackendStatus[]> {
    return Promise.all(BACKEND_NAMES.map((n) => this.check(n)));
  }

  /** Drops the cached answer (after a spawn failure with ENOENT/EACCES). */
  invalidate(name: BackendName): void {
    this.cache.delete(name);
  }

  private async probe(name: BackendName): Promise<BackendStatus> {
    const cfg = this.backends[name];
    const enabled = cfg?.enabled ?? true;
    const command = cfg?.command ? cfg.command : name;
    let res: Resolution;
    try {
      res = await resolveExecutable(command, this.env.PATH);
    } catch (err) {
      res = { found: false, why: `"${command}" could not be checked: ${String(err)}` };
    }
    const status: BackendStatus = { name, enabled, available: enabled && res.found };
    if (res.found) status.command = res.path;
    if (!enabled) status.reason = `backend "${name}" is disabled`;
    else if (!res.found) status.reason = `backend "${name}" is not available: ${res.why}`;
    return status;
  }
}
