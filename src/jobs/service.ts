/**
 * The job service, the one entry point handlers use: creation (validated like the synchronous
 * endpoints, idempotent), reads, cancel, delete, and what readers of a job's events need. The
 * parts live next to it: admission (`admission.ts`, `idempotency.ts`), the queue
 * (`scheduler.ts`), the run (`runner.ts`), the jobs in memory and their terminal transition
 * (`active-jobs.ts`, `job-events.ts`), restart recovery (`recovery.ts`) and retention
 * (`retention.ts`).
 */
import { randomBytes } from 'node:crypto';
import type { PolicyHolder } from '../auth/policy';
import type { Principal as AuthPrincipal } from '../auth/principal';
import type { BackendName } from '../backends/types';
import type { Config } from '../config/types';
import { ApiError } from '../errors';
import type { AggregateService } from '../execution/aggregate';
import type { ExecutionLimiter } from '../execution/limiter';
import type { PromptService } from '../execution/prompt-service';
import type { UsageService } from '../usage/service';
import type { Logger } from '../observability/logger';
import { firstBackend, JOB_CANCELED } from './active-job';
import { ActiveJobs } from './active-jobs';
import { admitJobRequest, type CreateJobInput } from './admission';
import type { EventHub } from './fanout';
import { replayed, requestHash } from './idempotency';
import { recoverJobs } from './recovery';
import { RetentionSweeper } from './retention';
import { JobRunner } from './runner';
import { JobScheduler } from './scheduler';
import { isTerminal, type JobFilter, type JobRecord, type JobStatus, type JobStore } from './types';

export { JOB_CANCELED };
export type { CreateJobInput, SchemaCheck } from './admission';
export { canonicalJson } from './idempotency';

export interface JobObserver {
  jobsChanged(queued: number, running: number): void;
  jobFinished(status: JobStatus): void;
}

/** Who asks: a key name and its role (admins see and manage every owner's jobs). */
export type Principal = Pick<AuthPrincipal, 'name' | 'role'>;

export class JobService {
  private readonly jobs: ActiveJobs;
  private readonly scheduler: JobScheduler;
  private readonly retention: RetentionSweeper;
  private nextQueueSeq = 1;

  constructor(
    private readonly config: Config,
    private readonly store: JobStore,
    private readonly prompt: PromptService,
    private readonly aggregates: AggregateService,
    limiter: ExecutionLimiter,
    logger: Logger,
    observer?: JobObserver,
    /** The owner's daily quota is checked at creation (429) and again when the job starts. */
    private readonly usage?: UsageService,
  ) {
    this.jobs = new ActiveJobs(config, store, logger, (status) => observer?.jobFinished(status));
    const runner = new JobRunner(config, this.jobs, prompt, aggregates, logger);
    const maxRunning = config.jobs.max_running ?? Math.ceil(config.server.max_concurrent_executions / 2);
    this.scheduler = new JobScheduler(runner, limiter, maxRunning, (queued, running) =>
      observer?.jobsChanged(queued, running),
    );
    this.retention = new RetentionSweeper(store, config.jobs.retention_secs, logger);
  }

  // ------------------------------------------------------------------------------ start / stop

  /** Loads the store: running jobs of a previous process fail (`server_restarted`), queued ones queue again. */
  async start(): Promise<void> {
    await this.store.open();
    const recovered = await recoverJobs(this.store, this.jobs);
    this.nextQueueSeq = Math.max(this.nextQueueSeq, recovered.nextQueueSeq);
    for (const job of recovered.queued) this.scheduler.add(job);
    this.scheduler.changed();
    await this.retention.start();
    this.scheduler.pump();
  }

  /** Graceful shutdown begins: nothing new starts; queued jobs stay queued. */
  beginShutdown(): void {
    this.scheduler.stop();
    this.retention.stop();
    // readers of jobs that will not run in this process end now (they can resume after a restart)
    for (const job of this.scheduler.queued) job.hub.wake();
  }

  get stopped(): boolean {
    return this.scheduler.stopped;
  }

  /** Resolves when no job is running any more (or after `ms`, or once `cutDrain` was called). */
  drained(ms: number): Promise<void> {
    return this.scheduler.drained(ms);
  }

  /** A second signal: stop waiting for running jobs. */
  cutDrain(): void {
    this.scheduler.cutDrain();
  }

  async close(): Promise<void> {
    this.scheduler.stop();
    this.retention.stop();
    await this.store.close();
  }

  // ------------------------------------------------------------------------------ API

  /**
   * Creates a job: idempotency, validation (as the synchronous endpoint), queue size, then the
   * record is stored and queued. `created` is false when an identical earlier job was returned.
   */
  async create(
    input: CreateJobInput,
    who: PolicyHolder,
    requestId: string,
    idempotencyKey?: string,
  ): Promise<{ record: JobRecord; created: boolean }> {
    const hash = requestHash(input);
    if (idempotencyKey !== undefined) {
      const earlier = await replayed(this.store, who.name, idempotencyKey, hash);
      if (earlier) return { record: this.jobs.view(earlier), created: false };
    }
    const admitted = await admitJobRequest(input, this.prompt, this.aggregates, who);
    if (this.usage && admitted.items > 0) {
      await this.usage.limits.checkQuota(this.usage.keyRef(undefined, who.name), admitted.items);
    }
    if (this.scheduler.stopped) throw new ApiError('shutting_down', 'server shutting down');
    if (this.scheduler.counts.queued >= this.config.jobs.max_queued) {
      throw new ApiError('queue_full', 'job queue is full', { headers: { 'Retry-After': '1' } });
    }
    const record: JobRecord = {
      id: randomBytes(16).toString('hex'),
      operation: input.operation,
      status: 'queued',
      created_at: new Date().toISOString(),
      owner: who.name,
      ...(admitted.backend ? { backend: admitted.backend } : {}),
      ...(admitted.sessionId ? { session_id: admitted.sessionId } : {}),
      summary: admitted.summary,
      queue_seq: this.nextQueueSeq++,
      request: admitted.request,
      ...(idempotencyKey !== undefined ? { idempotency: { key: idempotencyKey, hash } } : {}),
      request_id: requestId,
      events: { count: 0, last_sequence: 0 },
    };
    await this.store.put(record);
    this.scheduler.add(this.jobs.activate(record, 0, { count: 0, bytes: 0 }));
    this.scheduler.changed();
    this.scheduler.pump();
    return { record: this.jobs.view(record), created: true };
  }

  /** The job as its owner (or an admin) sees it; 404 `job_not_found` otherwise. */
  async get(id: string, who: Principal): Promise<JobRecord> {
    const active = this.jobs.get(id);
    const record = active ? active.record : await this.store.get(id);
    if (!record || !visible(record, who)) throw notFound(id);
    return this.jobs.view(record);
  }

  /** `get`, held until the job is terminal or `waitMs` passed. */
  async wait(id: string, who: Principal, waitMs: number, signal: AbortSignal): Promise<JobRecord> {
    const first = await this.get(id, who);
    if (waitMs <= 0 || isTerminal(first.status)) return first;
    await this.jobs.untilTerminalOr(id, waitMs, signal);
    return this.get(id, who);
  }

  async list(
    filter: JobFilter,
    limit: number,
    offset: number,
    who: Principal,
  ): Promise<{ jobs: JobRecord[]; total: number }> {
    const f = who.role === 'admin' ? filter : { ...filter, owner: who.name };
    const page = await this.store.list(f, limit, offset);
    return { jobs: page.jobs.map((r) => this.jobs.view(r)), total: page.total };
  }

  async cancel(id: string, who: Principal): Promise<JobRecord> {
    const job = this.jobs.get(id);
    if (!job) return this.get(id, who);
    if (!visible(job.record, who)) throw notFound(id);
    if (job.phase === 'queued') {
      this.scheduler.remove(job);
      await this.jobs.terminate(job, 'canceled', 'canceled', 'job canceled while queued');
      this.scheduler.changed();
    } else {
      job.canceled = true;
      job.controller?.abort(JOB_CANCELED);
      await this.jobs.untilTerminal(id);
    }
    return this.get(id, who);
  }

  async delete(id: string, who: Principal): Promise<void> {
    const active = this.jobs.get(id);
    if (active) {
      if (!visible(active.record, who)) throw notFound(id);
      throw new ApiError('job_active', `job ${id} is ${active.record.status}; cancel it first`);
    }
    const record = await this.store.get(id);
    if (!record || !visible(record, who)) throw notFound(id);
    await this.store.delete(id);
  }

  // ------------------------------------------------------------------------------ readers

  /** Readers: the hub of a job that is not terminal yet, if any. */
  hubOf(id: string): EventHub | undefined {
    return this.jobs.get(id)?.hub;
  }

  /** Whether a reader of this job should stop following (the job will not run in this process). */
  abandoned(id: string): boolean {
    const job = this.jobs.get(id);
    return this.scheduler.stopped && job !== undefined && job.phase === 'queued';
  }

  readStored(id: string, after: number) {
    return this.store.readEvents(id, after);
  }

  /** Stored events after `after`, once the job's pending event writes are done. */
  async readStoredNow(id: string, after: number) {
    await this.jobs.get(id)?.log.flush();
    return this.store.readEvents(id, after);
  }

  /** Backend named by a job's synthetic events (heartbeats). */
  eventBackend(record: JobRecord): BackendName {
    return this.jobs.get(record.id)?.backend ?? firstBackend(record);
  }

  get counts(): { queued: number; running: number } {
    return this.scheduler.counts;
  }
}

function visible(record: JobRecord, who: Principal): boolean {
  return who.role === 'admin' || record.owner === who.name;
}

function notFound(id: string): ApiError {
  return new ApiError('job_not_found', `job ${id} not found`);
}
