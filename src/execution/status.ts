/** Backend list and server health. */
import { ADAPTER_ORDER } from '../backends/adapters';
import type { BackendAvailability } from '../backends/availability';
import type { Config } from '../config/types';
import type { SessionStore } from '../sessions/types';
import type { ExecutionLimiter } from './limiter';

export interface BackendInfo {
  name: string;
  available: boolean;
  enabled: boolean;
  command?: string;
  model?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded' | 'unhealthy';
  version: string;
  uptime: string;
  uptime_ms: number;
  backends: { name: string; available: boolean; enabled: boolean }[];
  session_store: { available: boolean; session_count: number; error?: string };
  executions: { running: number; queued: number; max_concurrent: number; max_queued: number };
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
  constructor(
    private readonly config: Config,
    private readonly availability: BackendAvailability,
    private readonly store: SessionStore,
    private readonly limiter: ExecutionLimiter,
    private readonly version: string,
    readonly startedAt: number = Date.now(),
  ) {}

  async backends(): Promise<BackendInfo[]> {
    const out: BackendInfo[] = [];
    for (const name of ADAPTER_ORDER) {
      const st = await this.availability.check(name);
      const info: BackendInfo = { name, available: st.available, enabled: st.enabled };
      if (st.command) info.command = st.command;
      const model = this.config.backends[name].model;
      if (model) info.model = model;
      out.push(info);
    }
    return out;
  }

  async health(): Promise<HealthReport> {
    const backends = (await this.backends()).map(({ name, available, enabled }) => ({ name, available, enabled }));
    const store = await this.store.health();
    const enabled = backends.filter((b) => b.enabled);
    let status: HealthReport['status'] = 'ok';
    if (enabled.length === 0 || enabled.some((b) => !b.available)) status = 'degraded';
    if (!store.available) status = 'unhealthy';
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
    };
  }
}
