/**
 * Records of running CLIs under `$CLINVK_HOME/run/`, one small JSON file per process group, so
 * that a server started after a crash (of the server and its supervisor) can find and kill what a
 * previous incarnation left running. Written by the supervisor right after a spawn and removed
 * once the group has been killed after the CLI's exit; read at start-up (see leftovers.ts).
 * No fsync: the records only matter while the processes they name are alive, i.e. until a reboot.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface RunRecord {
  /** Server instance (random per server start). */
  instance: string;
  /** The server process and its start time (/proc ticks): is that incarnation still alive? */
  server_pid: number;
  server_start_time: number | null;
  /** The CLI process, its group (= pid: spawned detached) and its start time. */
  pid: number;
  pgid: number;
  start_time: number | null;
  /** Executable (for logs only). */
  command: string;
  created: string;
}

const SUFFIX = '.json';

export function recordFile(dir: string, instance: string, pid: number): string {
  return path.join(dir, `${instance}-${pid}${SUFFIX}`);
}

export function ensureRunDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Writes the record atomically (temp file + rename), so a reader never sees half a record. */
export function writeRecord(dir: string, rec: RunRecord): string {
  const file = recordFile(dir, rec.instance, rec.pid);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(rec), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}

export function removeFile(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    /* already gone (e.g. removed by a restarted server) */
  }
}

/** Parses a record; undefined when the text is not a complete record. */
export function parseRecord(text: string): RunRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Partial<RunRecord>;
  const int = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;
  if (typeof r.instance !== 'string' || !int(r.server_pid) || !int(r.pid) || !int(r.pgid)) return undefined;
  return r as RunRecord;
}

/** Record files (and stale temp files) in the directory. */
export function listRecordFiles(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((n) => n.endsWith(SUFFIX) || n.endsWith(`${SUFFIX}.tmp`))
      .map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}
