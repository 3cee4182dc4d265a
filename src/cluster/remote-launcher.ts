/**
 * The API node's side of a run on a worker: queues it on BullMQ (`run`, or `run@<node>` for a
 * session's continuation), reads the run's stream, keeps its lease alive, cancels it through the
 * workers' channel, and ends it with `worker lost` when the worker's heartbeat expires. The
 * executor sees an ordinary run handle (docs/cluster.md, "A run across nodes").
 */
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { RunOutcome } from '../backends/runner-types';
import { ApiError, ERROR_STATUS, type ErrorCode } from '../errors';
import { CANCEL_DISCONNECT, WORKER_LOST } from '../execution/executor';
import type { LaunchedRun, LaunchSpec, RunLauncher } from '../execution/launcher';
import type { Logger } from '../observability/logger';
import type { RedisConnection } from './redis';
import { coordinationUnavailable } from './redis';
import {
  ANY_QUEUE,
  cancelChannel,
  nodeQueue,
  type RemoteRun,
  RUN_JOB_OPTIONS,
  type RunEntry,
  runKeys,
} from './run-protocol';
import type { RunStreamReader, StreamWatch } from './run-reader';
import type { WorkerDirectory } from './workers';

export interface RemoteLauncherOptions {
  /** This API node's name (logs, the job's `from`). */
  node: string;
  leaseMs: number;
  lockMs: number;
  window: number;
  affinity: 'node' | 'shared';
  logger: Logger;
}

const KNOWN_CODES = new Set<string>(Object.keys(ERROR_STATUS));

export class RemoteLauncher implements RunLauncher {
  private readonly runs = new Set<RemoteRunHandle>();
  private readonly watchdog: NodeJS.Timeout;
  /** Since when no live worker takes runs while runs wait for one. */
  private noWorkerSince: number | undefined;

  constructor(
    private readonly redis: RedisConnection,
    private readonly queue: (name: string) => Queue,
    private readonly reader: RunStreamReader,
    private readonly workers: WorkerDirectory,
    private readonly opts: RemoteLauncherOptions,
  ) {
    // worker liveness of the runs this node waits for: a lost worker ends them within lock_secs + 1 s
    this.watchdog = setInterval(() => void this.checkWorkers(), Math.min(1000, Math.max(100, opts.lockMs / 3)));
    this.watchdog.unref();
  }

  /** The working directory is checked on the worker, right before it spawns. */
  async precheck(): Promise<void> {}

  async launch(spec: LaunchSpec): Promise<LaunchedRun> {
    const pinned = this.opts.affinity === 'node' ? spec.node : undefined;
    if (pinned !== undefined) {
      const alive = await this.workers.alive([pinned]).catch((err: unknown) => {
        throw coordinationUnavailable(err);
      });
      if (!alive.has(pinned)) throw new ApiError('backend_unavailable', `session's worker ${pinned} is offline`);
    }
    const id = randomBytes(12).toString('hex');
    const keys = runKeys(this.redis, id);
    const run: RemoteRun = {
      id,
      from: this.opts.node,
      backend: spec.backend,
      args: spec.args,
      cwd: spec.cwd,
      traceparent: spec.traceparent,
      ...(spec.workdirPrefixes ? { workdirPrefixes: [...spec.workdirPrefixes] } : {}),
      deadline: spec.deadline,
      mode: spec.mode,
      maxOutputBytes: spec.maxOutputBytes,
      maxLineBytes: spec.maxLineBytes,
      killGraceMs: spec.killGraceMs,
      ...(spec.backpressure ? { window: this.opts.window } : {}),
    };
    const handle = new RemoteRunHandle(this.redis, id, spec, pinned, this.opts, run);
    this.runs.add(handle);
    void handle.done.then(() => this.runs.delete(handle));
    try {
      await this.redis.client.set(keys.lease, '0', 'PX', this.opts.leaseMs);
      handle.attach(this.reader.watch(keys.stream, (entries) => handle.onEntries(entries)));
      await this.enqueue(handle);
    } catch (err) {
      handle.abandon(coordinationUnavailable(err));
    }
    return handle.started;
  }

  private async enqueue(h: RemoteRunHandle): Promise<void> {
    await this.queue(h.pinned !== undefined ? nodeQueue(h.pinned) : ANY_QUEUE).add('run', h.run, {
      jobId: h.id,
      ...RUN_JOB_OPTIONS,
    });
  }

  /**
   * After Redis came back (possibly empty, without persistence): runs still waiting to start whose
   * queued job is gone are queued again — they never started, so nothing runs twice.
   */
  async requeueLost(): Promise<void> {
    for (const h of this.runs) {
      if (!h.waiting) continue;
      try {
        const q = this.queue(h.pinned !== undefined ? nodeQueue(h.pinned) : ANY_QUEUE);
        if (await q.getJob(h.id)) continue;
        await this.redis.client.set(runKeys(this.redis, h.id).lease, '0', 'PX', this.opts.leaseMs);
        await this.enqueue(h);
        this.opts.logger.info('cluster: queued a run again after Redis lost it', { run: h.id });
      } catch {
        // still unreachable: the next reconnect tries again
      }
    }
  }

  /** Kills every run this node waits for (shutdown). */
  killAll(reason: string): void {
    for (const r of this.runs) r.kill(reason);
  }

  private async checkWorkers(): Promise<void> {
    await this.checkAnyWorker();
    const nodes = new Set<string>();
    for (const r of this.runs) {
      const n = r.node ?? r.pinned;
      if (n !== undefined) nodes.add(n);
    }
    if (nodes.size === 0) return;
    let alive: Set<string>;
    try {
      alive = await this.workers.alive([...nodes]);
    } catch {
      return; // Redis unreachable: nothing can be decided now
    }
    for (const r of this.runs) {
      const n = r.node ?? r.pinned;
      if (n !== undefined && !alive.has(n)) r.lost(n);
    }
  }

  /**
   * Runs waiting for any worker while no worker takes runs (all lost or stopping) for `lock_secs`:
   * they end with 503 instead of waiting for their deadline.
   */
  private async checkAnyWorker(): Promise<void> {
    const waiting = [...this.runs].filter((r) => r.waiting && r.pinned === undefined);
    if (waiting.length === 0) {
      this.noWorkerSince = undefined;
      return;
    }
    let taking: number;
    try {
      taking = (await this.workers.live()).filter((w) => !w.draining).length;
    } catch {
      return; // Redis unreachable: nothing can be decided now
    }
    if (taking > 0) {
      this.noWorkerSince = undefined;
      return;
    }
    this.noWorkerSince ??= Date.now();
    if (Date.now() - this.noWorkerSince < this.opts.lockMs) return;
    for (const r of waiting) r.abandon(new ApiError('backend_unavailable', 'no live worker takes runs'));
  }

  close(): void {
    clearInterval(this.watchdog);
  }
}

/** One run on a worker, as the executor's run handle. */
class RemoteRunHandle implements LaunchedRun {
  pid = 0;
  node: string | undefined;
  readonly started: Promise<LaunchedRun>;
  readonly done: Promise<RunOutcome>;
  private resolveStarted!: (h: LaunchedRun) => void;
  private rejectStarted!: (err: Error) => void;
  private resolveDone!: (o: RunOutcome) => void;
  private state: 'waiting' | 'running' | 'ended' = 'waiting';
  private watch: StreamWatch | undefined;
  private killReason: string | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly leaseTimer: NodeJS.Timeout;
  private readonly deadlineTimer: NodeJS.Timeout;
  private reported = 0;
  private readonly keys: ReturnType<typeof runKeys>;
  private readonly onAbort = (): void => this.abandon(new ApiError('internal_error', CANCEL_DISCONNECT));

  constructor(
    private readonly redis: RedisConnection,
    readonly id: string,
    private readonly spec: LaunchSpec,
    readonly pinned: string | undefined,
    private readonly opts: RemoteLauncherOptions,
    readonly run: RemoteRun,
  ) {
    this.keys = runKeys(redis, id);
    this.started = new Promise((resolve, reject) => {
      this.resolveStarted = resolve;
      this.rejectStarted = reject;
    });
    this.started.catch(() => undefined);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.leaseTimer = setInterval(() => this.renewLease(), Math.max(100, Math.floor(opts.leaseMs / 3)));
    this.leaseTimer.unref();
    // still queued at the deadline: given up (the executor's own timer kills a started run)
    this.deadlineTimer = setTimeout(
      () => this.abandon(new ApiError('backend_timeout', 'timed out while waiting for a worker')),
      Math.max(0, spec.deadline - Date.now()),
    );
    this.deadlineTimer.unref();
    if (spec.signal?.aborted) queueMicrotask(this.onAbort);
    else spec.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get waiting(): boolean {
    return this.state === 'waiting';
  }

  attach(watch: StreamWatch): void {
    this.watch = watch;
  }

  onEntries(entries: RunEntry[]): void {
    for (const e of entries) {
      if (this.state === 'ended') return;
      if (e.t === 'line') {
        this.spec.onLine?.(e.l);
      } else if (e.t === 'spawned') {
        if (this.state !== 'waiting') continue;
        this.state = 'running';
        this.pid = e.pid;
        this.node = e.node;
        clearTimeout(this.deadlineTimer);
        this.spec.signal?.removeEventListener('abort', this.onAbort);
        this.resolveStarted(this);
      } else if (e.t === 'refused') {
        const code = KNOWN_CODES.has(e.code) ? (e.code as ErrorCode) : 'backend_unavailable';
        this.end(undefined, new ApiError(code, e.message));
      } else if (e.t === 'exit') {
        this.end(e.outcome);
      }
    }
    // the reader's position for the worker's backpressure, a few times per window
    const count = this.watch?.count ?? 0;
    if (count - this.reported >= Math.max(1, this.opts.window / 4)) this.renewLease();
  }

  kill(reason: string): void {
    if (this.state === 'ended') return;
    this.killReason ??= reason;
    void this.redis.client
      .multi()
      .set(this.keys.cancel, reason, 'PX', 60_000)
      .publish(cancelChannel(this.redis), JSON.stringify({ id: this.id, reason }))
      .exec()
      .catch(() => undefined);
    if (this.state === 'running' && !this.killTimer) {
      // the worker answers a kill with the run's exit entry; if that never comes (the message or
      // the entry was lost), the run ends here anyway once the worker would surely have answered
      this.killTimer = setTimeout(
        () => this.end(this.synthetic(this.killReason ?? reason)),
        this.spec.killGraceMs + this.opts.lockMs + 1000,
      );
      this.killTimer.unref();
    }
  }

  pause(): void {
    this.watch?.pause();
  }

  resume(): void {
    this.watch?.resume();
    this.renewLease();
  }

  /** Gives up a run that has not started (client gone, deadline, Redis failure): it is cancelled. */
  abandon(err: ApiError): void {
    if (this.state !== 'waiting') return;
    this.kill(err.message);
    this.end(undefined, err);
  }

  /** The worker's heartbeat expired. */
  lost(node: string): void {
    if (this.state === 'ended') return;
    this.opts.logger.warn('cluster: worker lost during a run', { worker: node, run: this.id });
    if (this.state === 'waiting') {
      this.abandon(new ApiError('backend_unavailable', `session's worker ${node} is offline`));
      return;
    }
    this.kill(WORKER_LOST);
    this.end(this.synthetic(WORKER_LOST));
  }

  /** The outcome of a run whose end the worker did not report. */
  private synthetic(killReason: string): RunOutcome {
    return {
      exit: { code: null, signal: null },
      stdout: '',
      stderr: '',
      outputTooLarge: false,
      lineTooLong: false,
      killReason,
    };
  }

  private renewLease(): void {
    if (this.state === 'ended') return;
    const count = this.watch?.count ?? 0;
    this.reported = count;
    void this.redis.client.set(this.keys.lease, String(count), 'PX', this.opts.leaseMs).catch(() => undefined);
  }

  private end(outcome: RunOutcome | undefined, err?: ApiError): void {
    if (this.state === 'ended') return;
    const wasWaiting = this.state === 'waiting';
    this.state = 'ended';
    clearInterval(this.leaseTimer);
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.killTimer);
    this.spec.signal?.removeEventListener('abort', this.onAbort);
    this.watch?.close();
    void this.redis.client.del(this.keys.lease).catch(() => undefined);
    if (wasWaiting) this.rejectStarted(err ?? new ApiError('backend_unavailable', 'run ended before it started'));
    this.resolveDone(outcome ?? this.synthetic(this.killReason ?? 'canceled'));
  }
}
