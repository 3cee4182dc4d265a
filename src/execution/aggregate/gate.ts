/**
 * Admission and cancellation gate of one aggregate request: the cancellation controller of all its
 * runs, why it stopped, and the admission rule of the server-wide limiter (only the first execution
 * of a request is subject to the queue-size check; later ones wait as admitted executions).
 */
import type { SchemaTaskResult } from '../../../generated/types';
import type { BackendName } from '../../backends/types';
import { ApiError } from '../../errors';
import { CANCEL_DISCONNECT, Executor } from '../executor';
import type { Slot } from '../limiter';
import type { ExecContext } from '../types';
import { canceledItem } from './items';
import type { ItemObserver } from './types';

/** Error text of items that never started, per reason the aggregate stopped. */
export const NOT_STARTED_ERROR = {
  fail_fast: 'canceled (fail_fast)',
  disconnect: CANCEL_DISCONNECT,
  timeout: 'canceled (request deadline passed before the task started)',
  shutdown: 'canceled (server shutting down)',
  rejected: 'canceled (execution queue full)',
} as const;

export type StopReason = keyof typeof NOT_STARTED_ERROR;

export class AggregateGate {
  readonly controller = new AbortController();
  /** The context every item runs with: the request's, with this aggregate's cancellation signal. */
  readonly itemCtx: ExecContext;
  stopReason?: StopReason;
  /** The error of the request-level rejection of the first execution (429, 503 or 504). */
  rejection?: ApiError;
  /** Some item was killed or not started because of the deadline / shutdown. */
  timedOut = false;
  shutDown = false;
  readonly startedAt = Date.now();
  private admission?: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort: () => void;

  constructor(
    private readonly ctx: ExecContext,
    private readonly executor: Executor,
    readonly observer?: ItemObserver,
    /** Executions the request needs (the key's daily quota must cover them all). */
    private readonly items = 1,
  ) {
    this.itemCtx = { ...ctx, signal: this.controller.signal };
    this.onAbort = () => this.stop('disconnect');
    if (ctx.signal.aborted) this.onAbort();
    else ctx.signal.addEventListener('abort', this.onAbort, { once: true });
    // Running children are killed by the executor at the same deadline (status `timeout`);
    // this only stops the aggregate from starting anything more.
    this.timer = setTimeout(() => this.stop('timeout'), Math.max(0, ctx.deadline - Date.now()));
    this.timer.unref();
  }

  get stopped(): boolean {
    return this.stopReason !== undefined;
  }

  /** Stops starting new items; fail_fast and disconnect also kill the running ones. */
  stop(reason: StopReason): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    if (reason === 'fail_fast') this.controller.abort(NOT_STARTED_ERROR.fail_fast);
    else if (reason === 'disconnect') this.controller.abort(cancelReason(this.ctx.signal));
  }

  /** The item of a task that was never started because the aggregate stopped. */
  notStarted(backend: BackendName): SchemaTaskResult {
    const reason = this.stopReason ?? 'disconnect';
    if (reason === 'timeout') this.timedOut = true;
    if (reason === 'shutdown') this.shutDown = true;
    return canceledItem(backend, NOT_STARTED_ERROR[reason]);
  }

  /**
   * A limiter slot. The first call of the request is the admission check; every later call waits
   * until it was decided and then waits as an admitted execution. Must be called before any await
   * in the caller so that the first item in request order is the admission check.
   */
  acquire(run: { backend: string; workdir: string }): Promise<Slot> {
    if (this.admission) {
      return this.admission.then(() => {
        if (this.stopped) throw new ApiError('internal_error', 'aggregate stopped');
        return this.executor.acquire({ ...this.itemCtx, admitted: true }, run);
      });
    }
    let open!: () => void;
    this.admission = new Promise<void>((resolve) => (open = resolve));
    return this.executor.acquire(this.itemCtx, { ...run, items: this.items }).then(
      (slot) => {
        open();
        return slot;
      },
      (err: unknown) => {
        // decided before the gate opens, so that no later item is queued after a rejection
        if (err instanceof ApiError && err.code !== 'internal_error') this.reject(err);
        open();
        throw err;
      },
    );
  }

  /** A later (admitted) acquisition failed: the aggregate stops for the same reason. */
  acquireFailed(err: ApiError): void {
    if (err.code === 'backend_timeout') this.stop('timeout');
    else if (err.code === 'shutting_down') this.stop('shutdown');
  }

  get totalDurationMs(): number {
    return Date.now() - this.startedAt;
  }

  finish(): void {
    clearTimeout(this.timer);
    this.ctx.signal.removeEventListener('abort', this.onAbort);
  }

  /** Records the request-level rejection of the first execution (429, 503 or 504). */
  private reject(err: ApiError): void {
    if (this.rejection) return;
    this.rejection = err;
    if (err.code === 'queue_full' || err.code === 'quota_exceeded' || err.code === 'key_concurrency_limit') {
      this.stop('rejected');
    } else if (err.code === 'backend_timeout') this.stop('timeout');
    else if (err.code === 'shutting_down') this.stop('shutdown');
  }
}

/** The parent's abort reason when it names a cancel (`canceled: …`), else a client disconnect. */
function cancelReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return typeof r === 'string' && r.startsWith('canceled') ? r : CANCEL_DISCONNECT;
}
