/**
 * The job service, the one entry point handlers use: creation (validated like the synchronous
 * endpoints, idempotent), reads, cancel, delete, and what readers of a job's events need. The
 * parts live next to it: admission (`admission.ts`, `idempotency.ts`), the queue
 * (`scheduler.ts`), the run (`runner.ts`), the jobs in memory and their terminal transition
 * (`active-jobs.ts`, `job-events.ts`), recovery of jobs whose node is gone (`recovery.ts`) and
 * retention (`retention.ts`).
 *
 * Several processes may share one store (PostgreSQL): each is a node (`node.ts`). A job is driven
 * by the node that claimed it; the others answer from the store, follow its stored events as they
 * come, and pass a cancel on to the node that drives it (`coordination.ts`).
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
import type { ActiveJob } from './active-job';
import type { CoordinationHandlers, JobCoordinator } from './coordination';
import { newNodeIdentity } from './node';
import { reconcileJobs } from './recovery';
import { RetentionSweeper } from './retention';
import { JobRunner } from './runner';
import { JobScheduler } from './scheduler';
import { JobSignals, type Subscription } from './signals';
import {
  isTerminal,
  type JobFilter,
  type JobRecord,
  type JobStatus,
  type JobStore,
  type QueueEntry,
  type StoredEvent,
} from './types';

export { JOB_CANCELED };
export type { CreateJobInput, SchemaCheck } from './admission';
export { canonicalJson } from './idempotency';

export interface JobObserver {
  jobsChanged(queued: number, running: number): void;
  jobFinished(status: JobStatus): void;
}

/** Who asks: a key name and its role (admins see and manage every owner's jobs). */
export type Principal = Pick<AuthPrincipal, 'name' | 'role'>;

/** Abort reason of a run whose job another node took over. */
const JOB_TAKEN_OVER = 'server_restarted: job taken over by another node';

/** Shared store: the queue is read again this often (announcements are the fast path). */
const QUEUE_POLL_MS = 5000;
/** Waits on a job another node drives look at the store at least this often. */
const REMOTE_POLL_MS = 1000;
/** A cancel of a job another node drives waits at most this long for the outcome. */
const REMOTE_CANCEL_MS = 15_000;

export class JobService {
  private readonly jobs: ActiveJobs;
  private readonly scheduler: JobScheduler;
  private readonly retention: RetentionSweeper;
  private readonly coord: JobCoordinator;
  private readonly signals = new JobSignals();
  private readonly timers: NodeJS.Timeout[] = [];
  private reconciling = false;

  constructor(
    private readonly config: Config,
    private readonly store: JobStore,
    private readonly prompt: PromptService,
    private readonly aggregates: AggregateService,
    limiter: ExecutionLimiter,
    private readonly logger: Logger,
    observer?: JobObserver,
    /** The owner's daily quota is checked at creation (429) and again when the job starts. */
    private readonly usage?: UsageService,
  ) {
    this.coord = store.coordinator(newNodeIdentity(config.cluster.node_id), config.cluster.lease_secs * 1000);
    this.jobs = new ActiveJobs(config, store, logger, this.coord.node, {
      finished: (status) => observer?.jobFinished(status),
      requeued: (record) => {
        this.signals.fire(record.id);
        if (!this.scheduler.stopped) this.requeued(record);
      },
    });
    const runner = new JobRunner(config, this.jobs, prompt, aggregates, logger);
    const maxRunning = config.jobs.max_running ?? Math.ceil(config.server.max_concurrent_executions / 2);
    this.scheduler = new JobScheduler(
      (entry) => this.claim(entry),
      runner,
      limiter,
      maxRunning,
      (queued, running) => observer?.jobsChanged(queued, running),
    );
    this.retention = new RetentionSweeper(store, config.jobs.retention_secs, logger);
  }

  // ------------------------------------------------------------------------------ start / stop

  /**
   * Loads the store and joins the other nodes: running jobs of gone nodes (e.g. this process before
   * a restart) fail (`server_restarted`), queued ones queue again in their order.
   */
  async start(): Promise<void> {
    try {
      await this.store.open();
      await this.coord.start(this.handlers());
      await reconcileJobs(this.store, this.coord, this.jobs, (e) => this.scheduler.add(e));
      for (const entry of await this.store.queued()) this.scheduler.add(entry);
    } catch (err) {
      // a shared store that cannot be reached yet: requests answer 503 meanwhile, and the periodic
      // reconciling and queue reads below catch up once it answers
      if (!this.coord.shared || !(err instanceof ApiError) || err.code !== 'session_store_unavailable') throw err;
      this.logger.warn('jobs: the job store is not reachable; jobs start once it is', { error: err.message });
      if (!this.coord.started) await this.coord.start(this.handlers());
    }
    this.scheduler.changed();
    await this.retention.start();
    if (this.coord.shared) {
      const every = (ms: number, fn: () => Promise<void>): void => {
        const t = setInterval(() => void fn(), ms);
        t.unref();
        this.timers.push(t);
      };
      every(Math.max(200, Math.floor((this.config.cluster.lease_secs * 1000) / 3)), () => this.reconcile());
      every(QUEUE_POLL_MS, () => this.resync());
    }
    this.scheduler.pump();
  }

  /** What other nodes announce. */
  private handlers(): CoordinationHandlers {
    return {
      status: (id, status, node, queueSeq) => {
        if (node !== this.coord.node && this.jobs.has(id)) void this.checkHeld(id);
        if (status === 'queued' && node === undefined) {
          if (!this.scheduler.stopped) this.requeued({ id, queue_seq: queueSeq });
        } else {
          this.scheduler.remove(id);
          this.scheduler.changed();
        }
        if (isTerminal(status)) this.jobs.wakeTerminal(id);
        this.signals.fire(id);
      },
      events: (id) => this.signals.fire(id),
      cancel: (id) => {
        const job = this.jobs.get(id);
        if (job) void this.cancelHere(job);
      },
      resync: () => void this.resync(),
    };
  }

  /**
   * Another node says it changed a job this node holds: when the store agrees that this node no
   * longer holds it (its heartbeat lapsed and the job was taken over or queued again), the run here
   * stops; its writes are refused by the store, which keeps the other node's outcome.
   */
  private async checkHeld(id: string): Promise<void> {
    const record = await this.store.get(id).catch(() => undefined);
    const here = this.jobs.get(id);
    if (!record || !here || record.node === this.coord.node) return;
    this.logger.warn('jobs: another node took over a job of this node', { job_id: id });
    this.jobs.drop(id);
    here.controller?.abort(JOB_TAKEN_OVER);
  }

  private requeued(entry: QueueEntry): void {
    this.scheduler.add(entry);
    this.scheduler.changed();
    this.scheduler.pump();
  }

  /** Jobs of nodes that are gone (periodic, with a shared store). */
  private async reconcile(): Promise<void> {
    if (this.reconciling || this.scheduler.stopped) return;
    this.reconciling = true;
    try {
      await reconcileJobs(this.store, this.coord, this.jobs, (e) => this.requeued(e));
    } catch (err) {
      this.logger.warn('jobs: reconciling with other nodes failed', { error: (err as Error).message });
    } finally {
      this.reconciling = false;
    }
  }

  /**
   * The queue as the store holds it, and the jobs held here as the store says (announcements may
   * have been missed, e.g. while this node could not reach the store).
   */
  private async resync(): Promise<void> {
    if (this.scheduler.stopped) return;
    for (const id of this.jobs.ids()) void this.checkHeld(id);
    const since = Date.now();
    try {
      this.scheduler.sync(await this.store.queued(), since);
    } catch (err) {
      this.logger.warn('jobs: reading the queue failed', { error: (err as Error).message });
      return;
    }
    this.scheduler.changed();
    this.scheduler.pump();
  }

  /** The scheduler starts a queued job: claimed in the store for this node, then held in memory. */
  private async claim(entry: QueueEntry): Promise<ActiveJob | undefined> {
    const record = await this.store.claim(entry.id, this.coord.node);
    if (!record) return undefined;
    return this.hold(record, 'starting');
  }

  /** A job this node claimed, in memory (its events continue after the stored ones). */
  private async hold(record: JobRecord, phase: ActiveJob['phase'] = 'queued'): Promise<ActiveJob> {
    let stored: StoredEvent[] = [];
    if (record.events.count > 0 || record.events.last_sequence > 0) stored = await this.store.readEvents(record.id, 0);
    const last = stored.length ? stored[stored.length - 1].sequence : record.events.last_sequence;
    const bytes = stored.reduce((n, e) => n + Buffer.byteLength(e.line) + 1, 0);
    const job = this.jobs.activate(record, last, { count: stored.length, bytes });
    job.phase = phase;
    this.signals.fire(record.id);
    return job;
  }

  /** Graceful shutdown begins: nothing new starts; queued jobs stay queued. */
  beginShutdown(): void {
    this.scheduler.stop();
    this.retention.stop();
    for (const t of this.timers) clearInterval(t);
    // readers of jobs that will not run in this process end now (they can resume after a restart)
    this.signals.fireAll();
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
    for (const t of this.timers) clearInterval(t);
    await this.coord.stop();
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
      queue_seq: await this.store.nextQueueSeq(),
      request: admitted.request,
      ...(idempotencyKey !== undefined ? { idempotency: { key: idempotencyKey, hash } } : {}),
      request_id: requestId,
      events: { count: 0, last_sequence: 0 },
    };
    await this.store.put(record);
    this.requeued(record);
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
    let current = await this.get(id, who);
    const end = Date.now() + waitMs;
    // a job another node drives ends there: its announcement wakes this wait, the store is read again
    while (!isTerminal(current.status) && !signal.aborted && Date.now() < end) {
      const step = this.coord.shared ? Math.min(REMOTE_POLL_MS, end - Date.now()) : end - Date.now();
      await this.jobs.untilTerminalOr(id, step, signal);
      current = await this.get(id, who);
    }
    return current;
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

  /**
   * Cancel: a job queued and claimed by nobody is claimed here and ends `canceled`; a job this node
   * drives is canceled here; a job another node drives is canceled there (asked again every second
   * until it ends, or the wait ends and the job is answered as it is).
   */
  async cancel(id: string, who: Principal): Promise<JobRecord> {
    const end = Date.now() + REMOTE_CANCEL_MS;
    for (;;) {
      const here = this.jobs.get(id);
      if (here) {
        if (!visible(here.record, who)) throw notFound(id);
        await this.cancelHere(here);
        return this.get(id, who);
      }
      const record = await this.store.get(id);
      if (!record || !visible(record, who)) throw notFound(id);
      if (isTerminal(record.status) || Date.now() > end) return this.jobs.view(record);
      if (record.status === 'queued' && record.node === undefined) {
        this.scheduler.remove(id);
        const claimed = await this.store.claim(id, this.coord.node);
        if (claimed && !this.jobs.has(id)) await this.cancelHere(await this.hold(claimed));
        continue;
      }
      const sub = this.signals.subscribe(id);
      if (record.node !== undefined && record.node !== this.coord.node) await this.coord.requestCancel(id, record.node);
      await sub.changed(Math.min(REMOTE_POLL_MS, Math.max(1, end - Date.now())));
    }
  }

  /** Cancels a job this node holds. */
  private async cancelHere(job: ActiveJob): Promise<void> {
    if (job.phase === 'queued') {
      this.scheduler.remove(job.record.id);
      await this.jobs.terminate(job, 'canceled', 'canceled', 'job canceled while queued');
      this.scheduler.changed();
    } else {
      job.canceled = true;
      job.controller?.abort(JOB_CANCELED);
      await this.jobs.untilTerminal(job.record.id);
    }
  }

  async delete(id: string, who: Principal): Promise<void> {
    const active = this.jobs.get(id);
    if (active) {
      if (!visible(active.record, who)) throw notFound(id);
      throw jobActive(id, active.record.status);
    }
    const record = await this.store.get(id);
    if (!record || !visible(record, who)) throw notFound(id);
    if (!isTerminal(record.status)) throw jobActive(id, record.status);
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

  /**
   * A reader of a job this node does not hold: whether to keep following it in the store (it is
   * queued or another node runs it), or to end (terminal, deleted, or this server is stopping and
   * the job has not started).
   */
  async followStored(id: string): Promise<boolean> {
    const record = await this.store.get(id);
    if (!record || isTerminal(record.status)) return false;
    return !(this.scheduler.stopped && record.status === 'queued');
  }

  /** Wake-ups for a reader of a job this node does not hold (subscribe before reading the store). */
  subscribe(id: string): Subscription {
    return this.signals.subscribe(id);
  }

  /** How long a reader waits for a wake-up before it looks at the store again. */
  get storePollMs(): number {
    return REMOTE_POLL_MS;
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

function jobActive(id: string, status: JobStatus): ApiError {
  return new ApiError('job_active', `job ${id} is ${status}; cancel it first`);
}

function notFound(id: string): ApiError {
  return new ApiError('job_not_found', `job ${id} not found`);
}
