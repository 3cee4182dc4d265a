/**
 * Who a process is, in a form other processes on the same host can check later: host name, boot,
 * pid and the pid's start time. "Provably dead" means: same host and boot, and the pid no longer
 * exists, is a zombie, or now belongs to a process that started at another time.
 */
import * as fs from 'fs';
import * as os from 'os';
import { errnoCode } from './errno';
import { readProcStat } from './process-start-time';

export interface ProcessIdentity {
  host: string;
  pid: number;
  /** Linux: start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  start_time?: string;
  /** Linux: /proc/sys/kernel/random/boot_id (pids and start times restart with each boot). */
  boot_id?: string;
}

function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

let self: ProcessIdentity | undefined;

/** This process. */
export function currentProcessIdentity(): ProcessIdentity {
  if (!self) {
    const id: ProcessIdentity = { host: os.hostname(), pid: process.pid };
    const stat = readProcStat(process.pid);
    if (stat) id.start_time = stat.startTime;
    const boot = bootId();
    if (boot) id.boot_id = boot;
    self = id;
  }
  return self;
}

/** A parsed identity, or undefined when `v` is not one. */
export function parseProcessIdentity(v: unknown): ProcessIdentity | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.host !== 'string' || !Number.isInteger(o.pid) || (o.pid as number) <= 0) return undefined;
  const id: ProcessIdentity = { host: o.host, pid: o.pid as number };
  if (typeof o.start_time === 'string') id.start_time = o.start_time;
  if (typeof o.boot_id === 'string') id.boot_id = o.boot_id;
  return id;
}

/**
 * True only when the process is certainly gone. Another host, or anything that cannot be checked,
 * counts as alive (the caller then falls back to its time-based rule).
 */
export function isProvablyDead(id: ProcessIdentity): boolean {
  const me = currentProcessIdentity();
  if (id.host !== me.host) return false;
  if (id.boot_id && me.boot_id && id.boot_id !== me.boot_id) return true;
  if (id.pid === me.pid)
    return id.start_time !== undefined && me.start_time !== undefined && id.start_time !== me.start_time;
  try {
    process.kill(id.pid, 0);
  } catch (e) {
    if (errnoCode(e) === 'ESRCH') return true;
    if (errnoCode(e) !== 'EPERM') return false; // EPERM: exists, owned by another user
  }
  const stat = readProcStat(id.pid);
  if (!stat) return process.platform === 'linux' && fs.existsSync('/proc/self/stat'); // vanished meanwhile
  if (stat.state === 'Z' || stat.state === 'X') return true;
  return id.start_time !== undefined && stat.startTime !== id.start_time;
}
