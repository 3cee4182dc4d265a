/**
 * The in-memory index of the sessions: one entry per record file, and the readable ones kept sorted
 * in list order (last_used descending, then id ascending) so that a page costs no sort.
 */
import type { JournalOp, PutOp, UnreadableOp } from './journal';

export interface IndexEntry {
  readonly id: string;
  readonly backend: string;
  readonly status: string;
  readonly lastUsed: string;
  /** The session's owner (key name); undefined for a session of no one. */
  readonly owner?: string;
  /** `last_used` in epoch ms (the sort key). */
  readonly lastUsedMs: number;
  /** Record file mtime and size when the entry was written (to find records changed behind the index). */
  readonly mtimeMs: number;
  readonly size: number;
  /** The record could not be read or parsed: excluded from listing and counts, still resolvable (→ 500). */
  readonly unreadable: boolean;
}

/** List order: last_used descending, then id ascending. */
export function compareEntries(a: IndexEntry, b: IndexEntry): number {
  if (a.lastUsedMs !== b.lastUsedMs) return b.lastUsedMs - a.lastUsedMs;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function entryOf(op: Exclude<JournalOp, ['d', string]>): IndexEntry {
  if (op[0] === 'p') {
    const [, id, backend, status, lastUsed, mtimeMs, size, owner] = op;
    const entry = { id, backend, status, lastUsed, lastUsedMs: Date.parse(lastUsed), mtimeMs, size, unreadable: false };
    return owner === undefined ? entry : { ...entry, owner };
  }
  const [, id, mtimeMs, size] = op;
  return { id, backend: '', status: '', lastUsed: '', lastUsedMs: 0, mtimeMs, size, unreadable: true };
}

export class SortedIndex {
  private readonly byId = new Map<string, IndexEntry>();
  /** Readable entries in list order; out of date while `needsSort` is set. */
  private sorted: IndexEntry[] = [];
  private needsSort = false;
  private readableCount = 0;

  /** Readable sessions (what `count` and listing totals see). */
  get readable(): number {
    return this.readableCount;
  }

  /** All entries, unreadable ones included. */
  get size(): number {
    return this.byId.size;
  }

  get(id: string): IndexEntry | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  ids(): IterableIterator<string> {
    return this.byId.keys();
  }

  entries(): IterableIterator<IndexEntry> {
    return this.byId.values();
  }

  /**
   * Applies one (valid) operation. `bulk`: many operations follow, so the order is restored once
   * by a sort at the next read instead of by one insertion per entry.
   */
  apply(op: JournalOp, bulk: boolean): void {
    if (bulk) this.needsSort = true;
    const id = op[1];
    const old = this.byId.get(id);
    if (old) {
      this.byId.delete(id);
      if (!old.unreadable) {
        this.readableCount--;
        if (!this.needsSort) this.removeSorted(old);
      }
    }
    if (op[0] === 'd') return;
    const entry = entryOf(op);
    this.byId.set(id, entry);
    if (!entry.unreadable) {
      this.readableCount++;
      if (!this.needsSort) this.sorted.splice(this.lowerBound(entry), 0, entry);
    }
  }

  /** Readable entries in list order (do not modify). */
  ordered(): readonly IndexEntry[] {
    if (this.needsSort) {
      const arr: IndexEntry[] = [];
      for (const e of this.byId.values()) if (!e.unreadable) arr.push(e);
      arr.sort(compareEntries);
      this.sorted = arr;
      this.needsSort = false;
    }
    return this.sorted;
  }

  /** One page of the readable entries matching the filter (list order), and how many match in all. */
  page(filter: { backend?: string; status?: string; owner?: string; offset: number; limit: number }): {
    page: IndexEntry[];
    total: number;
  } {
    const start = Math.max(0, filter.offset);
    const end = start + Math.max(0, filter.limit);
    let total = 0;
    const page: IndexEntry[] = [];
    for (const e of this.ordered()) {
      if (filter.backend !== undefined && e.backend !== filter.backend) continue;
      if (filter.status !== undefined && e.status !== filter.status) continue;
      if (filter.owner !== undefined && e.owner !== filter.owner) continue;
      if (total >= start && total < end) page.push(e);
      total++;
    }
    return { page, total };
  }

  /**
   * Prefix resolution over every entry (unreadable ones included, so that their id resolves to an
   * error instead of "not found"): how many ids start with `prefix`, and the last one found. With
   * `owner`, only that owner's entries count (an unreadable record has no known owner: it counts
   * for every session of no one's viewer, i.e. admins only).
   */
  findByPrefix(prefix: string, owner?: string): { count: number; id: string } {
    let count = 0;
    let id = '';
    for (const [candidate, e] of this.byId) {
      if (candidate.startsWith(prefix) && (owner === undefined || e.owner === owner)) {
        count++;
        id = candidate;
      }
    }
    return { count, id };
  }

  /** Whether the entry of `id` is visible to a viewer limited to `owner` (undefined → everyone's). */
  visibleTo(id: string, owner: string | undefined): boolean {
    const e = this.byId.get(id);
    return e !== undefined && (owner === undefined || e.owner === owner);
  }

  /** Whether the entry of the operation's id already says what `op` says. */
  matches(op: JournalOp): boolean {
    const e = this.byId.get(op[1]);
    if (!e) return false;
    if (op[0] === 'p') {
      return (
        !e.unreadable &&
        e.backend === op[2] &&
        e.status === op[3] &&
        e.lastUsed === op[4] &&
        e.mtimeMs === op[5] &&
        e.size === op[6] &&
        e.owner === op[7]
      );
    }
    if (op[0] === 'x') return e.unreadable && e.mtimeMs === op[2] && e.size === op[3];
    return false;
  }

  /** Every entry as an operation: readable ones in list order (loading then sorts a sorted array), then unreadable ones. */
  toOps(): JournalOp[] {
    const ops: JournalOp[] = [];
    for (const e of this.ordered()) {
      const op: PutOp = ['p', e.id, e.backend, e.status, e.lastUsed, e.mtimeMs, e.size];
      if (e.owner !== undefined) op.push(e.owner);
      ops.push(op);
    }
    for (const e of this.byId.values()) {
      if (e.unreadable) ops.push(['x', e.id, e.mtimeMs, e.size] satisfies UnreadableOp);
    }
    return ops;
  }

  private lowerBound(e: IndexEntry): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareEntries(this.sorted[mid], e) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private removeSorted(e: IndexEntry): void {
    const i = this.lowerBound(e);
    if (this.sorted[i] === e) this.sorted.splice(i, 1);
    else this.needsSort = true; // should not happen; recover by sorting again
  }
}
