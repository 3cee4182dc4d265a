/**
 * The Redis connection of cluster mode. `ioredis` is loaded here only, and only when cluster mode is
 * configured, so a single-process server never pays for it.
 *
 * Commands fail fast while Redis is unreachable (no offline queue, one retry per request): a caller
 * gets an error at once and answers 503 instead of hanging; the client keeps reconnecting in the
 * background (back-off up to 2 s) and the node is healthy again as soon as the connection is ready.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { ApiError } from '../errors';

export interface RedisHealth {
  available: boolean;
  error?: string;
}

/** A Lua script registered on every connection of the node (`EVALSHA` with an `EVAL` fallback). */
export interface LuaScript {
  name: string;
  keys: number;
  lua: string;
}

export class RedisConnection {
  readonly client: Redis;
  private lastError: string | undefined;
  private subscriber: Redis | undefined;
  private readonly channelHandlers = new Map<string, Set<(message: string) => void>>();

  constructor(
    readonly url: string,
    /** Prefix of every key and channel this node uses (`cluster.key_prefix`). */
    readonly prefix: string,
    scripts: readonly LuaScript[] = [],
  ) {
    this.client = RedisConnection.connect(url);
    for (const s of scripts) this.client.defineCommand(s.name, { numberOfKeys: s.keys, lua: s.lua });
    this.client.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    this.client.on('ready', () => {
      this.lastError = undefined;
    });
  }

  private static connect(url: string, extra: RedisOptions = {}): Redis {
    const IORedis = require('ioredis') as typeof import('ioredis');
    return new IORedis.Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (times: number) => Math.min(times * 100, 2000),
      ...extra,
    });
  }

  /** Runs a script registered on this connection (keys first, as its `keys` count says). */
  run<T = unknown>(script: LuaScript, ...args: (string | number)[]): Promise<T> {
    const fn = (this.client as unknown as Record<string, (...a: (string | number)[]) => Promise<T>>)[script.name];
    if (!fn) throw new Error(`redis script ${script.name} is not registered on this connection`);
    return fn.call(this.client, ...args);
  }

  /** The key `<prefix>:<parts…>`. */
  key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  health(): RedisHealth {
    if (this.client.status === 'ready') return { available: true };
    return { available: false, error: this.lastError ?? `redis connection ${this.client.status}` };
  }

  /** Resolves when the connection is ready (start-up); rejects after `timeoutMs`. */
  async ready(timeoutMs = 5000): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        reject(new Error(`redis at ${redactUrl(this.url)} not reachable: ${this.lastError ?? 'timeout'}`));
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once('ready', onReady);
    });
  }

  /** Calls `fn` on every message of `channel` (a second connection in subscriber mode, opened on first use). */
  subscribe(channel: string, fn: (message: string) => void): void {
    let handlers = this.channelHandlers.get(channel);
    if (!handlers) {
      handlers = new Set();
      this.channelHandlers.set(channel, handlers);
      if (!this.subscriber) {
        // subscriptions survive reconnects: ioredis re-subscribes by itself
        this.subscriber = RedisConnection.connect(this.url, { enableOfflineQueue: true, maxRetriesPerRequest: null });
        this.subscriber.on('error', () => undefined);
        this.subscriber.on('message', (ch: string, message: string) => {
          for (const h of this.channelHandlers.get(ch) ?? []) h(message);
        });
      }
      void this.subscriber.subscribe(channel).catch(() => undefined);
    }
    handlers.add(fn);
  }

  async close(): Promise<void> {
    const all = [this.client, this.subscriber].filter((c): c is Redis => c !== undefined);
    await Promise.all(all.map((c) => c.quit().catch(() => c.disconnect())));
  }
}

/**
 * Connection options of BullMQ's own connections (queues and workers): commands wait while Redis is
 * away (BullMQ needs that), and reconnecting keeps the same short back-off as the node's other
 * connections instead of BullMQ's default, which grows to 20 s between attempts.
 */
export function bullConnection(url: string) {
  return { url, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(times * 100, 2000) };
}

/** 503 for a request that needs a decision of the cluster while Redis cannot be reached. */
export function coordinationUnavailable(err: unknown): ApiError {
  const why = err instanceof Error ? err.message : String(err);
  return new ApiError('backend_unavailable', `cluster coordination unavailable (redis: ${why})`);
}

/** The URL without its password (for messages and logs). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
