/**
 * What an API node and a worker tell each other about one run (see docs/cluster.md, "A run across
 * nodes"). The API node queues a BullMQ job holding a `RemoteRun`; the worker answers on the run's
 * own Redis Stream: `spawned` (or `refused`), one `line` per stdout line, and `exit` with the outcome.
 * The API node keeps a lease on the run (a key with an expiry; its value is how many entries it has
 * read) and cancels through a channel every worker listens to.
 */
import type { RunOutcome } from '../backends/runner-types';
import type { BackendName } from '../backends/types';
import type { RedisConnection } from './redis';

/** The BullMQ job's data. */
export interface RemoteRun {
  id: string;
  /** The API node that waits for it (logs). */
  from: string;
  backend: BackendName;
  args: string[];
  cwd: string;
  traceparent: string;
  workdirPrefixes?: string[];
  deadline: number;
  mode: 'collect' | 'lines';
  maxOutputBytes?: number;
  maxLineBytes?: number;
  killGraceMs: number;
  /** Pause the CLI while the reader is `window` entries behind (synchronous streams only). */
  window?: number;
  /** Set by a stopping worker that gave the run back to the queue unstarted (it is never handed back twice). */
  handedBack?: string;
}

export type RunEntry =
  | { t: 'spawned'; pid: number; node: string }
  | { t: 'refused'; code: string; message: string; node: string }
  | { t: 'line'; l: string }
  | { t: 'exit'; outcome: RunOutcome };

/** Queue of runs any worker may take. */
export const ANY_QUEUE = 'run';
/** Queue of the runs only worker `node` may take (a session's continuations). */
export function nodeQueue(node: string): string {
  return `run@${node}`;
}

export function runKeys(redis: RedisConnection, id: string) {
  return {
    stream: redis.key('run', id, 'events'),
    lease: redis.key('run', id, 'lease'),
    cancel: redis.key('run', id, 'cancel'),
  };
}

/** Channel carrying `{ id, reason }` cancel messages to every worker. */
export function cancelChannel(redis: RedisConnection): string {
  return redis.key('run-cancel');
}

export function encodeEntry(e: RunEntry): string {
  return JSON.stringify(e);
}

export function decodeEntry(raw: string): RunEntry | undefined {
  try {
    const v = JSON.parse(raw) as RunEntry;
    return v && typeof v === 'object' && typeof v.t === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** How long a finished run's stream is kept (a late reader still finds its end). */
export const STREAM_TTL_SECS = 600;

/**
 * BullMQ options of every run: tried once (a run is never repeated), and its job — which holds the
 * prompt in its argv — removed from Redis a minute after it ended (ten for a failed one, to inspect).
 */
export const RUN_JOB_OPTIONS = { attempts: 1, removeOnComplete: { age: 60 }, removeOnFail: { age: 600 } } as const;
