/**
 * Mutual exclusion for the store's mutations: an in-process mutex (one holder per store object)
 * around a cross-process lock directory managed by proper-lockfile, waited for with randomised
 * exponential backoff.
 *
 * Stale locks: proper-lockfile takes over a lock directory not refreshed within `staleMs`. On top of
 * that the holder records itself next to the lock (`store.lock.owner`: host, pid, pid start time,
 * and the lock directory's inode and birth time, so the record cannot be mistaken for the one of a
 * later lock); a lock whose recorded holder is provably dead is taken over at once. Any wait longer
 * than `warnAfterMs` is logged at warn with what is waited for.
 */
import * as fs from 'fs';
import * as lockfile from 'proper-lockfile';
import { errnoCode } from '../../lib/errno';
import { Mutex } from '../../lib/mutex';
import { parseProcessIdentity, type ProcessIdentity } from '../../lib/process-identity';
import { sleep } from '../../lib/sleep';
import { storeUnavailable } from '../errors';
import type { StoreLogger } from './options';

export interface StoreLockOptions {
  /** The directory the lock protects. */
  dir: string;
  /** The lock directory (`store.lock`); the holder record is `<lockPath>.owner`. */
  lockPath: string;
  /** How long to wait before failing with `session_store_unavailable`. */
  timeoutMs: number;
  /** proper-lockfile's staleness threshold (at least 2000 ms). */
  staleMs: number;
  logger: StoreLogger;
  /** This process, recorded as the holder. */
  holder: ProcessIdentity;
  /** Whether a recorded holder is provably dead. */
  isHolderDead(holder: ProcessIdentity): boolean;
  /** A wait longer than this is logged at warn (default 1000 ms). */
  warnAfterMs?: number;
}

const MAX_BACKOFF_MS = 20;

/** The holder record: who holds the lock, and which lock directory (inode + birth time) it is about. */
interface OwnerRecord {
  holder: ProcessIdentity;
  ino: number;
  birthtimeMs: number;
}

export class StoreLock {
  private readonly mutex = new Mutex();
  private readonly ownerPath: string;

  constructor(private readonly opts: StoreLockOptions) {
    this.ownerPath = `${opts.lockPath}.owner`;
  }

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
    const started = Date.now();
    const deadline = started + this.opts.timeoutMs;
    const warnAfter = this.opts.warnAfterMs ?? 1000;
    let warned = false;
    let backoff = 1;
    for (;;) {
      try {
        const release = await lockfile.lock(this.opts.dir, {
          realpath: false,
          lockfilePath: this.opts.lockPath,
          stale: this.opts.staleMs,
          retries: 0,
          onCompromised: (err: Error) =>
            this.opts.logger.warn('session store lock compromised', { error: err.message }),
        });
        const own = this.recordOwner();
        return async () => {
          if (own) this.removeOwner(own);
          await release();
        };
      } catch (e) {
        if (errnoCode(e) !== 'ELOCKED') throw e;
      }
      const owner = this.readOwner();
      if (owner && this.opts.isHolderDead(owner.holder) && this.breakLock(owner)) {
        this.opts.logger.info('session store lock of a dead process taken over', {
          lock: this.opts.lockPath,
          holder_pid: owner.holder.pid,
        });
        continue;
      }
      const waited = Date.now() - started;
      if (!warned && waited > warnAfter) {
        warned = true;
        this.opts.logger.warn('waiting for the session store lock', {
          lock: this.opts.lockPath,
          waited_ms: waited,
          holder: owner ? { host: owner.holder.host, pid: owner.holder.pid } : 'unknown',
          taken_over_after_ms: this.opts.staleMs,
        });
      }
      if (Date.now() >= deadline) throw storeUnavailable('timed out waiting for the store lock');
      await sleep(1 + Math.random() * backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /** Records this process as the holder of the lock directory just created; the record's text, or undefined. */
  private recordOwner(): string | undefined {
    try {
      const st = fs.statSync(this.opts.lockPath);
      const record: OwnerRecord = { holder: this.opts.holder, ino: st.ino, birthtimeMs: st.birthtimeMs };
      const text = JSON.stringify(record);
      const tmp = `${this.ownerPath}.${process.pid}`;
      fs.writeFileSync(tmp, text, { mode: 0o600 });
      fs.renameSync(tmp, this.ownerPath);
      return text;
    } catch (e) {
      // Without the record, a crash of this process leaves a lock that only staleness recovers.
      this.opts.logger.debug('session store lock owner not recorded', { error: (e as Error).message });
      return undefined;
    }
  }

  private removeOwner(own: string): void {
    try {
      if (fs.readFileSync(this.ownerPath, 'utf8') === own) fs.unlinkSync(this.ownerPath);
    } catch {
      /* gone already, or replaced by the next holder */
    }
  }

  /** The holder record when it describes the lock directory that exists now, else undefined. */
  private readOwner(): OwnerRecord | undefined {
    try {
      const v = JSON.parse(fs.readFileSync(this.ownerPath, 'utf8')) as Record<string, unknown>;
      const holder = parseProcessIdentity(v.holder);
      if (!holder || typeof v.ino !== 'number' || typeof v.birthtimeMs !== 'number') return undefined;
      const st = fs.statSync(this.opts.lockPath);
      if (st.ino !== v.ino || st.birthtimeMs !== v.birthtimeMs) return undefined;
      return { holder, ino: v.ino, birthtimeMs: v.birthtimeMs };
    } catch {
      return undefined;
    }
  }

  /** Removes the lock directory of a dead holder (unless it was replaced meanwhile); true when it is gone. */
  private breakLock(owner: OwnerRecord): boolean {
    try {
      const st = fs.statSync(this.opts.lockPath);
      if (st.ino !== owner.ino || st.birthtimeMs !== owner.birthtimeMs) return false;
      fs.rmdirSync(this.opts.lockPath);
      return true;
    } catch (e) {
      return errnoCode(e) === 'ENOENT';
    }
  }
}
