/**
 * One execution limiter for the whole server: at most `maxConcurrent` CLI runs at once
 * and a FIFO queue of at most `maxQueued` waiting requests.
 */
import { ApiError } from '../errors';

export interface Slot {
  release(): void;
}

export interface AcquireOptions {
  /** Aborted when the client goes away: a queued waiter is removed. */
  signal: AbortSignal;
  /** Epoch ms; a waiter still queued then gets 504 `backend_timeout`. */
  deadline: number;
  /** Later executions of an admitted aggregate request wait without the queue-size check. */
  admitted?: boolean;
  /** Called when the request is rejected from the queue (for metrics). */
  onReject?: (reason: 'queue_full' | 'queue_timeout') => void;
}

interface Waiter {
  grant(slot: Slot): void;
  fail(err: Error): void;
}

export class ExecutionLimiter {
  private runningCount = 0;
  private readonly queue: Waiter[] = [];
  private closed = false;

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueued: number,
    private readonly onChange: () => void = () => undefined,
  ) {}

  get running(): number {
    return this.runningCount;
  }

  get queued(): number {
    return this.queue.length;
  }

  acquire(opts: AcquireOptions): Promise<Slot> {
    if (this.closed) return Promise.reject(new ApiError('shutting_down', 'server shutting down'));
    if (opts.signal.aborted) return Promise.reject(new ApiError('internal_error', 'canceled: client disconnected'));
    if (this.runningCount < this.maxConcurrent && this.queue.length === 0) {
      return Promise.resolve(this.grantNew());
    }
    if (!opts.admitted && this.queue.length >= this.maxQueued) {
      opts.onReject?.('queue_full');
      return Promise.reject(new ApiError('queue_full', 'execution queue is full', { headers: { 'Retry-After': '1' } }));
    }
    return new Promise<Slot>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        this.onChange();
      };
      const waiter: Waiter = {
        grant: (slot) => {
          cleanup();
          resolve(slot);
        },
        fail: (err) => {
          cleanup();
          reject(err);
        },
      };
      const onAbort = (): void => waiter.fail(new ApiError('internal_error', 'canceled: client disconnected'));
      const timer = setTimeout(
        () => {
          opts.onReject?.('queue_timeout');
          waiter.fail(new ApiError('backend_timeout', 'timed out while waiting for an execution slot'));
        },
        Math.max(0, opts.deadline - Date.now()),
      );
      timer.unref();
      opts.signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      this.onChange();
    });
  }

  /** Rejects every queued waiter with 503 and refuses new acquisitions. */
  close(): void {
    this.closed = true;
    for (const w of [...this.queue]) w.fail(new ApiError('shutting_down', 'server shutting down'));
  }

  private grantNew(): Slot {
    this.runningCount++;
    this.onChange();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.runningCount--;
        const next = this.queue[0];
        if (next && !this.closed) next.grant(this.grantNew());
        else this.onChange();
      },
    };
  }
}
