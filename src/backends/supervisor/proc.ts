/**
 * Reading /proc (Linux): a process's state, group and start time. The start time (clock ticks
 * since boot, field 22 of /proc/<pid>/stat) tells a process apart from a later one that reuses
 * its PID. Without /proc (other systems) every function answers "unknown" (undefined / []).
 */
import fs from 'node:fs';

export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), T, X, … */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Clock ticks after boot at which the process started. */
  startTime: number;
}

/** Parses the text of /proc/<pid>/stat (the command name may contain spaces and parentheses). */
export function parseProcStat(pid: number, text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text
    .slice(close + 2)
    .trim()
    .split(' ');
  // f[0] is field 3 (state); field n is f[n - 3].
  if (f.length < 20) return undefined;
  const num = (i: number): number => Number(f[i]);
  const st = { pid, state: f[0]!, ppid: num(1), pgrp: num(2), session: num(3), startTime: num(19) };
  return Number.isFinite(st.startTime) && Number.isFinite(st.pgrp) ? st : undefined;
}

export function readProcStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseProcStat(pid, fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Start time of a process (clock ticks after boot), undefined when it does not exist. */
export function processStartTime(pid: number): number | undefined {
  return readProcStat(pid)?.startTime;
}

/** A process exists and is not a zombie; with `startTime`, it must also be that very process. */
export function isLiveProcess(pid: number, startTime?: number): boolean {
  const st = readProcStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

/** Live (non-zombie) members of a process group, found by scanning /proc. */
export function groupMembers(pgid: number): ProcStat[] {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = readProcStat(Number(name));
    if (st && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') out.push(st);
  }
  return out;
}

/** True when /proc is readable here (Linux). */
export function hasProcFs(): boolean {
  return readProcStat(process.pid) !== undefined;
}
