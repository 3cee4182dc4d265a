/**
 * Messages between the server and its supervisor process (Node IPC, JSON). One run = one `id`
 * (random, also the token that claims the run's stdout connection, see client.ts).
 *
 * server → supervisor: `spawn`, `kill`.
 * supervisor → server: `ready` once, then per run `spawned` or `spawnError`, `exited` (the CLI
 * exited and its group got the final SIGKILL), `stderr` (the stderr tail, once stderr reached its
 * end or was closed after the drain timeout); `log` at any time.
 */

export interface SpawnRequest {
  t: 'spawn';
  id: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Run as this user/group (the supervisor must be allowed to switch, i.e. run as root). */
  uid?: number;
  gid?: number;
  /** Supplementary groups for uid/gid; without them the CLI keeps only its primary group. */
  groups?: number[];
  killGraceMs: number;
  /** After exit, how long stderr may stay open (held by an escaped process) before it is closed. */
  drainTimeoutMs: number;
  stderrTailBytes: number;
}

export interface KillRequest {
  t: 'kill';
  id: string;
}

export type ToSupervisor = SpawnRequest | KillRequest;

export interface ReadyMessage {
  t: 'ready';
  pid: number;
}

export interface SpawnedMessage {
  t: 'spawned';
  id: string;
  pid: number;
}

export interface SpawnErrorMessage {
  t: 'spawnError';
  id: string;
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export interface ExitedMessage {
  t: 'exited';
  id: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StderrMessage {
  t: 'stderr';
  id: string;
  /** The last `stderrTailBytes` of stderr as UTF-8 (a character cut at the start is dropped). */
  tail: string;
}

export interface LogMessage {
  t: 'log';
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  meta?: Record<string, unknown>;
}

export type FromSupervisor =
  ReadyMessage | SpawnedMessage | SpawnErrorMessage | ExitedMessage | StderrMessage | LogMessage;

/** Passed to the supervisor as its only argument (JSON). */
export interface SupervisorOptions {
  /** Where the run's stdout connection goes (see client.ts). */
  socketPath: string;
  /** `$CLINVK_HOME/run` (records of running CLIs), or '' for none. */
  runDir: string;
  instance: string;
}
