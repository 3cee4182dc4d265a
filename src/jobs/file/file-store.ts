/**
 * Embedded job store under `$CLINVK_HOME/jobs/`: one JSON record per job (`<id>.json`, written to a
 * temporary file, fsynced and renamed over the old one, so a reader or a crash sees the old or
 * the new record, never a mix) and one append-only NDJSON event log per job (`<id>.events`).
 * All records are indexed in memory at start-up (jobs are few compared with events). One process
 * uses the store: claims are held in memory (a restart makes every earlier claim void).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { type JobCoordinator, LocalCoordinator } from '../coordination';
import type { HeldJob, JobFilter, JobRecord, JobStatus, JobStore, QueueEntry, StoredEvent } from '../types';
import { isTerminal } from '../types';
import { KeyedMutex } from '../../lib/mutex';

const RECORD_SUFFIX = '.json';
const EVENTS_SUFFIX = '.events';
const TEMP_MARK = '.tmp-';
const SEQUENCE_RE = /"sequence":(\d+)/;

export class FileJobStore implements JobStore {
  private readonly records = new Map<string, JobRecord>();
  /** `owner \0 key` → job id. */
  private readonly idempotency = new Map<string, string>();
  /** Open append handles of event logs. */
  private readonly logs = new Map<string, Promise<fs.promises.FileHandle>>();
  /** Record writes, serialized per job: the last `put` is the one that stays. */
  private readonly writes = new KeyedMutex();
  private nextSeq = 1;

  constructor(readonly dir: string) {}

  async open(): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await fs.promises.readdir(this.dir)) {
      const file = path.join(this.dir, name);
      if (name.includes(TEMP_MARK)) {
        await fs.promises.rm(file, { force: true });
        continue;
      }
      if (!name.endsWith(RECORD_SUFFIX)) continue;
      try {
        const record = JSON.parse(await fs.promises.readFile(file, 'utf8')) as JobRecord;
        this.index(record);
      } catch {
        // an unreadable record is left for an operator; it never blocks start-up
      }
    }
  }

  /** Writes of one record are serialized, so that the last `put` is the one that stays. */
  async put(record: JobRecord): Promise<void> {
    const copy = structuredClone(record);
    return this.writes.run(record.id, () => this.write(copy));
  }

  private async write(record: JobRecord): Promise<void> {
    const file = this.recordPath(record.id);
    const tmp = `${file}${TEMP_MARK}${randomBytes(4).toString('hex')}`;
    const fh = await fs.promises.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(record));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
    this.index(record);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const r = this.records.get(id);
    return r ? structuredClone(r) : undefined;
  }

  async list(filter: JobFilter, limit: number, offset: number): Promise<{ jobs: JobRecord[]; total: number }> {
    const matching = [...this.records.values()].filter((r) => matches(r, filter));
    matching.sort((a, b) => b.queue_seq - a.queue_seq);
    return { jobs: matching.slice(offset, offset + limit).map((r) => structuredClone(r)), total: matching.length };
  }

  async countByStatus(status: JobStatus): Promise<number> {
    let n = 0;
    for (const r of this.records.values()) if (r.status === status) n++;
    return n;
  }

  async findIdempotent(owner: string, key: string): Promise<JobRecord | undefined> {
    const id = this.idempotency.get(`${owner}\u0000${key}`);
    return id ? this.get(id) : undefined;
  }

  async unfinished(): Promise<JobRecord[]> {
    return [...this.records.values()]
      .filter((r) => !isTerminal(r.status))
      .sort((a, b) => a.queue_seq - b.queue_seq)
      .map((r) => structuredClone(r));
  }

  async nextQueueSeq(): Promise<number> {
    return this.nextSeq++;
  }

  async queued(): Promise<QueueEntry[]> {
    return [...this.records.values()]
      .filter((r) => r.status === 'queued' && r.node === undefined)
      .sort((a, b) => a.queue_seq - b.queue_seq)
      .map((r) => ({ id: r.id, queue_seq: r.queue_seq }));
  }

  async claim(id: string, node: string): Promise<JobRecord | undefined> {
    const r = this.records.get(id);
    if (!r || r.status !== 'queued' || r.node !== undefined) return undefined;
    r.node = node;
    return structuredClone(r);
  }

  async release(id: string, node: string): Promise<void> {
    const r = this.records.get(id);
    if (r && r.status === 'queued' && r.node === node) delete r.node;
  }

  async takeOver(id: string, from: string | undefined, node: string): Promise<JobRecord | undefined> {
    const r = this.records.get(id);
    if (!r || isTerminal(r.status) || r.node !== from) return undefined;
    r.node = node;
    return structuredClone(r);
  }

  async heldElsewhere(node: string): Promise<HeldJob[]> {
    return (await this.unfinished()).filter((r) => r.node !== node && (r.node !== undefined || r.status === 'running'));
  }

  coordinator(node: string): JobCoordinator {
    return new LocalCoordinator(node);
  }

  async finishedBefore(beforeMs: number): Promise<string[]> {
    const out: string[] = [];
    for (const r of this.records.values()) {
      if (isTerminal(r.status) && r.finished_at && Date.parse(r.finished_at) < beforeMs) out.push(r.id);
    }
    return out;
  }

  async delete(id: string): Promise<boolean> {
    const record = this.records.get(id);
    await this.closeLog(id);
    await fs.promises.rm(this.eventsPath(id), { force: true });
    await fs.promises.rm(this.recordPath(id), { force: true });
    if (!record) return false;
    this.records.delete(id);
    if (record.idempotency) this.idempotency.delete(`${record.owner}\u0000${record.idempotency.key}`);
    return true;
  }

  async appendEvents(id: string, events: StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    const fh = await this.log(id);
    let text = '';
    for (const e of events) text += `${e.line}\n`;
    await fh.appendFile(text);
  }

  async syncEvents(id: string): Promise<void> {
    const handle = this.logs.get(id);
    if (!handle) return;
    const fh = await handle;
    await fh.sync();
    await this.closeLog(id);
  }

  async readEvents(id: string, after: number): Promise<StoredEvent[]> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.eventsPath(id), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: StoredEvent[] = [];
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end < 0) break; // a torn last line (crash during a write) is not an event
      const line = text.slice(start, end);
      start = end + 1;
      const m = SEQUENCE_RE.exec(line);
      if (!m) continue;
      const sequence = Number(m[1]);
      if (sequence > after) out.push({ sequence, line });
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.logs.keys()].map((id) => this.closeLog(id)));
  }

  private index(record: JobRecord): void {
    this.nextSeq = Math.max(this.nextSeq, record.queue_seq + 1);
    this.records.set(record.id, record);
    if (record.idempotency) this.idempotency.set(`${record.owner}\u0000${record.idempotency.key}`, record.id);
  }

  private log(id: string): Promise<fs.promises.FileHandle> {
    let h = this.logs.get(id);
    if (!h) {
      h = fs.promises.open(this.eventsPath(id), 'a', 0o600);
      this.logs.set(id, h);
    }
    return h;
  }

  private async closeLog(id: string): Promise<void> {
    const h = this.logs.get(id);
    if (!h) return;
    this.logs.delete(id);
    try {
      await (await h).close();
    } catch {
      // already closed
    }
  }

  private recordPath(id: string): string {
    return path.join(this.dir, `${id}${RECORD_SUFFIX}`);
  }

  private eventsPath(id: string): string {
    return path.join(this.dir, `${id}${EVENTS_SUFFIX}`);
  }
}

function matches(r: JobRecord, f: JobFilter): boolean {
  return (
    (f.status === undefined || r.status === f.status) &&
    (f.operation === undefined || r.operation === f.operation) &&
    (f.backend === undefined || r.backend === f.backend) &&
    (f.owner === undefined || r.owner === f.owner)
  );
}
