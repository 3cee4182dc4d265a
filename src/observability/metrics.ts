/**
 * Prometheus metrics with prom-client. A fresh Registry per app instance. Observes
 * request completion and executions; never wraps a response.
 */
import client from 'prom-client';
import type { SchemaBackendName as BackendName, SchemaTokenUsage as TokenUsage } from '../../generated/types';
import type { UsageRecord } from '../usage/types';
import type { ExecutionObserver, RunLabel } from './execution-observer';

/** Also the usage service's observer (`usageRecorded`, checked where the services are wired). */
export class Metrics implements ExecutionObserver {
  readonly registry = new client.Registry();
  private readonly requests: client.Counter<'method' | 'path' | 'status'>;
  private readonly requestDuration: client.Histogram<'method' | 'path'>;
  private readonly executions: client.Counter<'backend' | 'status'>;
  private readonly executionDuration: client.Histogram<'backend'>;
  private readonly tokens: client.Counter<'backend' | 'direction'>;
  private readonly running: client.Gauge<'backend'>;
  private readonly rejections: client.Counter<'reason'>;
  private readonly activeSessions: client.Gauge;
  private readonly sessionsCreated: client.Counter;
  private readonly jobs: client.Gauge<'status'>;
  private readonly jobsFinished: client.Counter<'status'>;
  private readonly keyExecutions: client.Counter<'key' | 'backend' | 'status'>;
  private readonly keyTokens: client.Counter<'key' | 'backend' | 'direction'>;

  /** A cluster worker node: its runs in progress and its slots. */
  worker(running: () => number, slots: number): void {
    new client.Gauge({
      name: 'clinvk_worker_runs',
      help: 'CLI runs in progress on this worker node',
      registers: [this.registry],
      collect() {
        this.set(running());
      },
    });
    new client.Gauge({
      name: 'clinvk_worker_slots',
      help: 'CLI runs this worker node runs at once (cluster.worker_slots)',
      registers: [this.registry],
      collect() {
        this.set(slots);
      },
    });
  }

  constructor(queued: () => number) {
    const registers = [this.registry];
    this.requests = new client.Counter({
      name: 'clinvk_requests_total',
      help: 'Finished HTTP requests',
      labelNames: ['method', 'path', 'status'],
      registers,
    });
    this.requestDuration = new client.Histogram({
      name: 'clinvk_request_duration_seconds',
      help: 'HTTP request duration (streams: until the end)',
      labelNames: ['method', 'path'],
      buckets: client.exponentialBuckets(0.001, 2, 15),
      registers,
    });
    this.executions = new client.Counter({
      name: 'clinvk_backend_executions_total',
      help: 'CLI runs',
      labelNames: ['backend', 'status'],
      registers,
    });
    this.executionDuration = new client.Histogram({
      name: 'clinvk_backend_execution_duration_seconds',
      help: 'CLI run duration',
      labelNames: ['backend'],
      buckets: client.exponentialBuckets(0.1, 2, 12),
      registers,
    });
    this.tokens = new client.Counter({
      name: 'clinvk_backend_tokens_total',
      help: 'Unified token usage',
      labelNames: ['backend', 'direction'],
      registers,
    });
    this.running = new client.Gauge({
      name: 'clinvk_executions_running',
      help: 'CLI runs in progress',
      labelNames: ['backend'],
      registers,
    });
    new client.Gauge({
      name: 'clinvk_executions_queued',
      help: 'Executions waiting for a slot',
      registers,
      collect() {
        this.set(queued());
      },
    });
    this.rejections = new client.Counter({
      name: 'clinvk_execution_rejections_total',
      help: 'Executions rejected by the limiter',
      labelNames: ['reason'],
      registers,
    });
    this.activeSessions = new client.Gauge({
      name: 'clinvk_active_sessions',
      help: 'Sessions with a turn running now',
      registers,
    });
    this.sessionsCreated = new client.Counter({
      name: 'clinvk_sessions_created_total',
      help: 'Sessions created',
      registers,
    });
    this.jobs = new client.Gauge({
      name: 'clinvk_jobs',
      help: 'Jobs queued or running now',
      labelNames: ['status'],
      registers,
    });
    this.jobs.set({ status: 'queued' }, 0);
    this.jobs.set({ status: 'running' }, 0);
    this.jobsFinished = new client.Counter({
      name: 'clinvk_jobs_finished_total',
      help: 'Jobs that reached a terminal status',
      labelNames: ['status'],
      registers,
    });
    // labelled by key NAME (bounded by the configured keys), never by a key or its hash
    this.keyExecutions = new client.Counter({
      name: 'clinvk_key_executions_total',
      help: 'Finished executions per API key name',
      labelNames: ['key', 'backend', 'status'],
      registers,
    });
    this.keyTokens = new client.Counter({
      name: 'clinvk_key_tokens_total',
      help: 'Tokens per API key name (estimates when the CLI reported none)',
      labelNames: ['key', 'backend', 'direction'],
      registers,
    });
    client.collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** One finished HTTP request; `route` is the path template (never the raw path: bounded labels). */
  requestFinished(method: string, route: string, status: number, durationMs: number): void {
    this.requests.inc({ method, path: route, status: String(status) });
    this.requestDuration.observe({ method, path: route }, durationMs / 1000);
  }

  runStarted(backend: BackendName): void {
    this.running.inc({ backend });
  }

  runFinished(backend: BackendName, label: RunLabel, durationMs: number, usage?: TokenUsage): void {
    this.running.dec({ backend });
    this.executions.inc({ backend, status: label });
    this.executionDuration.observe({ backend }, durationMs / 1000);
    if (usage) {
      this.tokens.inc({ backend, direction: 'input' }, usage.input_tokens);
      this.tokens.inc({ backend, direction: 'output' }, usage.output_tokens);
    }
  }

  /** Jobs queued and running now. */
  jobsChanged(queued: number, running: number): void {
    this.jobs.set({ status: 'queued' }, queued);
    this.jobs.set({ status: 'running' }, running);
  }

  jobFinished(status: string): void {
    this.jobsFinished.inc({ status });
  }

  /** One finished execution of a key (the usage service's `UsageObserver`). */
  usageRecorded(r: UsageRecord): void {
    this.keyExecutions.inc({ key: r.key, backend: r.backend, status: r.status });
    this.keyTokens.inc({ key: r.key, backend: r.backend, direction: 'input' }, r.input_tokens);
    this.keyTokens.inc({ key: r.key, backend: r.backend, direction: 'output' }, r.output_tokens);
  }

  rejected(reason: 'queue_full' | 'queue_timeout'): void {
    this.rejections.inc({ reason });
  }

  /** SessionObserver */
  created(): void {
    this.sessionsCreated.inc();
  }

  activeDelta(delta: 1 | -1): void {
    this.activeSessions.inc(delta);
  }
}
