/**
 * Crash-safe file replacement in one directory: write a temp file (0600) → fsync → rename over the
 * target → fsync the directory. A crash at any point leaves the old or the new file, never a
 * partial one; leftover temp files are swept at start-up.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as path from 'path';
import { errnoCode } from '../../lib/errno';

/** Temp files are named `.tmp-<random>`: never a record or index name. */
export const TMP_PREFIX = '.tmp-';

export function tempPath(dir: string): string {
  return path.join(dir, `${TMP_PREFIX}${randomBytes(8).toString('hex')}`);
}

/** Closes a descriptor, ignoring errors (and negative descriptors). */
export function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try {
    fs.closeSync(fd);
  } catch {
    /* already closed */
  }
}

/** Makes renames and unlinks in `dir` durable. File systems that cannot fsync a directory are tolerated. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch (e) {
    const code = errnoCode(e);
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw e;
  } finally {
    if (fh) await fh.close().catch(() => undefined);
  }
}

/** Writes `data` to a new temp file in `dir` and fsyncs it; returns its path and stats. */
export async function writeSyncedTemp(dir: string, data: string): Promise<{ tmp: string; stats: fs.Stats }> {
  const tmp = tempPath(dir);
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'wx', 0o600);
    await fh.writeFile(data);
    await fh.sync();
    const stats = await fh.stat();
    await fh.close();
    fh = undefined;
    return { tmp, stats };
  } catch (e) {
    if (fh) await fh.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** Atomically replaces `target` (in `dir`) by `data`; returns the stats of the new file. */
export async function writeFileAtomic(dir: string, target: string, data: string): Promise<fs.Stats> {
  const { tmp, stats } = await writeSyncedTemp(dir, data);
  try {
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dir);
  return stats;
}

/** Removes temp files of `dir` older than `maxAgeMs` (left by a crash); calls `onRemoved` for each. */
export async function removeOldTemps(dir: string, maxAgeMs: number, onRemoved: (name: string) => void): Promise<void> {
  const cutoff = Date.now() - maxAgeMs;
  for (const name of await fsp.readdir(dir)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const p = path.join(dir, name);
    try {
      const st = await fsp.lstat(p);
      if (st.isFile() && st.mtimeMs < cutoff) {
        await fsp.unlink(p);
        onRemoved(name);
      }
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
  }
}
