/**
 * The run of one job: a prompt (its events recorded as they stream) or an aggregate (its items'
 * events numbered into the job's one stream), in the execution limiter's job lane with the job's
 * own deadline. The record says `running` durably once the run spawned; every way the run ends
 * (success, failure, cancel, a failure before the spawn) leaves one terminal event.
 */
import type { SchemaTaskResult } from '../../generated/types';
import { randomBytes } from 'node:crypto';
import type { BackendName, UnifiedEvent } from '../backends/types';
import type { Config } from '../config/types';
import { ApiError } from '../errors';
import type { AggregateService, Prepared } from '../execution/aggregate';
import type { EventSink } from '../execution/events/sink';
import type { PromptRequest, PromptService } from '../execution/prompt-service';
import type { ExecContext, NativeEvent } from '../execution/types';
import type { Logger } from '../observability/logger';
import { type ActiveJob, JOB_CANCELED } from './active-job';
import type { ActiveJobs } from './active-jobs';
import { itemEvent, jobErrorCode } from './job-events';
import { isTerminal } from './types';

/** What the scheduler learns of a run: the slot was granted, the CLI spawned. */
export interface RunHooks {
  granted(): void;
  running(): void;
}

export class JobRunner {
  constructor(
    private readonly config: Config,
    private readonly jobs: ActiveJobs,
    private readonly prompt: PromptService,
    private readonly aggregates: AggregateService,
    private readonly logger: Logger,
  ) {}

  /** Runs `job` to its terminal state (never throws). */
  async run(job: ActiveJob, hooks: RunHooks): Promise<void> {
    const controller = new AbortController();
    job.controller = controller;
    // canceled while it was being claimed
    if (job.canceled) controller.abort(JOB_CANCELED);
    const record = job.record;
    const ctx: ExecContext = {
      requestId: record.request_id,
      traceparent: newTraceparent(),
      signal: controller.signal,
      deadline: Date.now() + this.config.jobs.run_timeout_secs * 1000,
      timeoutSecs: this.config.jobs.run_timeout_secs,
      lane: 'job',
      apiStyle: 'native',
      operation: record.operation,
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
      onGranted: hooks.granted,
    };
    try {
      if (record.operation === 'prompt') await this.runPrompt(job, ctx, hooks);
      else await this.runAggregate(job, ctx, hooks);
    } catch (err) {
      await this.failed(job, err);
    }
  }

  /** The run spawned: the record says `running` durably. */
  private async markRunning(job: ActiveJob, hooks: RunHooks, sessionId?: string): Promise<void> {
    if (job.phase === 'running') return;
    job.phase = 'running';
    job.record.status = 'running';
    job.record.started_at = new Date().toISOString();
    if (sessionId) job.record.session_id = sessionId;
    hooks.running();
    await this.jobs.persist(job);
  }

  private async runPrompt(job: ActiveJob, ctx: ExecContext, hooks: RunHooks): Promise<void> {
    let spawned: Promise<void> | undefined;
    let terminal: NativeEvent | undefined;
    // a stream run has no separate final answer: the job's `output` is the assistant text of its events
    let text = '';
    const sink: EventSink = {
      open: (sessionId) => {
        spawned = this.markRunning(job, hooks, sessionId);
      },
      write: (ev) => {
        if (ev.type === 'message') text += (ev.content as { text?: string }).text ?? '';
        if (ev.type === 'done' || ev.type === 'error') terminal = ev;
        this.jobs.emit(job, ev as unknown as Record<string, unknown>, ev.type === 'done' || ev.type === 'error');
        return true;
      },
      drained: () => Promise.resolve(),
      abort: () => undefined,
      close: () => undefined,
    };
    const result = await this.prompt.stream(job.record.request as PromptRequest, ctx, sink, { heartbeat: false });
    await spawned;
    job.record.result = result.command ? result : { ...result, output: text };
    if (!terminal || terminal.type === 'done') return this.jobs.finish(job, 'succeeded');
    const content = terminal.content as { code?: string; message?: string };
    const code = job.canceled ? 'canceled' : (content.code ?? 'internal_error');
    await this.jobs.finish(job, code === 'canceled' ? 'canceled' : 'failed', {
      code,
      message: content.message ?? code,
    });
  }

  private async runAggregate(job: ActiveJob, ctx: ExecContext, hooks: RunHooks): Promise<void> {
    const prepared = await this.aggregates.prepare(job.record.operation as never, job.record.request as never);
    let spawned: Promise<void> | undefined;
    const observer = {
      started: () => {
        spawned ??= this.markRunning(job, hooks);
      },
      event: (item: number, backend: BackendName, ev: UnifiedEvent) => {
        this.jobs.emit(job, itemEvent(ev.type, backend, item, ev.content as Record<string, unknown>), false);
      },
      finished: (item: number, result: SchemaTaskResult) => {
        if (result.token_usage) {
          this.jobs.emit(job, itemEvent('token_usage', result.backend, item, { ...result.token_usage }), false);
        }
        const content: Record<string, unknown> = { stage: 'item_finished', exit_code: result.exit_code };
        if (result.error_code !== undefined) content.error_code = result.error_code;
        this.jobs.emit(job, itemEvent('progress', result.backend, item, content), false);
      },
    };
    // a dry run or an aggregate whose items all failed before a spawn still "ran"
    await this.markRunningIfDry(job, prepared, hooks);
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
    if (job.phase !== 'running') await this.markRunning(job, hooks);
    job.record.result = data;
    if (job.canceled) return this.finishCanceled(job);
    if (error) return this.finishFailed(job, jobErrorCode(error.code), error.message);
    const total = (data as { total_duration_ms?: number }).total_duration_ms ?? 0;
    this.jobs.terminalEvent(job, 'done', { exit_code: 0, duration_ms: total });
    return this.jobs.finish(job, 'succeeded');
  }

  private async markRunningIfDry(job: ActiveJob, prepared: Prepared, hooks: RunHooks): Promise<void> {
    if (prepared.dryRun) await this.markRunning(job, hooks);
  }

  /** A failure before (or instead of) the run: one terminal `error` event. */
  private async failed(job: ActiveJob, err: unknown): Promise<void> {
    if (isTerminal(job.record.status) && !this.jobs.has(job.record.id)) return;
    if (!(err instanceof ApiError)) {
      this.logger.error('job failed', { job_id: job.record.id, error: (err as Error).stack ?? String(err) });
    }
    const apiErr = err instanceof ApiError ? err : undefined;
    if (apiErr?.code === 'shutting_down' && job.phase !== 'running' && !job.canceled) {
      // stopped before its CLI started: the job stays queued (for another node, or the next start)
      return this.jobs.requeue(job);
    }
    if (job.canceled) return this.finishCanceled(job);
    await this.finishFailed(job, jobErrorCode(apiErr?.code), apiErr ? apiErr.message : 'internal error');
  }

  private finishCanceled(job: ActiveJob): Promise<void> {
    this.jobs.terminalEvent(job, 'error', { message: 'job canceled', code: 'canceled', exit_code: -1 });
    return this.jobs.finish(job, 'canceled', { code: 'canceled', message: 'job canceled' });
  }

  private finishFailed(job: ActiveJob, code: string, message: string): Promise<void> {
    this.jobs.terminalEvent(job, 'error', { message, code, exit_code: -1 });
    return this.jobs.finish(job, 'failed', { code, message });
  }
}

function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}
