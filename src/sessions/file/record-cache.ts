/**
 * Records last read by `list`, reused while nothing can have changed them, so that reading a page
 * again costs (almost) no file reads.
 *
 * A cached record is used only while
 * - the index entry it was read under is still the current one: every write through any process
 *   appends a journal line, and applying a line replaces the entry object (as does a reload);
 * - the store directory is unchanged since the last check: every record write renames a file into
 *   it and every mutation takes the lock (a directory inside it), so even a record written by a
 *   process that died before its journal line clears the cache;
 * - for a record changed in place behind the store's back (an editor, a disk error): each read
 *   stats the page's cached records that were verified longest ago (up to VERIFY_PER_READ) and
 *   drops those whose file mtime or size changed, so a small page is always verified and a large
 *   one within a few reads.
 * Records are shared between callers and must not be modified.
 */
import * as fs from 'fs';
import type { SessionRecord } from '../types';
import { recordPath } from './record-file';
import type { IndexEntry } from './sorted-index';

/** Cached records of a page checked against their file's stat per read. */
export const VERIFY_PER_READ = 8;

interface Cached {
  entry: IndexEntry;
  record: SessionRecord;
  /** The file's stat when the record was read. */
  mtimeMs: number;
  size: number;
  /** Read counter value of the last verification. */
  verified: number;
}

export class RecordCache {
  private readonly map = new Map<string, Cached>();
  private dirStamp = '';
  private tick = 0;

  constructor(
    private readonly dir: string,
    readonly max: number,
  ) {}

  /**
   * The cached records of a page, in its order (undefined where the file must be read). The
   * directory stamp is taken before the caller's reads, so a change during them clears the cache
   * at the next lookup.
   */
  lookup(page: readonly IndexEntry[]): Array<SessionRecord | undefined> {
    const st = fs.statSync(this.dir);
    const stamp = `${st.ino}:${st.mtimeMs}:${st.ctimeMs}`;
    if (stamp !== this.dirStamp) {
      this.map.clear();
      this.dirStamp = stamp;
    }
    const tick = ++this.tick;
    const out: Array<SessionRecord | undefined> = new Array<SessionRecord | undefined>(page.length);
    const hits: Array<{ i: number; c: Cached }> = [];
    for (let i = 0; i < page.length; i++) {
      const e = page[i]!;
      const c = this.map.get(e.id);
      if (c === undefined) continue;
      if (c.entry !== e) {
        this.map.delete(e.id);
        continue;
      }
      out[i] = c.record;
      hits.push({ i, c });
    }
    // The VERIFY_PER_READ hits verified longest ago (ties: page order).
    let threshold = Infinity;
    if (hits.length > VERIFY_PER_READ) {
      const ticks = new Float64Array(hits.length);
      for (let k = 0; k < hits.length; k++) ticks[k] = hits[k]!.c.verified;
      threshold = ticks.sort()[VERIFY_PER_READ - 1]!;
    }
    let budget = VERIFY_PER_READ;
    for (const { i, c } of hits) {
      if (budget === 0) break;
      if (c.verified > threshold) continue;
      budget--;
      if (this.unchanged(c)) c.verified = tick;
      else {
        this.map.delete(c.entry.id);
        out[i] = undefined;
      }
    }
    return out;
  }

  /** Keeps a record read from its file (with the file's mtime and size) under its index entry. */
  set(entry: IndexEntry, record: SessionRecord, mtimeMs: number, size: number): void {
    if (this.map.has(entry.id)) this.map.delete(entry.id);
    else if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    this.map.set(entry.id, { entry, record, mtimeMs, size, verified: this.tick });
  }

  clear(): void {
    this.map.clear();
    this.dirStamp = '';
  }

  get size(): number {
    return this.map.size;
  }

  private unchanged(c: Cached): boolean {
    try {
      const st = fs.statSync(recordPath(this.dir, c.entry.id));
      return st.isFile() && st.mtimeMs === c.mtimeMs && st.size === c.size;
    } catch {
      return false;
    }
  }
}
