/**
 * Mutual exclusion for the store's mutations: an in-process mutex (one holder per store object)
 * around a cross-process lock directory managed by proper-lockfile. Waiting for the directory uses
 * randomised exponential backoff; a lock not refreshed within `staleMs` belongs to a dead process
 * and is taken over by proper-lockfile.
 */
import * as lockfile from 'proper-lockfile';
import { errnoCode } from '../../lib/errno';
import { Mutex } from '../../lib/mutex';
import { sleep } from '../../lib/sleep';
import { storeUnavailable } from '../errors';
import type { StoreLogger } from './options';

export interface StoreLockOptions {
  /** The directory the lock protects. */
  dir: string;
  /** The lock directory (`store.lock`). */
  lockPath: string;
  /** How long to wait before failing with `session_store_unavailable`. */
  timeoutMs: number;
  /** proper-lockfile's staleness threshold (at least 2000 ms). */
  staleMs: number;
  logger: StoreLogger;
}

const MAX_BACKOFF_MS = 20;

export class StoreLock {
  private readonly mutex = new Mutex();

  constructor(private readonly opts: StoreLockOptions) {}

  /** Runs `fn` holding the in-process mutex and the cross-process lock. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const release = await this.acquire();
      try {
        return await fn();
      } finally {
        await release().catch((e: Error) =>
          this.opts.logger.warn('session store lock release failed', { error: e.message }),
        );
      }
    });
  }

  /** Waits until no section of this object runs (for close). */
  async drain(): Promise<void> {
    await this.mutex.run(async () => undefined);
  }

  private async acquire(): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.opts.timeoutMs;
    let backoff = 1;
    for (;;) {
      try {
        return await lockfile.lock(this.opts.dir, {
          realpath: false,
          lockfilePath: this.opts.lockPath,
          stale: this.opts.staleMs,
          retries: 0,
          onCompromised: (err: Error) =>
            this.opts.logger.warn('session store lock compromised', { error: err.message }),
        });
      } catch (e) {
        if (errnoCode(e) !== 'ELOCKED') throw e;
        if (Date.now() >= deadline) throw storeUnavailable('timed out waiting for the store lock');
        await sleep(1 + Math.random() * backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }
}
