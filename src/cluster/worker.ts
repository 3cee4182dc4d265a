/**
 * A worker node: takes runs from BullMQ (`run` and its own `run@<node_id>`), checks the working
 * directory and the backend on its own filesystem, spawns the CLI with the local launcher and writes
 * what happens to the run's stream. A run is tried once: a worker that dies leaves its BullMQ job
 * stalled, and a stalled job fails instead of running an agent twice (docs/cluster.md).
 */
import { Worker, type Job, type Queue } from 'bullmq';
import type { BackendAvailability } from '../backends/availability';
import type { RunHandle } from '../backends/runner-types';
import type { VersionProbe } from '../backends/version-probe';
import { ApiError } from '../errors';
import { KILL_SHUTDOWN, KILL_TIMEOUT } from '../execution/executor';
import type { LocalLauncher } from '../execution/launcher';
import type { Logger } from '../observability/logger';
import { bullConnection, type RedisConnection } from './redis';
import {
  ANY_QUEUE,
  cancelChannel,
  encodeEntry,
  nodeQueue,
  type RemoteRun,
  type RunEntry,
  RUN_JOB_OPTIONS,
  runKeys,
  STREAM_TTL_SECS,
} from './run-protocol';
import { WorkerHeartbeat, type WorkerReport } from './workers';

/** Kill reason of a run whose API node stopped renewing its lease. */
export const LEASE_LAPSED = 'canceled: the API node waiting for the run is gone';

export interface WorkerOptions {
  node: string;
  slots: number;
  lockMs: number;
  bullPrefix: string;
  logger: Logger;
}

interface Active {
  run: RemoteRun;
  handle: RunHandle;
  written: number;
  paused: boolean;
}

export class ClusterWorker {
  private readonly workers: Worker[] = [];
  private readonly active = new Map<string, Active>();
  private readonly heartbeat: WorkerHeartbeat;
  private leaseTimer: NodeJS.Timeout | undefined;
  private free: number;
  private readonly waiting: (() => void)[] = [];
  private draining = false;
  /** The consumer of `run` (the queue any worker may take from), paused while every slot is busy. */
  private anyQueue: Worker | undefined;
  private anyPaused = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly local: LocalLauncher,
    private readonly availability: BackendAvailability,
    private readonly versions: VersionProbe,
    /** The node's BullMQ queues (shared with its API side), to give a run back. */
    private readonly queue: (name: string) => Queue,
    private readonly opts: WorkerOptions,
  ) {
    this.free = opts.slots;
    this.heartbeat = new WorkerHeartbeat(redis, opts.node, opts.lockMs, () => this.report());
  }

  /** CLI runs in progress here. */
  get running(): number {
    return this.active.size;
  }

  async start(): Promise<void> {
    this.redis.subscribe(cancelChannel(this.redis), (msg) => this.onCancel(msg));
    await this.heartbeat.start();
    // a Redis that restarted empty learns at once that this worker is alive
    this.redis.client.on('ready', () => void this.heartbeat.beat().catch(() => undefined));
    const connection = bullConnection(this.redis.url);
    for (const name of [nodeQueue(this.opts.node), ANY_QUEUE]) {
      const w = new Worker(name, (job: Job<RemoteRun>) => this.process(job.data, name === ANY_QUEUE), {
        connection,
        prefix: this.opts.bullPrefix,
        concurrency: this.opts.slots,
        lockDuration: this.opts.lockMs,
        stalledInterval: this.opts.lockMs,
        maxStalledCount: 0,
        removeOnComplete: RUN_JOB_OPTIONS.removeOnComplete,
        removeOnFail: RUN_JOB_OPTIONS.removeOnFail,
      });
      w.on('error', (err) => this.opts.logger.debug('cluster worker: queue error', { error: err.message }));
      this.workers.push(w);
      if (name === ANY_QUEUE) this.anyQueue = w;
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    this.leaseTimer = setInterval(() => void this.watchLeases(), 250);
    this.leaseTimer.unref();
    this.opts.logger.info('cluster worker ready', { node: this.opts.node, slots: this.opts.slots });
  }

  private async report(): Promise<WorkerReport> {
    const backends = await this.availability.checkAll();
    for (const b of backends) {
      if (!b.available || !b.command) continue;
      const v = await this.versions.peek(b.name, b.command);
      if (v?.version) {
        b.version = v.version;
        b.verified = v.verified ?? false;
      } else void this.versions.get(b.name, b.command).catch(() => undefined);
    }
    return {
      node: this.opts.node,
      slots: this.opts.slots,
      running: this.active.size,
      draining: this.draining,
      backends,
    };
  }

  /** One run, from the queue to its `exit` entry. Never throws: every failure is an entry. */
  private async process(run: RemoteRun, anyWorker: boolean): Promise<void> {
    await this.slot();
    try {
      // taken just before the stop paused the queues: another worker gets it (it never started here)
      if (this.draining && anyWorker && !run.handedBack) return await this.handBack(run);
      await this.runOne(run);
    } finally {
      this.free++;
      const next = this.waiting.shift();
      if (next) next();
      else if (this.anyPaused && !this.draining) {
        // a slot is free again: take runs any worker may take
        this.anyPaused = false;
        this.anyQueue?.resume();
      }
    }
  }

  /**
   * One of the node's slots. While all are busy the worker stops taking from `run`, so another
   * worker gets those runs instead of them waiting here (a pinned run still waits for a slot).
   */
  private slot(): Promise<void> {
    const take = (): void => {
      this.free--;
      if (this.free === 0 && this.anyQueue && !this.anyPaused) {
        this.anyPaused = true;
        void this.anyQueue.pause(true).catch(() => undefined);
      }
    };
    if (this.free > 0) {
      take();
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push(() => {
        take();
        resolve();
      }),
    );
  }

  private async runOne(run: RemoteRun): Promise<void> {
    const keys = runKeys(this.redis, run.id);
    const write = (e: RunEntry): void => {
      void this.redis.client.xadd(keys.stream, '*', 'e', encodeEntry(e)).catch(() => undefined);
    };
    const [lease, cancel] = await this.redis.client.mget(keys.lease, keys.cancel);
    // nobody waits for it any more (cancelled, or the API node is gone): never spawned
    if (lease === null || cancel !== null) return;
    // the stream exists from its first entry on; it expires even if this worker dies mid-run
    const expireAfter = Math.ceil(Math.max(0, run.deadline - Date.now()) / 1000) + STREAM_TTL_SECS;
    const first = (e: RunEntry): void => {
      write(e);
      void this.redis.client.expire(keys.stream, expireAfter).catch(() => undefined);
    };
    let spawned = false;
    const early: string[] = [];
    const a: Partial<Active> = { run, written: 0, paused: false };
    let handle: RunHandle;
    try {
      if (this.draining) {
        throw new ApiError('backend_unavailable', `session's worker ${this.opts.node} is shutting down`);
      }
      const spec = {
        ...run,
        command: '',
        onLine: (line: string) => {
          a.written!++;
          if (spawned) write({ t: 'line', l: line });
          else early.push(line);
        },
      };
      spec.cwd = await this.local.resolveWorkdir(run.cwd, run.workdirPrefixes);
      const st = await this.availability.check(run.backend);
      if (!st.available || !st.command) {
        throw new ApiError('backend_unavailable', st.reason ?? `backend "${run.backend}" is not available`);
      }
      handle = await this.local.launch({ ...spec, command: st.command });
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError('backend_unavailable', (err as Error).message);
      first({ t: 'refused', code: e.code, message: e.message, node: this.opts.node });
      return;
    }
    a.handle = handle;
    this.active.set(run.id, a as Active);
    first({ t: 'spawned', pid: handle.pid, node: this.opts.node });
    spawned = true;
    for (const l of early) write({ t: 'line', l });
    // the API node kills at the deadline; this is the backstop for a lost message
    const backstop = setTimeout(() => handle.kill(KILL_TIMEOUT), Math.max(0, run.deadline - Date.now()) + 1000);
    backstop.unref();
    const outcome = await handle.done;
    clearTimeout(backstop);
    this.active.delete(run.id);
    write({ t: 'exit', outcome });
    await this.redis.client.expire(keys.stream, STREAM_TTL_SECS).catch(() => undefined);
  }

  private async handBack(run: RemoteRun): Promise<void> {
    await this.queue(ANY_QUEUE).add(
      'run',
      { ...run, handedBack: this.opts.node },
      { jobId: `${run.id}-${this.opts.node}`, ...RUN_JOB_OPTIONS },
    );
  }

  private onCancel(message: string): void {
    try {
      const { id, reason } = JSON.parse(message) as { id: string; reason: string };
      this.active.get(id)?.handle.kill(typeof reason === 'string' ? reason : 'canceled');
    } catch {
      // not a cancel message
    }
  }

  /** Leases of the running runs: a lapsed one kills the run; the reader's position drives backpressure. */
  private async watchLeases(): Promise<void> {
    const runs = [...this.active.values()];
    if (runs.length === 0) return;
    let values: (string | null)[];
    try {
      const keys = runs.flatMap((r) => {
        const k = runKeys(this.redis, r.run.id);
        return [k.lease, k.cancel];
      });
      values = await this.redis.client.mget(...keys);
    } catch {
      return; // Redis unreachable: leases cannot be judged now
    }
    runs.forEach((r, i) => {
      const v = values[2 * i];
      const cancel = values[2 * i + 1];
      // a cancel whose message this worker missed (e.g. while its subscription reconnected)
      if (cancel) r.handle.kill(cancel);
      if (v === null || v === undefined) {
        r.handle.kill(LEASE_LAPSED);
        return;
      }
      if (!r.run.window) return;
      const behind = r.written - Number(v);
      if (!r.paused && behind > r.run.window) {
        r.paused = true;
        r.handle.pause();
      } else if (r.paused && behind <= r.run.window / 2) {
        r.paused = false;
        r.handle.resume();
      }
    });
  }

  /**
   * Graceful stop: takes no new runs, lets running ones finish for `drainMs`, then kills what is
   * left (their streams still get their `exit` entries).
   */
  async stop(drainMs: number): Promise<void> {
    this.draining = true;
    await this.heartbeat.beat().catch(() => undefined);
    await Promise.all(this.workers.map((w) => w.pause(true).catch(() => undefined)));
    const deadline = Date.now() + drainMs;
    while (this.active.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const a of this.active.values()) a.handle.kill(KILL_SHUTDOWN);
    while (this.active.size > 0) await new Promise((r) => setTimeout(r, 20));
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    await Promise.all(this.workers.map((w) => w.close().catch(() => undefined)));
    await this.heartbeat.stop();
  }
}
