/**
 * The job service: creation (validated like the synchronous endpoints, idempotent), a durable FIFO
 * queue started whenever an execution slot is free and no synchronous request waits for it (at most
 * `jobs.max_running` jobs at once), the run itself with its events recorded and fanned out to any
 * number of readers, cancel, delete, retention and recovery after a restart.
 *
 * Every terminal transition stores exactly one terminal event, so a reader that follows a job
 * always ends: a finished run, a cancel while queued, a failure before the spawn, a restart
 * (`server_restarted`) and shutdown (`shutting_down`).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Principal as AuthPrincipal } from '../auth/principal';
import type { BackendName, UnifiedEvent } from '../backends/types';
import type { Config } from '../config/types';
import { ApiError, type ValidationDetail, validationError } from '../errors';
import type { AggregateService, Prepared, TaskResult } from '../execution/aggregate';
import type { ExecutionLimiter } from '../execution/limiter';
import type { EventSink, PromptRequest, PromptService } from '../execution/prompt-service';
import type { ExecContext, NativeEvent } from '../execution/types';
import type { Logger } from '../observability/logger';
import { EventLog } from './event-log';
import { EventHub, type LiveEvent } from './fanout';
import { isTerminal, type JobFilter, type JobOperation, type JobRecord, type JobStatus, type JobStore } from './types';

/** Codes a job's terminal `error` event may carry; anything else is reported as `internal_error`. */
const JOB_ERROR_CODES: ReadonlySet<string> = new Set([
  'backend_failed',
  'backend_timeout',
  'canceled',
  'session_busy',
  'session_not_found',
  'backend_unavailable',
  'server_restarted',
  'shutting_down',
  'output_too_large',
  'forbidden_workdir',
  'validation_error',
  'stream_line_too_long',
  'internal_error',
]);

export const JOB_CANCELED = 'canceled: job canceled';

export interface JobObserver {
  jobsChanged(queued: number, running: number): void;
  jobFinished(status: JobStatus): void;
}

/** Who asks: a key name and its role (admins see and manage every owner's jobs). */
export type Principal = Pick<AuthPrincipal, 'name' | 'role'>;

export interface CreateJobInput {
  operation: JobOperation;
  request: Record<string, unknown>;
}

/** Checks a job's inner request against its synchronous operation's schema (the HTTP layer does it). */
export type SchemaCheck = (operation: JobOperation, request: Record<string, unknown>) => ValidationDetail[];

/** A job that is not terminal yet: queued, starting or running. */
interface ActiveJob {
  record: JobRecord;
  hub: EventHub;
  log: EventLog;
  /** Backend named by job-level events (the prompt's, or the first item's). */
  backend: BackendName;
  phase: 'queued' | 'starting' | 'running';
  controller?: AbortController;
  canceled?: boolean;
  /** Set while the job waits for its first slot (counts against the job lane's free slots). */
  pendingSlot?: boolean;
}

export class JobService {
  private readonly active = new Map<string, ActiveJob>();
  /** Queued jobs in FIFO order. */
  private queue: ActiveJob[] = [];
  private running = 0;
  private pending = 0;
  private nextQueueSeq = 1;
  private stopping = false;
  private drainCut = false;
  private retentionTimer?: NodeJS.Timeout;
  private readonly terminalWaiters = new Map<string, (() => void)[]>();
  private readonly maxRunning: number;

  constructor(
    private readonly config: Config,
    private readonly store: JobStore,
    private readonly prompt: PromptService,
    private readonly aggregates: AggregateService,
    private readonly limiter: ExecutionLimiter,
    private readonly logger: Logger,
    private readonly observer?: JobObserver,
  ) {
    this.maxRunning = config.jobs.max_running ?? Math.ceil(config.server.max_concurrent_executions / 2);
    limiter.onSlotFree(() => this.pump());
  }

  // ------------------------------------------------------------------------------ start / stop

  /** Loads the store: running jobs of a previous process fail (`server_restarted`), queued ones queue again. */
  async start(): Promise<void> {
    await this.store.open();
    const unfinished = await this.store.unfinished();
    const all = await this.store.list({}, 1, 0);
    if (all.jobs[0]) this.nextQueueSeq = Math.max(this.nextQueueSeq, all.jobs[0].queue_seq + 1);
    for (const record of unfinished) {
      const stored = await this.store.readEvents(record.id, 0);
      const last = stored.length ? stored[stored.length - 1].sequence : 0;
      const bytes = stored.reduce((n, e) => n + Buffer.byteLength(e.line) + 1, 0);
      const job = this.activate(record, last, { count: stored.length, bytes });
      if (record.status === 'running') {
        await this.terminate(job, 'failed', 'server_restarted', 'the server restarted while the job was running');
      } else {
        this.queue.push(job);
      }
    }
    this.changed();
    await this.sweep();
    const every = Math.max(1, Math.min(60, this.config.jobs.retention_secs)) * 1000;
    this.retentionTimer = setInterval(() => void this.sweep(), every);
    this.retentionTimer.unref();
    this.pump();
  }

  /** Graceful shutdown begins: nothing new starts; queued jobs stay queued. */
  beginShutdown(): void {
    this.stopping = true;
    clearInterval(this.retentionTimer);
    // readers of jobs that will not run in this process end now (they can resume after a restart)
    for (const job of this.queue) job.hub.wake();
  }

  get stopped(): boolean {
    return this.stopping;
  }

  /** Resolves when no job is running any more (or after `ms`, or once `cutDrain` was called). */
  async drained(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.running + this.pending > 0 && Date.now() < end && !this.drainCut) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A second signal: stop waiting for running jobs. */
  cutDrain(): void {
    this.drainCut = true;
  }

  async close(): Promise<void> {
    this.stopping = true;
    clearInterval(this.retentionTimer);
    await this.store.close();
  }

  // ------------------------------------------------------------------------------ API

  /**
   * Creates a job: idempotency, validation (as the synchronous endpoint), queue size, then the
   * record is stored and queued. `created` is false when an identical earlier job was returned.
   */
  async create(
    input: CreateJobInput,
    who: Principal,
    requestId: string,
    idempotencyKey?: string,
  ): Promise<{ record: JobRecord; created: boolean }> {
    const hash = createHash('sha256').update(canonicalJson(input)).digest('hex');
    if (idempotencyKey !== undefined) {
      const existing = await this.store.findIdempotent(who.name, idempotencyKey);
      if (existing) {
        if (existing.idempotency?.hash !== hash) {
          throw new ApiError('idempotency_conflict', 'Idempotency-Key was already used with a different request body');
        }
        return { record: this.view(existing), created: false };
      }
    }
    const checked = await this.validate(input);
    if (this.stopping) throw new ApiError('shutting_down', 'server shutting down');
    if (this.queue.length >= this.config.jobs.max_queued) {
      throw new ApiError('queue_full', 'job queue is full', { headers: { 'Retry-After': '1' } });
    }
    const record: JobRecord = {
      id: randomBytes(16).toString('hex'),
      operation: input.operation,
      status: 'queued',
      created_at: new Date().toISOString(),
      owner: who.name,
      ...(checked.backend ? { backend: checked.backend } : {}),
      ...(checked.sessionId ? { session_id: checked.sessionId } : {}),
      summary: checked.summary,
      queue_seq: this.nextQueueSeq++,
      request: checked.request,
      ...(idempotencyKey !== undefined ? { idempotency: { key: idempotencyKey, hash } } : {}),
      request_id: requestId,
      events: { count: 0, last_sequence: 0 },
    };
    await this.store.put(record);
    const job = this.activate(record, 0, { count: 0, bytes: 0 });
    this.queue.push(job);
    this.changed();
    this.pump();
    return { record: this.view(record), created: true };
  }

  /** The job as its owner (or an admin) sees it; 404 `job_not_found` otherwise. */
  async get(id: string, who: Principal): Promise<JobRecord> {
    const active = this.active.get(id);
    const record = active ? active.record : await this.store.get(id);
    if (!record || !visible(record, who)) throw new ApiError('job_not_found', `job ${id} not found`);
    return this.view(record);
  }

  /** `get`, held until the job is terminal or `waitMs` passed. */
  async wait(id: string, who: Principal, waitMs: number, signal: AbortSignal): Promise<JobRecord> {
    const first = await this.get(id, who);
    if (waitMs <= 0 || isTerminal(first.status)) return first;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        const list = this.terminalWaiters.get(id);
        if (list)
          this.terminalWaiters.set(
            id,
            list.filter((f) => f !== done),
          );
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      signal.addEventListener('abort', done, { once: true });
      const list = this.terminalWaiters.get(id) ?? [];
      list.push(done);
      this.terminalWaiters.set(id, list);
    });
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
    return { jobs: page.jobs.map((r) => this.view(r)), total: page.total };
  }

  async cancel(id: string, who: Principal): Promise<JobRecord> {
    const job = this.active.get(id);
    if (!job) return this.get(id, who);
    if (!visible(job.record, who)) throw new ApiError('job_not_found', `job ${id} not found`);
    if (job.phase === 'queued') {
      this.queue = this.queue.filter((j) => j !== job);
      await this.terminate(job, 'canceled', 'canceled', 'job canceled while queued');
      this.changed();
    } else {
      job.canceled = true;
      job.controller?.abort(JOB_CANCELED);
      await this.waitTerminal(id);
    }
    return this.get(id, who);
  }

  async delete(id: string, who: Principal): Promise<void> {
    const active = this.active.get(id);
    if (active) {
      if (!visible(active.record, who)) throw new ApiError('job_not_found', `job ${id} not found`);
      throw new ApiError('job_active', `job ${id} is ${active.record.status}; cancel it first`);
    }
    const record = await this.store.get(id);
    if (!record || !visible(record, who)) throw new ApiError('job_not_found', `job ${id} not found`);
    await this.store.delete(id);
  }

  /** Readers: the hub of a job that is not terminal yet, if any. */
  hubOf(id: string): EventHub | undefined {
    return this.active.get(id)?.hub;
  }

  /** Whether a reader of this job should stop following (the job will not run in this process). */
  abandoned(id: string): boolean {
    const job = this.active.get(id);
    return this.stopping && job !== undefined && job.phase === 'queued';
  }

  readStored(id: string, after: number) {
    return this.store.readEvents(id, after);
  }

  /** Stored events after `after`, once the job's pending event writes are done. */
  async readStoredNow(id: string, after: number) {
    await this.active.get(id)?.log.flush();
    return this.store.readEvents(id, after);
  }

  /** Backend named by a job's synthetic events (heartbeats). */
  eventBackend(record: JobRecord): BackendName {
    return this.active.get(record.id)?.backend ?? firstBackend(record);
  }

  get counts(): { queued: number; running: number } {
    return { queued: this.queue.length, running: this.running };
  }

  // ------------------------------------------------------------------------------ validation

  private async validate(input: CreateJobInput): Promise<{
    request: Record<string, unknown>;
    summary: string;
    backend?: BackendName;
    sessionId?: string;
  }> {
    const request = input.request;
    try {
      if (input.operation === 'prompt') {
        const req = request as PromptRequest;
        if (req.output_format !== undefined && req.output_format !== 'json') {
          throw validationError([
            { path: 'body.output_format', message: 'must be json (a job always records its events)' },
          ]);
        }
        const checked = await this.prompt.check(req);
        // the session is resolved now: the job continues exactly that session
        const stored = checked.sessionId ? { ...request, session_id: checked.sessionId } : request;
        return {
          request: stored,
          summary: truncate(req.prompt, 200),
          backend: checked.backend,
          sessionId: checked.sessionId,
        };
      }
      const prepared = await this.aggregates.prepare(input.operation, request as never);
      return { request, summary: aggregateSummary(prepared) };
    } catch (err) {
      throw withRequestPrefix(err);
    }
  }

  // ------------------------------------------------------------------------------ scheduling

  private pump(): void {
    while (
      !this.stopping &&
      this.queue.length > 0 &&
      this.running + this.pending < this.maxRunning &&
      this.pending < this.limiter.freeJobSlots()
    ) {
      const job = this.queue.shift()!;
      void this.run(job);
    }
    this.changed();
  }

  private async run(job: ActiveJob): Promise<void> {
    job.phase = 'starting';
    job.pendingSlot = true;
    this.pending++;
    const controller = new AbortController();
    job.controller = controller;
    const record = job.record;
    const ctx: ExecContext = {
      requestId: record.request_id,
      traceparent: newTraceparent(),
      signal: controller.signal,
      deadline: Date.now() + this.config.jobs.run_timeout_secs * 1000,
      timeoutSecs: this.config.jobs.run_timeout_secs,
      lane: 'job',
      meta: {
        kind: 'job',
        key: record.owner,
        requestId: record.request_id,
        backend: record.backend,
        jobId: record.id,
        sessionId: record.session_id,
        cancel: () => {
          job.canceled = true;
          controller.abort(JOB_CANCELED);
        },
      },
      onGranted: () => this.slotGranted(job),
    };
    try {
      if (record.operation === 'prompt') await this.runPrompt(job, ctx);
      else await this.runAggregate(job, ctx);
    } catch (err) {
      await this.failed(job, err);
    } finally {
      this.slotGranted(job);
      if ((job.phase as ActiveJob['phase']) === 'running') this.running--;
      this.changed();
      this.pump();
    }
  }

  private slotGranted(job: ActiveJob): void {
    if (!job.pendingSlot) return;
    job.pendingSlot = false;
    this.pending--;
  }

  /** The run spawned: the record says `running` durably. */
  private async markRunning(job: ActiveJob, sessionId?: string): Promise<void> {
    if (job.phase === 'running') return;
    job.phase = 'running';
    this.running++;
    job.record.status = 'running';
    job.record.started_at = new Date().toISOString();
    if (sessionId) job.record.session_id = sessionId;
    this.changed();
    await this.persist(job);
  }

  private async runPrompt(job: ActiveJob, ctx: ExecContext): Promise<void> {
    let spawned: Promise<void> | undefined;
    let terminal: NativeEvent | undefined;
    // a stream run has no separate final answer: the job's `output` is the assistant text of its events
    let text = '';
    const sink: EventSink = {
      open: (sessionId) => {
        spawned = this.markRunning(job, sessionId);
      },
      write: (ev) => {
        if (ev.type === 'message') text += (ev.content as { text?: string }).text ?? '';
        if (ev.type === 'done' || ev.type === 'error') terminal = ev;
        this.emit(job, ev as unknown as Record<string, unknown>, ev.type === 'done' || ev.type === 'error');
        return true;
      },
      drained: () => Promise.resolve(),
      abort: () => undefined,
      close: () => undefined,
    };
    const result = await this.prompt.stream(job.record.request as PromptRequest, ctx, sink, { heartbeat: false });
    await spawned;
    job.record.result = result.command ? result : { ...result, output: text };
    if (!terminal || terminal.type === 'done') return this.finish(job, 'succeeded');
    const content = terminal.content as { code?: string; message?: string };
    const code = job.canceled ? 'canceled' : (content.code ?? 'internal_error');
    await this.finish(job, code === 'canceled' ? 'canceled' : 'failed', {
      code,
      message: content.message ?? code,
    });
  }

  private async runAggregate(job: ActiveJob, ctx: ExecContext): Promise<void> {
    const prepared = await this.aggregates.prepare(job.record.operation as never, job.record.request as never);
    let spawned: Promise<void> | undefined;
    const observer = {
      started: () => {
        spawned ??= this.markRunning(job);
      },
      event: (item: number, backend: BackendName, ev: UnifiedEvent) => {
        this.emit(job, itemEvent(ev.type, backend, item, ev.content as Record<string, unknown>), false);
      },
      finished: (item: number, result: TaskResult) => {
        if (result.token_usage) {
          this.emit(job, itemEvent('token_usage', result.backend, item, { ...result.token_usage }), false);
        }
        const content: Record<string, unknown> = { stage: 'item_finished', exit_code: result.exit_code };
        if (result.error_code !== undefined) content.error_code = result.error_code;
        this.emit(job, itemEvent('progress', result.backend, item, content), false);
      },
    };
    // a dry run or an aggregate whose items all failed before a spawn still "ran"
    await this.markRunningIfIdle(job, prepared);
    let data: unknown;
    let error: ApiError | undefined;
    try {
      data = await this.aggregates.run(prepared, ctx, observer);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      error = err;
      data = err.data;
    }
    await spawned;
    if (job.phase !== 'running') await this.markRunning(job);
    job.record.result = data;
    if (job.canceled) {
      this.terminalEvent(job, 'error', { message: 'job canceled', code: 'canceled', exit_code: -1 });
      return this.finish(job, 'canceled', { code: 'canceled', message: 'job canceled' });
    }
    if (error) {
      const code = JOB_ERROR_CODES.has(error.code) ? error.code : 'internal_error';
      this.terminalEvent(job, 'error', { message: error.message, code, exit_code: -1 });
      return this.finish(job, 'failed', { code, message: error.message });
    }
    const total = (data as { total_duration_ms?: number }).total_duration_ms ?? 0;
    this.terminalEvent(job, 'done', { exit_code: 0, duration_ms: total });
    return this.finish(job, 'succeeded');
  }

  private async markRunningIfIdle(job: ActiveJob, prepared: Prepared): Promise<void> {
    if (prepared.dryRun) await this.markRunning(job);
  }

  /** A failure before (or instead of) the run: one terminal `error` event. */
  private async failed(job: ActiveJob, err: unknown): Promise<void> {
    if (isTerminal(job.record.status) && !this.active.has(job.record.id)) return;
    if (!(err instanceof ApiError)) {
      this.logger.error('job failed', { job_id: job.record.id, error: (err as Error).stack ?? String(err) });
    }
    const apiErr = err instanceof ApiError ? err : undefined;
    if (apiErr?.code === 'shutting_down' && job.phase !== 'running' && !job.canceled) {
      // stopped before its CLI started: the job stays queued for the next start
      job.phase = 'queued';
      job.controller = undefined;
      job.hub.wake();
      return;
    }
    if (job.canceled) {
      this.terminalEvent(job, 'error', { message: 'job canceled', code: 'canceled', exit_code: -1 });
      return this.finish(job, 'canceled', { code: 'canceled', message: 'job canceled' });
    }
    const code = apiErr && JOB_ERROR_CODES.has(apiErr.code) ? apiErr.code : 'internal_error';
    const message = apiErr ? apiErr.message : 'internal error';
    this.terminalEvent(job, 'error', { message, code, exit_code: -1 });
    await this.finish(job, 'failed', { code, message });
  }

  /** Ends a job that never ran in this process (cancel while queued, restart). */
  private async terminate(job: ActiveJob, status: JobStatus, code: string, message: string): Promise<void> {
    this.terminalEvent(job, 'error', { message, code, exit_code: -1 });
    await this.finish(job, status, { code, message });
  }

  // ------------------------------------------------------------------------------ events

  private terminalEvent(job: ActiveJob, type: 'done' | 'error', content: Record<string, unknown>): void {
    if (job.hub.finished) return;
    const ev: Record<string, unknown> = { type, backend: job.backend };
    if (job.record.session_id && job.record.operation === 'prompt') ev.session_id = job.record.session_id;
    ev.timestamp = new Date().toISOString();
    ev.sequence = 0;
    ev.content = content;
    this.emit(job, ev, true);
  }

  /**
   * Numbers an event with the job's next sequence, hands it to the readers and to storage (beyond
   * the storage cap only the first left-out event adds a `truncated` marker).
   */
  private emit(job: ActiveJob, ev: Record<string, unknown>, terminal: boolean): void {
    if (job.hub.finished) return;
    ev.sequence = job.hub.nextSequence();
    let line = JSON.stringify(ev);
    let store = true;
    if (!terminal && !job.log.fits(Buffer.byteLength(line))) {
      store = false;
      if (!job.log.truncated) {
        job.log.truncated = true;
        const marker: Record<string, unknown> = {
          type: 'progress',
          backend: ev.backend,
          timestamp: ev.timestamp,
          sequence: ev.sequence,
          content: {
            stage: 'truncated',
            message: `event storage limit of ${this.config.jobs.max_event_bytes} bytes reached; later events are not stored`,
          },
        };
        const markerEvent = live(marker, false);
        job.hub.append(markerEvent);
        job.log.add(markerEvent, true);
        ev.sequence = job.hub.nextSequence();
        line = JSON.stringify(ev);
      }
    }
    const out: LiveEvent = { sequence: ev.sequence as number, type: ev.type as string, line, terminal };
    job.hub.append(out);
    job.log.add(out, store);
    job.record.events = { count: job.log.count, last_sequence: job.hub.lastSequence };
  }

  // ------------------------------------------------------------------------------ terminal

  private async finish(job: ActiveJob, status: JobStatus, error?: { code: string; message: string }): Promise<void> {
    const record = job.record;
    if (isTerminal(record.status)) return;
    if (!job.hub.finished) {
      // a terminal event is always stored (e.g. a prompt run that ended without one)
      const code = error?.code ?? 'internal_error';
      if (status === 'succeeded') this.terminalEvent(job, 'done', { exit_code: 0, duration_ms: 0 });
      else this.terminalEvent(job, 'error', { message: error?.message ?? code, code, exit_code: -1 });
    }
    record.status = status;
    record.finished_at = new Date().toISOString();
    if (error)
      record.error = { code: JOB_ERROR_CODES.has(error.code) ? error.code : 'internal_error', message: error.message };
    record.events = { count: job.log.count, last_sequence: job.hub.lastSequence };
    await job.log.finish();
    await this.persist(job);
    this.active.delete(record.id);
    this.observer?.jobFinished(status);
    for (const fn of this.terminalWaiters.get(record.id) ?? []) fn();
    this.terminalWaiters.delete(record.id);
    job.hub.wake();
  }

  private async persist(job: ActiveJob): Promise<void> {
    try {
      await this.store.put(job.record);
    } catch (err) {
      this.logger.error('could not store job record', { job_id: job.record.id, error: (err as Error).message });
    }
  }

  private waitTerminal(id: string): Promise<void> {
    if (!this.active.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.terminalWaiters.get(id) ?? [];
      list.push(resolve);
      this.terminalWaiters.set(id, list);
    });
  }

  private activate(record: JobRecord, lastSequence: number, stored: { count: number; bytes: number }): ActiveJob {
    const hub = new EventHub(lastSequence);
    const log = new EventLog(record.id, this.store, hub, this.config.jobs.max_event_bytes, this.logger, stored);
    const job: ActiveJob = { record, hub, log, backend: firstBackend(record), phase: 'queued' };
    this.active.set(record.id, job);
    return job;
  }

  /** A copy of the record with the live event counts. */
  private view(record: JobRecord): JobRecord {
    const active = this.active.get(record.id);
    const r = structuredClone(active ? active.record : record);
    if (active) r.events = { count: active.log.count, last_sequence: active.hub.lastSequence };
    return r;
  }

  private changed(): void {
    this.observer?.jobsChanged(this.queue.length, this.running);
  }

  private async sweep(): Promise<void> {
    try {
      const ids = await this.store.finishedBefore(Date.now() - this.config.jobs.retention_secs * 1000);
      for (const id of ids) await this.store.delete(id);
    } catch (err) {
      this.logger.warn('job retention sweep failed', { error: (err as Error).message });
    }
  }
}

// ------------------------------------------------------------------------------------ helpers

function visible(record: JobRecord, who: Principal): boolean {
  return who.role === 'admin' || record.owner === who.name;
}

function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max).join('');
}

function aggregateSummary(p: Prepared): string {
  if (p.kind === 'parallel') return `${p.items.length} tasks`;
  if (p.kind === 'chain') return `${p.items.length} steps`;
  return `${p.items.length} backends`;
}

function firstBackend(record: JobRecord): BackendName {
  if (record.backend) return record.backend;
  const r = record.request as {
    tasks?: { backend: BackendName }[];
    steps?: { backend: BackendName }[];
    backends?: BackendName[];
  };
  return r.tasks?.[0]?.backend ?? r.steps?.[0]?.backend ?? r.backends?.[0] ?? 'claude';
}

function itemEvent(
  type: string,
  backend: BackendName,
  item: number,
  content: Record<string, unknown>,
): Record<string, unknown> {
  return { type, backend, item, timestamp: new Date().toISOString(), sequence: 0, content };
}

function live(ev: Record<string, unknown>, terminal: boolean): LiveEvent {
  return { sequence: ev.sequence as number, type: ev.type as string, line: JSON.stringify(ev), terminal };
}

/** Detail paths of the inner request are reported under `body.request`. */
function withRequestPrefix(err: unknown): unknown {
  if (!(err instanceof ApiError) || err.code !== 'validation_error' || !err.details) return err;
  return validationError(err.details.map((d) => ({ ...d, path: d.path.replace(/^body/, 'body.request') })));
}

/** JSON with object keys sorted: equal bodies give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}
