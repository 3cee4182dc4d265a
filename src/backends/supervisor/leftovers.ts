/**
 * Start-up clean-up of process groups left running by a previous incarnation of the server (a
 * server and supervisor both killed with SIGKILL, or a machine-level OOM kill): every record under
 * `$CLINVK_HOME/run/` whose server process is gone names a group that is killed (SIGKILL) and the
 * record removed. A PID may have been reused since the record was written, so a group is only
 * killed when that is provably still the recorded one:
 *  - its leader exists: its start time must equal the recorded one (else the PID was reused:
 *    nothing is killed);
 *  - its leader is gone but members are left (grandchildren): Linux never hands out a PID that is
 *    still in use as a process-group id, so those members belong to the recorded group; they must
 *    also have started no earlier than the leader.
 * Records of a server that is still alive (another server on the same home) are left alone.
 */
import fs from 'node:fs';
import { errnoCode } from '../../lib/errno';
import { groupMembers, isLiveProcess, readProcStat } from './proc';
import { listRecordFiles, parseRecord, removeFile, type RunRecord } from './run-records';

export interface LeftoverLogger {
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export interface LeftoverReport {
  /** Groups that were signalled (SIGKILL). */
  killed: number[];
  /** Records whose PID now belongs to another process: not killed. */
  reused: number[];
  /** Records removed (killed, reused or already dead). */
  removed: number;
  /** Records of live servers, left in place. */
  kept: number;
}

/** Temp files younger than this may belong to a record being written right now. */
const TEMP_GRACE_MS = 60_000;

type Verdict = 'kill' | 'reused' | 'gone';

/** Whether the recorded group is still the recorded one and has anything left to kill. */
export function judgeRecord(rec: RunRecord): Verdict {
  const leader = readProcStat(rec.pgid);
  if (leader) {
    if (rec.start_time === null || leader.startTime !== rec.start_time) return 'reused';
    // A zombie leader (not reaped yet) may still have live members in its group.
    if (leader.state !== 'Z' && leader.state !== 'X' && leader.pgrp === rec.pgid) return 'kill';
  }
  const members = groupMembers(rec.pgid);
  if (members.length === 0) return 'gone';
  if (rec.start_time !== null && members.some((m) => m.startTime < rec.start_time!)) return 'reused';
  return 'kill';
}

function killGroup(pgid: number, logger?: LeftoverLogger): boolean {
  try {
    process.kill(-pgid, 'SIGKILL');
    return true;
  } catch (err) {
    if (errnoCode(err) !== 'ESRCH')
      logger?.warn('could not kill a leftover process group', { pgid, error: String(err) });
    return false;
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

export function reapLeftovers(
  dir: string,
  opts: { ownInstance?: string; logger?: LeftoverLogger } = {},
): LeftoverReport {
  const report: LeftoverReport = { killed: [], reused: [], removed: 0, kept: 0 };
  const { logger } = opts;
  for (const file of listRecordFiles(dir)) {
    let rec: RunRecord | undefined;
    try {
      rec = parseRecord(fs.readFileSync(file, 'utf8'));
    } catch {
      continue; // vanished meanwhile
    }
    if (!rec) {
      // A temp file or junk: only old ones (a live supervisor may be writing one right now).
      if (ageMs(file) > TEMP_GRACE_MS) removeFile(file);
      continue;
    }
    if (rec.instance === opts.ownInstance) continue;
    if (isLiveProcess(rec.server_pid, rec.server_start_time ?? undefined)) {
      report.kept++;
      continue;
    }
    const verdict = judgeRecord(rec);
    if (verdict === 'kill') {
      if (killGroup(rec.pgid, logger)) report.killed.push(rec.pgid);
    } else if (verdict === 'reused') {
      report.reused.push(rec.pid);
    }
    removeFile(file);
    report.removed++;
  }
  if (report.killed.length) {
    logger?.warn('killed process groups left running by a previous server', { pgids: report.killed });
  }
  if (report.reused.length) {
    logger?.info('leftover run records named reused PIDs; nothing killed', { pids: report.reused });
  }
  return report;
}
