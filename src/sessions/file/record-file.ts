/** Record files `<id>.json`: reading one without the lock (renames are atomic, so a file is always complete). */
import * as fs from 'fs';
import * as path from 'path';
import { errnoCode } from '../../lib/errno';
import { describeFsError } from '../../lib/fs-error';
import type { SessionRecord } from '../types';
import { closeQuietly } from './atomic-file';
import { parseRecord } from './record-codec';

/** Record file names: 32-hex ids, and legacy 16-hex ones. */
export const RECORD_FILE_RE = /^([0-9a-f]{32}|[0-9a-f]{16})\.json$/;

export function recordPath(dir: string, id: string): string {
  return path.join(dir, `${id}.json`);
}

/** A record file as found on disk, with the file's mtime and size. */
export type RecordRead =
  | { kind: 'ok'; record: SessionRecord; mtimeMs: number; size: number }
  | { kind: 'missing' }
  | { kind: 'unreadable'; reason: string; mtimeMs: number; size: number };

export function readRecordFile(dir: string, id: string): RecordRead {
  let fd: number;
  try {
    fd = fs.openSync(recordPath(dir, id), 'r');
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    if (code === 'EACCES' || code === 'EPERM' || code === 'ELOOP') {
      return { kind: 'unreadable', reason: describeFsError(e), mtimeMs: 0, size: 0 };
    }
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { kind: 'unreadable', reason: 'not a regular file', mtimeMs: st.mtimeMs, size: st.size };
    const record = parseRecord(fs.readFileSync(fd, 'utf8'), id);
    if (typeof record === 'string') return { kind: 'unreadable', reason: record, mtimeMs: st.mtimeMs, size: st.size };
    return { kind: 'ok', record, mtimeMs: st.mtimeMs, size: st.size };
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'EISDIR' || code === 'EACCES')
      return { kind: 'unreadable', reason: describeFsError(e), mtimeMs: 0, size: 0 };
    throw e;
  } finally {
    closeQuietly(fd);
  }
}
