/**
 * ProcessRunner contract. Implemented in `runner.ts` through the process supervisor
 * (`supervisor/`), which spawns with cross-spawn: never a shell, stdin ignored, own process group
 * (detached), SIGTERM → SIGKILL to the group, a final SIGKILL to the group after exit so
 * grandchildren do not survive.
 */
import type { ProcessExit } from './types';

export interface RunSpec {
  /** Resolved absolute executable path. */
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Run as this user id / group id (the server must be allowed to switch: root). */
  uid?: number;
  gid?: number;
  /** Supplementary groups with `uid`; without them the CLI keeps only its primary group. */
  groups?: number[];
  /** SIGTERM → SIGKILL grace for the group. */
  killGraceMs: number;
  /**
   * `collect`: stdout collected up to `maxOutputBytes` (beyond → kill, `outputTooLarge`).
   * `lines`: stdout split on `\n` (trailing `\r` removed), each line handed to `onLine`;
   * a line longer than `maxLineBytes` → kill, `lineTooLong`. Nothing of stdout is kept.
   */
  mode: 'collect' | 'lines';
  maxOutputBytes?: number;
  maxLineBytes?: number;
  onLine?: (line: string) => void;
}

export interface RunOutcome {
  exit: ProcessExit;
  /** `collect` mode only. */
  stdout: string;
  /** The last 64 KiB of stderr. */
  stderr: string;
  outputTooLarge: boolean;
  lineTooLong: boolean;
  /** Set when `kill(reason)` was called before the child exited. */
  killReason?: string;
}

export interface RunHandle {
  readonly pid: number;
  /** Resolves when the child has exited and stdout/stderr are drained. Never rejects. */
  readonly done: Promise<RunOutcome>;
  /** SIGTERM the group now, SIGKILL after the grace period if anything is left. Idempotent. */
  kill(reason: string): void;
  /** Backpressure for `lines` mode: stop/resume reading stdout. */
  pause(): void;
  resume(): void;
}

export interface ProcessRunner {
  /**
   * Spawns the process. Resolves once the OS reports it spawned; rejects with the spawn error
   * (an Error with `code` `ENOENT`/`EACCES`/…) when it could not be started.
   */
  start(spec: RunSpec): Promise<RunHandle>;
  /** Live handles (for shutdown and tests). */
  readonly running: ReadonlySet<RunHandle>;
  /** Kills every live group (SIGTERM → SIGKILL) and resolves when all have exited. */
  killAll(reason: string): Promise<void>;
  /** Starts what spawning needs (the supervisor process) now instead of at the first run. */
  warmUp?(): Promise<void>;
  /** Releases the runner (stops the supervisor; whatever still runs is killed). */
  close(): Promise<void>;
}
