/**
 * Runs `<cli> --version` once per executable path and modification time and caches the answer, so
 * a version is known without ever running `--version` on a request's path: requests only read the
 * cache (`peek`), which starts a probe in the background when the answer is missing or the file has
 * changed. `clinvk doctor` and start-up wait for it (`get`).
 */
import { promises as fsp } from 'node:fs';
import spawn from 'cross-spawn';
import { ADAPTERS } from './adapters';
import type { BackendOnboarding } from './onboarding';
import type { BackendName } from './types';
import { inRange, parseVersionOutput } from './version';

export const VERSION_TIMEOUT_MS = 10_000;
const MAX_OUTPUT = 64 * 1024;

export interface VersionInfo {
  /** The `x.y.z` read from the output, when it could be read. */
  version?: string;
  /** Whether `version` lies in the range the adapter was verified with. */
  verified?: boolean;
  /** Why no version could be read (spawn failure, timeout, non-zero exit, unknown format). */
  error?: string;
}

export interface VersionProbeOptions {
  /** Environment of the `--version` run (default: `process.env`). */
  env?: (backend: BackendName) => NodeJS.ProcessEnv;
  timeoutMs?: number;
  /**
   * How long `peek` trusts the last modification time it read for a command (ms; default 0: it
   * stats the file on every call). `/health` and `/api/v1/backends` peek on every request.
   */
  peekStatTtlMs?: number;
  now?: () => number;
}

interface Entry {
  key: string;
  /** When `key` (the modification time) was last read from the file. */
  statAt: number;
  done?: VersionInfo;
  promise: Promise<VersionInfo>;
}

/** Runs `command --version` (no shell) and returns stdout + stderr, or throws. */
function runVersion(
  command: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  running: Set<() => void>,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let settled = false;
    // Own process group, so a hung wrapper script is killed together with what it started.
    const child = spawn(command, ['--version'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const add = (chunk: Buffer): void => {
      if (out.length < MAX_OUTPUT) out += chunk.toString('utf8');
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
    const stop = (why: string): void => {
      settled = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      reject(new Error(why));
    };
    const timer = setTimeout(() => stop(`--version did not answer within ${timeoutMs / 1000} s`), timeoutMs);
    const cancel = (): void => {
      clearTimeout(timer);
      if (!settled) stop('--version canceled: shutting down');
    };
    running.add(cancel);
    const finish = (): void => {
      clearTimeout(timer);
      running.delete(cancel);
    };
    child.on('error', (err) => {
      finish();
      if (!settled) reject(err);
      settled = true;
    });
    child.on('close', (code, signal) => {
      finish();
      if (settled) return;
      settled = true;
      if (code === 0) resolve(out);
      else reject(new Error(`--version exited with ${code ?? signal}: ${out.trim().split('\n').pop() ?? ''}`));
    });
  });
}

export class VersionProbe {
  private readonly cache = new Map<string, Entry>();
  private readonly running = new Set<() => void>();
  private readonly env: (backend: BackendName) => NodeJS.ProcessEnv;
  private readonly timeoutMs: number;
  private readonly peekStatTtlMs: number;
  private readonly now: () => number;

  constructor(opts: VersionProbeOptions = {}) {
    this.env = opts.env ?? (() => process.env);
    this.timeoutMs = opts.timeoutMs ?? VERSION_TIMEOUT_MS;
    this.peekStatTtlMs = opts.peekStatTtlMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

  /** The cached answer, or undefined while unknown (a probe is then started in the background). */
  async peek(backend: BackendName, command: string): Promise<VersionInfo | undefined> {
    const hit = this.cache.get(`${backend}\0${command}`);
    if (hit && this.now() - hit.statAt < this.peekStatTtlMs) return hit.done;
    const entry = await this.entry(backend, command);
    return entry?.done;
  }

  /** The answer, running `--version` when needed (at most `timeoutMs`). */
  async get(backend: BackendName, command: string): Promise<VersionInfo> {
    const entry = await this.entry(backend, command);
    return entry ? entry.promise : { error: `cannot read ${command}` };
  }

  /** Kills the `--version` runs still going (server shutdown). */
  close(): void {
    for (const cancel of [...this.running]) cancel();
  }

  /** Waits for every probe started so far (tests, start-up logging). */
  async settled(): Promise<void> {
    await Promise.all([...this.cache.values()].map((e) => e.promise));
  }

  private async entry(backend: BackendName, command: string): Promise<Entry | undefined> {
    let mtimeMs: number;
    try {
      mtimeMs = (await fsp.stat(command)).mtimeMs;
    } catch {
      return undefined;
    }
    const key = `${mtimeMs}`;
    const id = `${backend}\0${command}`;
    const hit = this.cache.get(id);
    if (hit && hit.key === key) {
      hit.statAt = this.now();
      return hit;
    }
    const entry: Entry = { key, statAt: this.now(), promise: Promise.resolve({}) };
    entry.promise = this.probe(backend, command).then((info) => {
      entry.done = info;
      return info;
    });
    this.cache.set(id, entry);
    return entry;
  }

  private async probe(backend: BackendName, command: string): Promise<VersionInfo> {
    const facts = ADAPTERS[backend].onboarding;
    let output: string;
    try {
      output = await runVersion(command, this.env(backend), this.timeoutMs, this.running);
    } catch (err) {
      return { error: (err as Error).message };
    }
    const version = parseVersionOutput(output, facts.versionPattern);
    if (!version) return { error: `unrecognised --version output: ${JSON.stringify(output.trim().slice(0, 80))}` };
    return { version, verified: inRange(version, facts.verified) };
  }
}

/** Warnings about a version (for `/health`, start-up and `clinvk doctor`). */
export function versionWarnings(info: VersionInfo | undefined, facts: BackendOnboarding): string[] {
  if (!info) return [];
  if (info.error) return [`could not read the version: ${info.error}`];
  if (info.version && !info.verified) {
    return [
      `version ${info.version} is outside the verified range ${facts.verified.label} (clinvk is tested with ${facts.pinnedVersion}; it still runs)`,
    ];
  }
  return [];
}
