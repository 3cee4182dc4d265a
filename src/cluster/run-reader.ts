/**
 * One blocking multi-stream `XREAD` per API node serves every run the node waits for: a run's
 * stream is read from its first entry, in order, exactly once. Registering a stream (or resuming a
 * paused one) interrupts the blocked read with `CLIENT UNBLOCK` so the new stream is read at once.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger';
import { decodeEntry, type RunEntry } from './run-protocol';
import type { RedisConnection } from './redis';

export interface StreamWatch {
  /** Stop reading this stream (its reader fell behind: backpressure). */
  pause(): void;
  resume(): void;
  /** Entries delivered so far. */
  readonly count: number;
  close(): void;
}

interface Watch {
  key: string;
  lastId: string;
  paused: boolean;
  count: number;
  deliver(entries: RunEntry[]): void;
}

const BLOCK_MS = 5000;
const COUNT = 500;

export class RunStreamReader {
  private readonly conn: Redis;
  private readonly watches = new Map<string, Watch>();
  private connId: number | undefined;
  private blocked = false;
  /** Counts blocked reads (an interruption is meant for one of them). */
  private round = 0;
  private closed = false;
  private idle: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisConnection,
    private readonly logger: Logger,
  ) {
    // a connection of its own: it spends its time blocked in XREAD
    this.conn = redis.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.conn.on('error', () => undefined);
    this.conn.on('ready', () => {
      this.connId = undefined;
    });
  }

  watch(key: string, deliver: (entries: RunEntry[]) => void): StreamWatch {
    const w: Watch = { key, lastId: '0', paused: false, count: 0, deliver };
    this.watches.set(key, w);
    this.wake();
    this.loop ??= this.run();
    return {
      pause: () => {
        w.paused = true;
      },
      resume: () => {
        if (!w.paused) return;
        w.paused = false;
        this.wake();
      },
      get count() {
        return w.count;
      },
      close: () => {
        this.watches.delete(key);
      },
    };
  }

  private wake(): void {
    if (this.idle) {
      const f = this.idle;
      this.idle = undefined;
      f();
      return;
    }
    if (this.blocked) void this.unblock(this.round, 20);
  }

  /** The blocked read may not have reached Redis yet: try again briefly until it is interrupted. */
  private async unblock(round: number, tries: number): Promise<void> {
    for (let i = 0; i < tries && this.blocked && this.round === round && this.connId !== undefined; i++) {
      const n = (await this.redis.client.client('UNBLOCK', this.connId).catch(() => 0)) as number;
      if (n === 1) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        this.connId ??= (await this.conn.client('ID')) as number;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const active = [...this.watches.values()].filter((w) => !w.paused);
      if (active.length === 0) {
        await new Promise<void>((r) => (this.idle = r));
        continue;
      }
      try {
        this.round++;
        this.blocked = true;
        const res = (await this.conn.xread(
          'COUNT',
          COUNT,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          ...active.map((w) => w.key),
          ...active.map((w) => w.lastId),
        )) as [string, [string, string[]][]][] | null;
        this.blocked = false;
        for (const [key, items] of res ?? []) {
          const w = this.watches.get(key);
          if (!w || items.length === 0) continue;
          w.lastId = items[items.length - 1]![0];
          const entries: RunEntry[] = [];
          for (const [, fields] of items) {
            const e = decodeEntry(fields[1] ?? '');
            if (e) entries.push(e);
          }
          w.count += entries.length;
          try {
            w.deliver(entries);
          } catch (err) {
            this.logger.error('cluster: run event handler failed', { error: String(err) });
          }
        }
      } catch (err) {
        this.blocked = false;
        if (this.closed) break;
        this.logger.debug('cluster: run stream read failed', { error: (err as Error).message });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    this.conn.disconnect();
    await this.loop?.catch(() => undefined);
  }
}
