/**
 * The jobs that are not terminal yet, by id, and their way to a terminal state. Every terminal
 * transition stores exactly one terminal event, so a reader that follows a job always ends: a
 * finished run, a cancel while queued, a failure before the spawn, a restart (`server_restarted`)
 * and shutdown (`shutting_down`).
 */
import type { Config } from '../config/types';
import type { Logger } from '../observability/logger';
import { type ActiveJob, firstBackend } from './active-job';
import { EventLog } from './event-log';
import { emitEvent, emitTerminal, jobErrorCode } from './job-events';
import { EventHub } from './fanout';
import { isTerminal, type JobRecord, type JobStatus, type JobStore } from './types';

export class ActiveJobs {
  private readonly byId = new Map<string, ActiveJob>();
  private readonly terminalWaiters = new Map<string, (() => void)[]>();

  constructor(
    private readonly config: Config,
    private readonly store: JobStore,
    private readonly logger: Logger,
    /** This process's node (it holds every job here in the store). */
    private readonly node: string,
    private readonly on: { finished?(status: JobStatus): void; requeued?(record: JobRecord): void } = {},
  ) {}

  /** Holds `record` in memory; its events continue after `lastSequence`. */
  activate(record: JobRecord, lastSequence: number, stored: { count: number; bytes: number }): ActiveJob {
    const hub = new EventHub(lastSequence);
    const log = new EventLog(record.id, this.store, hub, this.config.jobs.max_event_bytes, this.logger, stored);
    const job: ActiveJob = { record, hub, log, backend: firstBackend(record), phase: 'queued' };
    this.byId.set(record.id, job);
    return job;
  }

  get(id: string): ActiveJob | undefined {
    return this.byId.get(id);
  }

  /** Ids of the jobs held in memory. */
  ids(): string[] {
    return [...this.byId.keys()];
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** A copy of the record with the live event counts. */
  view(record: JobRecord): JobRecord {
    const active = this.byId.get(record.id);
    const r = structuredClone(active ? active.record : record);
    if (active) r.events = { count: active.log.count, last_sequence: active.hub.lastSequence };
    return r;
  }

  emit(job: ActiveJob, ev: Record<string, unknown>, terminal: boolean): void {
    emitEvent(job, ev, terminal, this.config.jobs.max_event_bytes);
  }

  terminalEvent(job: ActiveJob, type: 'done' | 'error', content: Record<string, unknown>): void {
    emitTerminal(job, type, content, this.config.jobs.max_event_bytes);
  }

  /** Ends a job that never ran in this process (cancel while queued, a restart, a node gone). */
  async terminate(job: ActiveJob, status: JobStatus, code: string, message: string): Promise<void> {
    this.terminalEvent(job, 'error', { message, code, exit_code: -1 });
    await this.finish(job, status, { code, message });
  }

  /** The terminal transition: terminal event (if the run left none), durable record, waiters woken. */
  async finish(job: ActiveJob, status: JobStatus, error?: { code: string; message: string }): Promise<void> {
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
    if (error) record.error = { code: jobErrorCode(error.code), message: error.message };
    record.events = { count: job.log.count, last_sequence: job.hub.lastSequence };
    await job.log.finish();
    await this.persist(job);
    this.byId.delete(record.id);
    this.on.finished?.(status);
    this.wakeTerminal(record.id);
    job.hub.wake();
  }

  /** A job stopped before its CLI started (shutdown): it goes back to the store's queue for any node. */
  async requeue(job: ActiveJob): Promise<void> {
    const record = job.record;
    this.byId.delete(record.id);
    job.phase = 'queued';
    job.controller = undefined;
    delete record.node;
    try {
      await this.store.release(record.id, this.node);
    } catch (err) {
      this.logger.error('could not release job', { job_id: record.id, error: (err as Error).message });
    }
    job.hub.wake();
    this.on.requeued?.(record);
  }

  /**
   * Forgets a job another node took over: readers and requests look at the store from now on
   * (the run here still ends, its writes refused by the store).
   */
  drop(id: string): void {
    const job = this.byId.get(id);
    if (!job) return;
    this.byId.delete(id);
    job.hub.wake();
  }

  /** Wakes whoever waits for job `id` to end (it ended here, or another node says so). */
  wakeTerminal(id: string): void {
    for (const fn of this.terminalWaiters.get(id) ?? []) fn();
    this.terminalWaiters.delete(id);
  }

  /** Stores the record; a failure is logged (the job goes on in memory). */
  async persist(job: ActiveJob): Promise<void> {
    try {
      await this.store.put(job.record);
    } catch (err) {
      this.logger.error('could not store job record', { job_id: job.record.id, error: (err as Error).message });
    }
  }

  /** Resolves once job `id` is terminal (at once when it is not active). */
  untilTerminal(id: string): Promise<void> {
    if (!this.byId.has(id)) return Promise.resolve();
    return new Promise((resolve) => this.addWaiter(id, resolve));
  }

  /** Resolves once job `id` is terminal, after `ms`, or when `signal` aborts, whichever comes first. */
  untilTerminalOr(id: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
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
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.addWaiter(id, done);
    });
  }

  private addWaiter(id: string, fn: () => void): void {
    const list = this.terminalWaiters.get(id) ?? [];
    list.push(fn);
    this.terminalWaiters.set(id, list);
  }
}
