/**
 * The embedded `UsageStore`: one append-only NDJSON file of records per UTC day plus a daily rollup,
 * under `$CLINVK_HOME/usage/` (docs/usage.md, "On disk").
 *
 * - `<day>.ndjson` (mode 0600): one record per line, appended in batches; the source of truth.
 * - `<day>.rollup.json`: the day's records summed per (key, backend, model, api_style, status), with
 *   the byte length of the records file it covers. Disposable: missing, garbled or stale rollups are
 *   completed (or rebuilt) from the records file at start-up.
 *
 * The rollups of every retained day are held in memory, so a query over whole days never reads a
 * record, and the per-key daily counters are a look-up. Only a range starting or ending inside a
 * day reads that day's records file. Dirty rollups are written every few seconds and on close, so a
 * restart after a graceful shutdown reads rollups only; after a crash only the records appended since
 * the last rollup write are parsed again.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { Mutex } from '../../lib/mutex';
import {
  daysBetween,
  dayStart,
  emptyTotals,
  type DailyUsage,
  type UsageGroupField,
  type UsageQuery,
  type UsageQueryResult,
  type UsageRecord,
  type UsageRow,
  type UsageStatus,
  type UsageStore,
  type UsageTotals,
} from '../types';

const DAY_MS = 86_400_000;
const RECORDS = /^(\d{4}-\d{2}-\d{2})\.ndjson$/;
const ROLLUP_SUFFIX = '.rollup.json';
const ROLLUP_VERSION = 1;

/** The dimensions a rollup keeps (everything a query can group by except the day). */
interface Dims {
  key: string;
  backend: string;
  model: string | null;
  api_style: string;
  status: UsageStatus;
}

interface Group extends Dims {
  totals: UsageTotals;
}

interface DayState {
  /** Byte length of the records file the groups cover. */
  bytes: number;
  groups: Map<string, Group>;
  /** Groups changed since the rollup file was last written. */
  dirty: boolean;
}

export interface FileUsageStoreOptions {
  /** How often dirty rollups are written (default 5 s; 0 = only on close). */
  rollupIntervalMs?: number;
  /** Called with a message when a damaged file is repaired (a torn last line, a bad rollup). */
  onRepair?: (message: string) => void;
}

export class FileUsageStore implements UsageStore {
  /** Loaded days. */
  private readonly days = new Map<string, DayState>();
  /** Every day with a records file (loaded or not). */
  private readonly known = new Set<string>();
  private readonly loading = new Map<string, Promise<DayState>>();
  private readonly mutex = new Mutex();
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly opts: FileUsageStoreOptions = {},
  ) {}

  async open(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const names = (await fsp.readdir(this.dir)).sort();
    for (const name of names) {
      const m = RECORDS.exec(name);
      if (m) await this.adopt(m[1]);
      else if (name.endsWith(ROLLUP_SUFFIX) && !names.includes(name.replace(ROLLUP_SUFFIX, '.ndjson'))) {
        await fsp.rm(path.join(this.dir, name), { force: true });
      }
    }
    const every = this.opts.rollupIntervalMs ?? 5000;
    if (every > 0) {
      this.timer = setInterval(() => void this.mutex.run(() => this.writeRollups()).catch(() => undefined), every);
      this.timer.unref();
    }
  }

  append(records: readonly UsageRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return this.mutex.run(async () => {
      this.assertOpen();
      const byDay = new Map<string, UsageRecord[]>();
      for (const r of records) {
        const day = r.time.slice(0, 10);
        const list = byDay.get(day);
        if (list) list.push(r);
        else byDay.set(day, [r]);
      }
      for (const [day, list] of byDay) {
        const text = list.map((r) => JSON.stringify(r)).join('\n') + '\n';
        const file = this.recordsFile(day);
        const state = (await this.stateOf(day)) ?? { bytes: 0, groups: new Map(), dirty: true };
        const before = state.bytes;
        try {
          await fsp.appendFile(file, text, { mode: 0o600 });
        } catch (err) {
          // never leave a torn batch behind: a retried batch would otherwise count twice
          await fsp.truncate(file, before).catch(() => undefined);
          throw err;
        }
        this.days.set(day, state);
        this.known.add(day);
        for (const r of list) addRecord(state.groups, r);
        state.bytes = before + Buffer.byteLength(text);
        state.dirty = true;
      }
    });
  }

  async query(q: UsageQuery): Promise<UsageQueryResult> {
    this.assertOpen();
    const rows = new Map<string, UsageRow>();
    const totals = emptyTotals();
    const withDay = q.groupBy.includes('day');
    for (const day of daysBetween(q.from, q.to)) {
      const state = await this.stateOf(day);
      if (!state) continue;
      const start = dayStart(day);
      if (q.from <= start && start + DAY_MS <= q.to) {
        for (const g of state.groups.values()) {
          if (q.key !== undefined && g.key !== q.key) continue;
          accumulate(rows, q.groupBy, withDay ? day : '', g, g.totals, totals);
        }
      } else {
        const lo = Math.max(q.from, start);
        const hi = Math.min(q.to, start + DAY_MS);
        if (hi - lo > DAY_MS / 2) {
          // most of the day: its rollup minus the records outside the range (fewer to parse)
          const groups = new Map<string, Group>();
          for (const [k, g] of state.groups) groups.set(k, { ...g, totals: { ...g.totals } });
          await this.scan(day, state.bytes, lo, hi, false, (r) => {
            const g = groups.get(dimsKey(dimsOf(r)));
            if (g) subtractTotals(g.totals, recordTotals(r));
          });
          for (const g of groups.values()) {
            if (g.totals.requests <= 0 || (q.key !== undefined && g.key !== q.key)) continue;
            accumulate(rows, q.groupBy, withDay ? day : '', g, g.totals, totals);
          }
        } else {
          await this.scan(day, state.bytes, lo, hi, true, (r) => {
            if (q.key !== undefined && r.key !== q.key) return;
            accumulate(rows, q.groupBy, withDay ? day : '', dimsOf(r), recordTotals(r), totals);
          });
        }
      }
    }
    return { rows: [...rows.values()].sort(compareRows(q.groupBy)), totals };
  }

  async dailyUsage(day: string): Promise<Map<string, DailyUsage>> {
    this.assertOpen();
    const out = new Map<string, DailyUsage>();
    for (const g of (await this.stateOf(day))?.groups.values() ?? []) {
      const u = out.get(g.key) ?? { requests: 0, tokens: 0 };
      u.requests += g.totals.requests;
      u.tokens += g.totals.input_tokens + g.totals.output_tokens;
      out.set(g.key, u);
    }
    return out;
  }

  prune(beforeDay: string): Promise<void> {
    return this.mutex.run(async () => {
      this.assertOpen();
      for (const day of [...this.known]) {
        if (day >= beforeDay) continue;
        await this.loading.get(day)?.catch(() => undefined);
        this.days.delete(day);
        this.known.delete(day);
        this.loading.delete(day);
        await fsp.rm(this.rollupFile(day), { force: true });
        await fsp.rm(this.recordsFile(day), { force: true });
      }
    });
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    return this.mutex.run(async () => {
      if (this.closed) return;
      await this.writeRollups();
      this.closed = true;
    });
  }

  // ------------------------------------------------------------------------------ internals

  private assertOpen(): void {
    if (this.closed) throw new Error('usage store is closed');
  }

  private recordsFile(day: string): string {
    return path.join(this.dir, `${day}.ndjson`);
  }

  private rollupFile(day: string): string {
    return path.join(this.dir, `${day}${ROLLUP_SUFFIX}`);
  }

  /**
   * Start-up: a day whose rollup covers its whole records file is taken as it is (a small read);
   * any other day is loaded when first needed, so that a start after a crash does not parse every
   * record of every retained day before it can serve.
   */
  private async adopt(day: string): Promise<void> {
    this.known.add(day);
    const size = (await fsp.stat(this.recordsFile(day))).size;
    const rollup = await this.readRollup(day, false);
    if (rollup && rollup.bytes === size) this.days.set(day, { ...rollup, dirty: false });
  }

  /** The state of a day (loading it once when needed); undefined for a day without records. */
  private stateOf(day: string): Promise<DayState | undefined> {
    const loaded = this.days.get(day);
    if (loaded) return Promise.resolve(loaded);
    if (!this.known.has(day)) return Promise.resolve(undefined);
    let p = this.loading.get(day);
    if (!p) {
      p = this.load(day).finally(() => this.loading.delete(day));
      this.loading.set(day, p);
    }
    return p;
  }

  /** The day's groups: its rollup when valid, completed with the records appended after it. */
  private async load(day: string): Promise<DayState> {
    const file = this.recordsFile(day);
    let size = (await fsp.stat(file)).size;
    size = await this.repairTail(file, size);
    let state: DayState = { bytes: 0, groups: new Map(), dirty: true };
    const rollup = await this.readRollup(day);
    if (rollup && rollup.bytes <= size) state = { ...rollup, dirty: rollup.bytes !== size };
    else if (rollup) this.opts.onRepair?.(`usage rollup of ${day} is ahead of its records; rebuilding it`);
    if (state.bytes < size) {
      await readLines(file, state.bytes, size, (line) => {
        const r = parseRecord(line);
        if (r) addRecord(state.groups, r);
      });
      state.bytes = size;
    }
    this.days.set(day, state);
    return state;
  }

  /** A records file must end with a newline; a torn last line (a crash mid-append) is cut off. */
  private async repairTail(file: string, size: number): Promise<number> {
    if (size === 0) return 0;
    const fd = await fsp.open(file, 'r+');
    try {
      const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
      let end = size;
      for (;;) {
        const from = Math.max(0, end - chunk.length);
        const { bytesRead } = await fd.read(chunk, 0, end - from, from);
        const nl = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
        if (nl >= 0) end = from + nl + 1;
        else if (from > 0) {
          end = from;
          continue;
        } else end = 0;
        break;
      }
      if (end !== size) {
        this.opts.onRepair?.(`usage records of ${path.basename(file)}: cut ${size - end} bytes of a torn last line`);
        await fd.truncate(end);
      }
      return end;
    } finally {
      await fd.close();
    }
  }

  private async readRollup(
    day: string,
    report = true,
  ): Promise<{ bytes: number; groups: Map<string, Group> } | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.rollupFile(day), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const doc = JSON.parse(text) as { v: number; bytes: number; groups: Group[] };
      if (doc.v !== ROLLUP_VERSION || !Number.isInteger(doc.bytes) || !Array.isArray(doc.groups)) throw new Error();
      const groups = new Map<string, Group>();
      for (const g of doc.groups) groups.set(dimsKey(g), g);
      return { bytes: doc.bytes, groups };
    } catch {
      if (report) this.opts.onRepair?.(`usage rollup of ${day} is unreadable; rebuilding it from the records`);
      return undefined;
    }
  }

  /** Writes the rollups of the days changed since the last write (temporary file, then rename). */
  private async writeRollups(): Promise<void> {
    if (this.closed) return;
    for (const [day, state] of this.days) {
      if (!state.dirty) continue;
      const doc = { v: ROLLUP_VERSION, day, bytes: state.bytes, groups: [...state.groups.values()] };
      const target = this.rollupFile(day);
      const tmp = `${target}.tmp-${process.pid}`;
      await fsp.writeFile(tmp, JSON.stringify(doc), { mode: 0o600 });
      await fsp.rename(tmp, target);
      state.dirty = false;
    }
  }

  /** The records of `day` within the query's range (and key), from its records file. */
  /**
   * The records of `day` with `lo <= time < hi` (`inside`), or the others, from its records file.
   * Lines are filtered on their leading time before they are parsed.
   */
  private async scan(
    day: string,
    bytes: number,
    lo: number,
    hi: number,
    inside: boolean,
    fn: (r: UsageRecord) => void,
  ): Promise<void> {
    const from = new Date(lo).toISOString();
    const to = new Date(hi).toISOString();
    await readLines(this.recordsFile(day), 0, bytes, (line) => {
      // every line starts with {"time":"<ISO with ms>Z" (records are written by this store)
      if (line.startsWith('{"time":"') && line[32] === 'Z' && line[33] === '"') {
        const t = line.slice(9, 33);
        if ((t >= from && t < to) !== inside) return;
      }
      const r = parseRecord(line);
      if (!r) return;
      const ms = Date.parse(r.time);
      if ((ms >= lo && ms < hi) !== inside) return;
      fn(r);
    });
  }
}

// ------------------------------------------------------------------------------ helpers

function dimsOf(r: UsageRecord): Dims {
  return { key: r.key, backend: r.backend, model: r.model ?? null, api_style: r.api_style, status: r.status };
}

function dimsKey(d: Dims): string {
  return `${d.key}\u0000${d.backend}\u0000${d.model ?? '\u0001'}\u0000${d.api_style}\u0000${d.status}`;
}

function recordTotals(r: UsageRecord): UsageTotals {
  return {
    requests: 1,
    failed: r.status === 'succeeded' ? 0 : 1,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    cached_tokens: r.cached_tokens,
    duration_ms: r.duration_ms,
  };
}

function addTotals(into: UsageTotals, t: UsageTotals): void {
  into.requests += t.requests;
  into.failed += t.failed;
  into.input_tokens += t.input_tokens;
  into.output_tokens += t.output_tokens;
  into.cached_tokens += t.cached_tokens;
  into.duration_ms += t.duration_ms;
}

function subtractTotals(from: UsageTotals, t: UsageTotals): void {
  from.requests -= t.requests;
  from.failed -= t.failed;
  from.input_tokens -= t.input_tokens;
  from.output_tokens -= t.output_tokens;
  from.cached_tokens -= t.cached_tokens;
  from.duration_ms -= t.duration_ms;
}

function addRecord(groups: Map<string, Group>, r: UsageRecord): void {
  const dims = dimsOf(r);
  const k = dimsKey(dims);
  let g = groups.get(k);
  if (!g) {
    g = { ...dims, totals: emptyTotals() };
    groups.set(k, g);
  }
  addTotals(g.totals, recordTotals(r));
}

function accumulate(
  rows: Map<string, UsageRow>,
  groupBy: readonly UsageGroupField[],
  day: string,
  dims: Dims,
  t: UsageTotals,
  totals: UsageTotals,
): void {
  addTotals(totals, t);
  const values = groupBy.map((f) => (f === 'day' ? day : dims[f]));
  const k = values.map((v) => (v === null ? '\u0001' : v)).join('\u0000');
  let row = rows.get(k);
  if (!row) {
    const fresh: Record<string, unknown> = {};
    groupBy.forEach((f, i) => (fresh[f] = values[i]));
    row = Object.assign(fresh, emptyTotals()) as unknown as UsageRow;
    rows.set(k, row);
  }
  addTotals(row, t);
}

/** Rows ordered by the group fields in order; a null model first. */
function compareRows(groupBy: readonly UsageGroupField[]) {
  return (a: UsageRow, b: UsageRow): number => {
    for (const f of groupBy) {
      const x = (a as unknown as Record<string, string | null>)[f];
      const y = (b as unknown as Record<string, string | null>)[f];
      if (x === y) continue;
      if (x === null) return -1;
      if (y === null) return 1;
      return x < y ? -1 : 1;
    }
    return 0;
  };
}

function parseRecord(line: string): UsageRecord | undefined {
  try {
    const r = JSON.parse(line) as UsageRecord;
    return r && typeof r.time === 'string' && typeof r.key === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Calls `fn` for every complete line between byte offsets `start` and `end` of `file`. */
async function readLines(file: string, start: number, end: number, fn: (line: string) => void): Promise<void> {
  if (end <= start) return;
  const stream = fs.createReadStream(file, { start, end: end - 1, highWaterMark: 1 << 20 });
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const text = rest + decoder.write(chunk);
    let i = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', i)) {
      if (nl > i) fn(text.slice(i, nl));
      i = nl + 1;
    }
    rest = text.slice(i);
  }
  rest += decoder.end();
  if (rest) fn(rest);
}
