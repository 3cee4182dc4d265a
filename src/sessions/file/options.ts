/** Options and logger of the file session store. */
import type { ClaimHolder } from '../types';

export interface StoreLogger {
  warn(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  debug(msg: string, meta?: object): void;
}

export const silentLogger: StoreLogger = { warn() {}, info() {}, debug() {} };

export interface FileSessionStoreOptions {
  /** The sessions directory (`$CLINVK_HOME/sessions`). */
  dir: string;
  logger?: StoreLogger;
  /** Clock for record timestamps and claim staleness (tests). */
  now?: () => Date;
  /** Minimum journal lines before a compaction (default 5000; the threshold is max(this, sessions)). */
  compactMinLines?: number;
  /** How long a mutation waits for the cross-process lock before failing (default 30 000 ms). */
  lockTimeoutMs?: number;
  /** A lock not refreshed for this long belongs to a dead process and is taken over (default 10 000 ms, min 2000). */
  lockStaleMs?: number;
  /** The process recorded with this store's claims (default: this process). */
  holder?: ClaimHolder;
  /** Whether a claim holder is provably dead (default: same host and boot, pid gone or reused). */
  isHolderDead?: (holder: ClaimHolder) => boolean;
}
