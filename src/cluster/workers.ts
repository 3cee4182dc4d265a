/**
 * Worker liveness and what workers can run. Each worker keeps a key `<prefix>:worker:<node>` whose
 * expiry is `cluster.lock_secs` (Redis's clock decides, so clocks of the machines never matter),
 * refreshed three times per period with a report of its backends; the set `<prefix>:workers`
 * lists the names ever seen. A worker whose key expired is lost: API nodes end its runs
 * (docs/cluster.md, "Failure modes").
 */
import type { BackendStatus } from '../backends/availability';
import { BACKEND_NAMES, type BackendName } from '../backends/types';
import type { RedisConnection } from './redis';

export interface WorkerReport {
  node: string;
  slots: number;
  running: number;
  /** Stopping (SIGTERM): takes no new runs. */
  draining: boolean;
  backends: BackendStatus[];
}

/** Writes this worker's heartbeat until stopped. */
export class WorkerHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly node: string,
    private readonly lockMs: number,
    private readonly report: () => Promise<WorkerReport>,
  ) {}

  async start(): Promise<void> {
    await this.beat().catch(() => undefined);
    const every = Math.max(100, Math.floor(this.lockMs / 3));
    this.timer = setInterval(() => void this.beat().catch(() => undefined), every);
    this.timer.unref();
  }

  async beat(): Promise<void> {
    if (this.stopped) return;
    const report = await this.report();
    await this.redis.client
      .multi()
      .sadd(this.redis.key('workers'), this.node)
      .set(this.redis.key('worker', this.node), JSON.stringify(report), 'PX', this.lockMs)
      .exec();
  }

  /** Stops beating and removes the key (a clean stop is not a lost worker). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.redis.client.del(this.redis.key('worker', this.node)).catch(() => undefined);
  }
}

/** The live workers, as API nodes see them. */
export class WorkerDirectory {
  private cache: { at: number; live: Promise<WorkerReport[]> } | undefined;

  constructor(
    private readonly redis: RedisConnection,
    /** How long one read of the directory answers (ms). */
    private readonly cacheMs = 250,
  ) {}

  /** Reports of every worker whose heartbeat has not expired. */
  live(): Promise<WorkerReport[]> {
    const now = Date.now();
    if (this.cache && now - this.cache.at < this.cacheMs) return this.cache.live;
    const live = this.read();
    this.cache = { at: now, live };
    live.catch(() => (this.cache = undefined));
    return live;
  }

  private async read(): Promise<WorkerReport[]> {
    const names = await this.redis.client.smembers(this.redis.key('workers'));
    if (names.length === 0) return [];
    const values = await this.redis.client.mget(...names.map((n) => this.redis.key('worker', n)));
    const out: WorkerReport[] = [];
    for (const v of values) {
      if (!v) continue;
      try {
        out.push(JSON.parse(v) as WorkerReport);
      } catch {
        // a damaged report counts as no report
      }
    }
    return out;
  }

  /** Which of `nodes` have a live heartbeat right now (never cached). */
  async alive(nodes: readonly string[]): Promise<Set<string>> {
    if (nodes.length === 0) return new Set();
    const values = await this.redis.client.mget(...nodes.map((n) => this.redis.key('worker', n)));
    return new Set(nodes.filter((_, i) => values[i] !== null));
  }
}

/**
 * Backend availability of the cluster: a backend is available when at least one live worker that
 * is not draining reports it available; its command and version are that worker's.
 */
export class ClusterAvailability {
  constructor(
    private readonly workers: WorkerDirectory,
    private readonly enabled: Record<BackendName, { enabled: boolean }>,
  ) {}

  async check(name: BackendName): Promise<BackendStatus> {
    const enabled = this.enabled[name]?.enabled ?? true;
    if (!enabled) return { name, enabled, available: false, reason: `backend "${name}" is disabled` };
    let live: WorkerReport[];
    try {
      live = await this.workers.live();
    } catch (err) {
      return {
        name,
        enabled,
        available: false,
        reason: `backend "${name}" is not available: cluster coordination unavailable (redis: ${(err as Error).message})`,
      };
    }
    const taking = live.filter((w) => !w.draining);
    if (taking.length === 0) {
      return { name, enabled, available: false, reason: `backend "${name}" is not available: no live worker` };
    }
    const reports = taking.map((w) => w.backends.find((b) => b.name === name));
    const ok = reports.find((b) => b?.available);
    if (ok) {
      const st: BackendStatus = { name, enabled, available: true };
      if (ok.command) st.command = ok.command;
      if (ok.version !== undefined) st.version = ok.version;
      if (ok.verified !== undefined) st.verified = ok.verified;
      return st;
    }
    const why = reports.find((b) => b?.reason)?.reason;
    return { name, enabled, available: false, reason: why ?? `backend "${name}" is not available on any live worker` };
  }

  checkAll(): Promise<BackendStatus[]> {
    return Promise.all(BACKEND_NAMES.map((n) => this.check(n)));
  }

  /** Nothing is cached per backend here (the directory's short cache expires by itself). */
  invalidate(): void {}
}
