import * as fs from 'fs';

/**
 * The start time of process `pid` as the kernel reports it (Linux: field 22 of /proc/<pid>/stat,
 * clock ticks since boot), or undefined when unknown (no such process, or no /proc). Together with
 * the pid it identifies one process: a reused pid has another start time.
 */
export function processStartTime(pid: number): string | undefined {
  return readProcStat(pid)?.startTime;
}

/** State (field 3) and start time (field 22) from /proc/<pid>/stat; undefined when unreadable. */
export function readProcStat(pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  if (!state || !startTime || !/^\d+$/.test(startTime)) return undefined;
  return { state, startTime };
}
