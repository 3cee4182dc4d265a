/**
 * Whether the store's directory is usable. Opening never throws: an unusable directory shows in
 * `health()` and as `session_store_unavailable`, and initialisation is retried (at most once a
 * second from operations, at every health check) until it succeeds.
 */
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import { errorMessage } from '../../lib/error-message';
import { describeFsError } from '../../lib/fs-error';
import { ApiError } from '../../errors';
import { storeUnavailable } from '../errors';
import type { StoreLogger } from './options';

/** After a failed initialisation, operations retry it at most this often. */
const INIT_RETRY_MS = 1000;

export class Readiness {
  ready = false;
  closed = false;
  lastError = 'not initialised';
  private lastAttempt = 0;
  private initializing: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly log: StoreLogger,
    private readonly init: () => Promise<void>,
  ) {}

  /** Runs the initialisation unless ready, closed, running, or (without `force`) tried less than a second ago. */
  tryInit(force: boolean): Promise<void> {
    if (this.ready || this.closed) return Promise.resolve();
    if (this.initializing) return this.initializing;
    if (!force && Date.now() - this.lastAttempt < INIT_RETRY_MS) return Promise.resolve();
    this.lastAttempt = Date.now();
    this.initializing = this.init()
      .then(
        () => {
          this.ready = true;
          this.lastError = '';
        },
        (e: unknown) => {
          this.lastError =
            e instanceof ApiError ? e.message.replace(/^session store unavailable: /, '') : describeFsError(e);
          this.log.warn('session store unavailable', { dir: this.dir, error: errorMessage(e) });
        },
      )
      .finally(() => {
        this.initializing = undefined;
      });
    return this.initializing;
  }

  /** Throws `session_store_unavailable` unless the store is (or just became) ready. */
  async ensureReady(): Promise<void> {
    if (this.closed) throw storeUnavailable('session store is closed');
    if (!this.ready) await this.tryInit(false);
    if (!this.ready) throw storeUnavailable(this.lastError);
  }

  /** The reason the directory is unusable (no path in it), or undefined. */
  async checkDir(): Promise<string | undefined> {
    try {
      const st = await fsp.stat(this.dir);
      if (!st.isDirectory()) return 'ENOTDIR: sessions path is not a directory';
      await fsp.access(this.dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
      return undefined;
    } catch (e) {
      return describeFsError(e);
    }
  }

  markUnavailable(reason: string): void {
    if (this.ready) this.log.warn('session store became unavailable', { dir: this.dir, error: reason });
    this.ready = false;
    this.lastError = reason;
  }
}
