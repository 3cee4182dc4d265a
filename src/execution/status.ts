/** Backend list and server health. */
import { ADAPTER_ORDER, ADAPTERS } from '../backends/adapters';
import type { BackendName } from '../backends/types';
import { type VersionProbe, versionWarnings } from '../backends/version-probe';
import type { BackendStatus } from '../backends/availability';
import type { Config } from '../config/types';
import type { SessionStore, StoreHealth } from '../sessions/types';
import type { ExecutionLimiter } from './limiter';

export interface BackendInfo {
  name: string;
  available: boolean;
  enabled: boolean;
  command?: string;
  model?: string;
  version?: string;
  verified?: boolean;
}

export interface HealthReport {
  status: 'ok' | 'degraded' | 'unhealthy';
  version: string;
  uptime: string;
  uptime_ms: number;
  backends: { name: string; available: boolean; enabled: boolean; warnings?: string[] }[];
  session_store: { available: boolean; session_count: number; error?: string };
  executions: { running: number; queued: number; max_concurrent: number; max_queued: number };
  cluster?: { redis: { available: boolean; error?: string } };
}

/** A shared engine the node depends on (cluster mode); unavailable → the node is unhealthy. */
export interface DependencyHealth {
  health(): { available: boolean; error?: string };
}

export function formatUptime(ms: number): string {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

export class StatusService {
  private storeCheck?: { at: number; health: Promise<StoreHealth> };

  constructor(
    private readonly config: Config,
    private readonly availability: { check(name: BackendName): Promise<BackendStatus> },
    private readonly store: SessionStore,
    private readonly limiter: ExecutionLimiter,
    private readonly version: string,
    readonly startedAt: number = Date.now(),
    private readonly versions?: VersionProbe,
    /** Cluster mode: the Redis connection. */
    private readonly redis?: DependencyHealth,
    /** How long one session-store check answers `/health` (ms; 0: every request checks). */
    private readonly storeCheckTtlMs = 0,
  ) {}

  /** The store's health, checked at most once per `storeCheckTtlMs` (concurrent requests share a check). */
  private storeHealth(): Promise<StoreHealth> {
    const now = Date.now();
    if (this.storeCheck && now - this.storeCheck.at < this.storeCheckTtlMs) return this.storeCheck.health;
    const health = this.store.health();
    this.storeCheck = { at: now, health };
    return health;
  }

  async backends(): Promise<BackendInfo[]> {
    const out: BackendInfo[] = [];
    for (const name of ADAPTER_ORDER) {
      const st = await this.availability.check(name);
      const info: BackendInfo = { name, available: st.available, enabled: st.enabled };
      if (st.command) info.command = st.command;
      const model = this.config.backends[name].model;
      if (model) info.model = model;
      const v = await this.versionOf(name, st);
      if (v?.version) {
        info.version = v.version;
        info.verified = v.verified ?? false;
      }
      out.push(info);
    }
    return out;
  }

  /**
   * The version a cluster worker reported, else the cached `--version` answer of an available
   * backend (never waits for `--version`).
   */
  private async versionOf(name: BackendName, st: BackendStatus) {
    if (st.version !== undefined) return st;
    if (!this.versions || !st.command || !st.available) return undefined;
    return this.versions.peek(name, st.command);
  }

  /**
   * `owner`: the caller sees only its own sessions (a user key), so `session_count` counts only
   * those; undefined → every session.
   */
  async health(owner?: string): Promise<HealthReport> {
    const backends: HealthReport['backends'] = [];
    for (const name of ADAPTER_ORDER) {
      const st = await this.availability.check(name);
      const entry: HealthReport['backends'][number] = { name, available: st.available, enabled: st.enabled };
      const v = await this.versionOf(name, st);
      const warnings = versionWarnings(v, ADAPTERS[name].onboarding);
      if (warnings.length > 0) entry.warnings = warnings;
      backends.push(entry);
    }
    // a copy: the checked answer may be shared with other requests
    const store = { ...(await this.storeHealth()) };
    if (store.available && owner !== undefined) {
      store.session_count = await this.store
        .list({ owner, limit: 1, offset: 0 })
        .then((page) => page.total)
        .catch(() => 0);
    }
    const enabled = backends.filter((b) => b.enabled);
    let status: HealthReport['status'] = 'ok';
    if (enabled.length === 0 || enabled.some((b) => !b.available)) status = 'degraded';
    const redis = this.redis?.health();
    if (!store.available || (redis && !redis.available)) status = 'unhealthy';
    const uptimeMs = Date.now() - this.startedAt;
    return {
      status,
      version: this.version,
      uptime: formatUptime(uptimeMs),
      uptime_ms: uptimeMs,
      backends,
      session_store: store.available
        ? { available: true, session_count: store.session_count }
        : { available: false, session_count: 0, error: store.error ?? 'session store unavailable' },
      executions: {
        running: this.limiter.running,
        queued: this.limiter.queued,
        max_concurrent: this.limiter.maxConcurrent,
        max_queued: this.limiter.maxQueued,
      },
      ...(redis ? { cluster: { redis } } : {}),
    };
  }
}
