/** Session retention: purge at start-up and then every `cleanup_interval_secs`. */
import type { SessionStore } from './types';

export interface RetentionOptions {
  /** `session.retention_days`; 0 (or less) disables retention. */
  retentionDays: number;
  /** `session.cleanup_interval_secs`. */
  intervalSecs: number;
  /** A session whose claim is younger than this is never deleted. */
  staleClaimMs: number;
  logger: { info(msg: string, meta?: object): void; warn(msg: string, meta?: object): void };
  /** Clock (tests). */
  now?: () => Date;
}

export interface RetentionHandle {
  stop(): void;
  /** The run in progress (or the last one), for tests and shutdown. */
  readonly running: Promise<void>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function startRetention(store: SessionStore, opts: RetentionOptions): RetentionHandle {
  let running: Promise<void> = Promise.resolve();
  if (!(opts.retentionDays > 0)) return { stop() {}, running };
  const now = opts.now ?? (() => new Date());
  let busy = false;
  let stopped = false;

  const run = (): void => {
    if (busy || stopped) return;
    busy = true;
    const cutoff = new Date(now().getTime() - opts.retentionDays * DAY_MS);
    running = store
      .purgeOlderThan(cutoff, opts.staleClaimMs)
      .then((removed) => {
        opts.logger.info('session retention: removed expired sessions', {
          removed,
          retention_days: opts.retentionDays,
        });
      })
      .catch((e: unknown) => {
        opts.logger.warn('session retention failed', { error: e instanceof Error ? e.message : String(e) });
      })
      .finally(() => {
        busy = false;
      });
  };

  run();
  const intervalMs = Math.max(1, opts.intervalSecs) * 1000;
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    get running() {
      return running;
    },
  };
}
