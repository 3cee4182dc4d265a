/**
 * One execution limiter for the whole server: at most `maxConcurrent` CLI runs at once and a FIFO
 * queue of at most `maxQueued` waiting synchronous requests.
 *
 * Two lanes share the slots. Synchronous callers hold a connection, so they always go first; job
 * executions wait in their own lane (not counted against `maxQueued`: jobs have their own durable
 * queue) and get a slot only when no synchronous waiter can take it. With exclusive working
 * directories, a waiter whose directory is in use waits for it like for a slot (later waiters
 * whose directory is free may pass it).
 *
 * Every waiter and every granted slot is an entry of the executions list (`entries()`).
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors';

export interface Slot {
  release(): void;
}

export type Lane = 'sync' | 'job';

/** What the executions list shows about one execution (and how to cancel it). */
export interface ExecutionMeta {
  kind: string;
  key: string;
  requestId: string;
  backend?: string;
  jobId?: string;
  sessionId?: string;
  /** Stops the execution as a client disconnect (or a job cancel) would. */
  cancel?: (reason: string) => void;
}

export interface ExecutionEntry extends ExecutionMeta {
  id: string;
  state: 'queued' | 'running';
  queuedAt?: number;
  startedAt?: number;
}

export interface AcquireOptions {
  /** Aborted when the client goes away: a queued waiter is removed. */
  signal: AbortSignal;
  /** Epoch ms; a waiter still queued then gets 504 `backend_timeout`. */
  deadline: number;
  /** Later executions of an admitted aggregate request wait without the queue-size check. */
  admitted?: boolean;
  /** `job`: the background lane (after every synchronous waiter, no queue-size check). */
  lane?: Lane;
  /** Real working directory (used only when directories are exclusive). */
  workdir?: string;
  meta?: ExecutionMeta;
  /** Called when the request is rejected from the queue (for metrics). */
  onReject?: (reason: 'queue_full' | 'queue_timeout') => void;
  /** Called once when the slot is granted. */
  onGranted?: () => void;
}

/** One execution asking a cluster-wide admission gate for a place (see `cluster/admission.ts`). */
export interface AdmissionRequest {
  lane: Lane;
  /** Part of an admitted aggregate request: waits without the queue-size check. */
  admitted: boolean;
  signal: AbortSignal;
  deadline: number;
  onReject?: (reason: 'queue_full' | 'queue_timeout') => void;
  /** Called when the execution has to wait for a place. */
  onQueued?: () => void;
}

/**
 * A limit shared with other server processes (cluster mode). It is asked before the local limiter:
 * resolves with the function that gives the place back once the execution may run, or rejects like
 * the local queue does (`queue_full`, `backend_timeout`, canceled) or with 503 when it cannot decide.
 */
export interface AdmissionGate {
  admit(req: AdmissionRequest): Promise<() => void>;
}

interface Waiter {
  workdir?: string;
  entry?: ExecutionEntry;
  grant(slot: Slot): void;
  fail(err: Error): void;
}

export class ExecutionLimiter {
  private runningCount = 0;
  private readonly syncQueue: Waiter[] = [];
  private readonly jobQueue: Waiter[] = [];
  /** Working directories in use (exclusive mode only), with their number of holders. */
  private readonly busyDirs = new Map<string, number>();
  private readonly runningEntries = new Set<ExecutionEntry>();
  private readonly idleListeners: (() => void)[] = [];
  /** Executions waiting at the admission gate (cluster mode). */
  private readonly gateWaiting = new Set<ExecutionEntry>();
  private readonly closing = new AbortController();
  private closed = false;

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueued: number,
    private readonly onChange: () => void = () => undefined,
    readonly exclusiveWorkdirs = false,
    /** Cluster mode: the cluster-wide limit, asked before this process's own slots. */
    private readonly gate?: AdmissionGate,
  ) {}

  /** Number of executions holding a slot. */
  get running(): number {
    return this.runningCount;
  }

  /** Waiters of both lanes. */
  get queued(): number {
    return this.syncQueue.length + this.jobQueue.length + this.gateWaiting.size;
  }

  /** Synchronous waiters only. */
  get queuedSync(): number {
    return this.syncQueue.length;
  }

  /**
   * True when a job execution asking now would get a slot at once: a slot is free and no
   * synchronous waiter could take it.
   */
  jobSlotFree(workdir?: string): boolean {
    return this.freeJobSlots() > 0 && this.dirFree(workdir);
  }

  /** Slots the job lane may take now (0 while a synchronous waiter could take one). */
  freeJobSlots(): number {
    if (this.closed || this.runningCount >= this.maxConcurrent) return 0;
    if (this.syncQueue.some((w) => this.dirFree(w.workdir))) return 0;
    return this.maxConcurrent - this.runningCount - this.jobQueue.filter((w) => this.dirFree(w.workdir)).length;
  }

  /** Called whenever a slot may have become available to the job lane. */
  onSlotFree(fn: () => void): void {
    this.idleListeners.push(fn);
  }

  /** Running executions (oldest first), then queued ones (synchronous lane first, in order). */
  entries(): ExecutionEntry[] {
    const queued = [...this.syncQueue, ...this.jobQueue].map((w) => w.entry).filter((e) => e !== undefined);
    return [...this.runningEntries, ...this.gateWaiting, ...queued];
  }

  acquire(opts: AcquireOptions): Promise<Slot> {
    if (this.closed) return Promise.reject(new ApiError('shutting_down', 'server shutting down'));
    if (opts.signal.aborted) return Promise.reject(new ApiError('internal_error', 'canceled: client disconnected'));
    const entry: ExecutionEntry | undefined = opts.meta
      ? { ...opts.meta, id: randomBytes(16).toString('hex'), state: 'queued', queuedAt: Date.now() }
      : undefined;
    return this.gate ? this.acquireThroughGate(this.gate, opts, entry) : this.acquireLocal(opts, entry);
  }

  /** Cluster mode: a place in the cluster first, then (at once, as the gate bounds it) a local slot. */
  private async acquireThroughGate(
    gate: AdmissionGate,
    opts: AcquireOptions,
    entry: ExecutionEntry | undefined,
  ): Promise<Slot> {
    if (entry) this.gateWaiting.add(entry);
    this.onChange();
    let giveBack: () => void;
    try {
      giveBack = await gate.admit({
        lane: opts.lane ?? 'sync',
        admitted: opts.admitted === true,
        signal: AbortSignal.any([opts.signal, this.closing.signal]),
        deadline: opts.deadline,
        onReject: opts.onReject,
      });
    } catch (err) {
      if (this.closed) throw new ApiError('shutting_down', 'server shutting down');
      throw err;
    } finally {
      if (entry) this.gateWaiting.delete(entry);
      this.onChange();
    }
    try {
      const slot = await this.acquireLocal({ ...opts, admitted: true }, entry);
      return {
        release: () => {
          slot.release();
          giveBack();
        },
      };
    } catch (err) {
      giveBack();
      throw err;
    }
  }

  private acquireLocal(opts: AcquireOptions, entry: ExecutionEntry | undefined): Promise<Slot> {
    if (this.closed) return Promise.reject(new ApiError('shutting_down', 'server shutting down'));
    const lane = opts.lane ?? 'sync';
    const workdir = this.exclusiveWorkdirs ? opts.workdir : undefined;
    const free =
      lane === 'sync'
        ? this.runningCount < this.maxConcurrent && !this.syncQueue.some((w) => this.dirFree(w.workdir))
        : this.jobSlotFree();
    if (free && this.dirFree(workdir)) {
      const slot = this.grantNew(workdir, entry);
      opts.onGranted?.();
      return Promise.resolve(slot);
    }
    if (lane === 'sync' && !opts.admitted && this.syncQueue.length >= this.maxQueued) {
      opts.onReject?.('queue_full');
      return Promise.reject(new ApiError('queue_full', 'execution queue is full', { headers: { 'Retry-After': '1' } }));
    }
    const queue = lane === 'sync' ? this.syncQueue : this.jobQueue;
    return new Promise<Slot>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        this.onChange();
      };
      const waiter: Waiter = {
        workdir,
        entry,
        grant: (slot) => {
          cleanup();
          opts.onGranted?.();
          resolve(slot);
        },
        fail: (err) => {
          cleanup();
          reject(err);
          // a waiter that leaves may unblock the job lane
          this.notifyIdle();
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
      queue.push(waiter);
      this.onChange();
    });
  }

  /** Rejects every queued waiter with 503 and refuses new acquisitions. */
  close(): void {
    this.closed = true;
    this.closing.abort();
    for (const w of [...this.syncQueue, ...this.jobQueue])
      w.fail(new ApiError('shutting_down', 'server shutting down'));
  }

  private dirFree(workdir: string | undefined): boolean {
    return workdir === undefined || !this.busyDirs.has(workdir);
  }

  private grantNew(workdir: string | undefined, entry: ExecutionEntry | undefined): Slot {
    this.runningCount++;
    if (workdir !== undefined) this.busyDirs.set(workdir, (this.busyDirs.get(workdir) ?? 0) + 1);
    if (entry) {
      entry.state = 'running';
      entry.startedAt = Date.now();
      this.runningEntries.add(entry);
    }
    this.onChange();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.runningCount--;
        if (workdir !== undefined) {
          const n = (this.busyDirs.get(workdir) ?? 1) - 1;
          if (n > 0) this.busyDirs.set(workdir, n);
          else this.busyDirs.delete(workdir);
        }
        if (entry) this.runningEntries.delete(entry);
        this.dispatch();
        this.onChange();
        this.notifyIdle();
      },
    };
  }

  /** Grants free slots to waiters: synchronous ones first, each lane in order. */
  private dispatch(): void {
    if (this.closed) return;
    for (const queue of [this.syncQueue, this.jobQueue]) {
      for (let i = 0; i < queue.length && this.runningCount < this.maxConcurrent;) {
        const w = queue[i];
        if (!this.dirFree(w.workdir)) {
          i++;
          continue;
        }
        w.grant(this.grantNew(w.workdir, w.entry)); // removes w from the queue
      }
      if (this.runningCount >= this.maxConcurrent) return;
    }
  }

  private notifyIdle(): void {
    if (this.closed || !this.jobSlotFree()) return;
    for (const fn of this.idleListeners) fn();
  }
}
