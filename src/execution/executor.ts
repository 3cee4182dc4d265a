/**
 * Runs one plan: availability, execution slot, spawn, deadline/cancel/shutdown kills, parsing.
 * Shared by every kind of execution (prompt, stream, aggregates, compat APIs).
 */
import { type ExecutionObserver, NO_OBSERVER } from '../observability/execution-observer';
import type { BackendStatus } from '../backends/availability';
import type { RunHandle, RunOutcome } from '../backends/runner-types';
import type { BackendName, ProcessExit, StreamParser, TokenUsage, UnifiedEvent } from '../backends/types';
import type { Config } from '../config/types';
import { ApiError } from '../errors';
import type { Logger } from '../observability/logger';
import { isValidBackendSessionId } from '../backends/session-id';
import { shortenMiddle } from '../security/text';
import type { LaunchedRun, LaunchSpec, RunLauncher } from './launcher';
import type { ExecutionLimiter, Slot } from './limiter';
import type { RunPlan } from './plan';
import { RUN_LABEL, STATUS_CODE } from './results';
import type { ExecContext, RunStatus } from './types';
import type { Ticket } from '../usage/limits';
import type { UsageService } from '../usage/service';
import { usageRecord, type UsageFacts } from './usage-record';

export const KILL_TIMEOUT = 'timeout';
export const KILL_SHUTDOWN = 'shutdown';
export const CANCEL_DISCONNECT = 'canceled: client disconnected';
/** Kill reason of a run whose worker node stopped reporting (cluster mode). */
export const WORKER_LOST = 'worker lost';
/**
 * Bytes of a failed CLI's error text (usually its stderr) an answer may carry; the whole stderr
 * tail goes to the debug log (see docs/security.md).
 */
export const MAX_ERROR_TEXT_BYTES = 2048;

/** Longest CLI error text copied into a `run failed` log line. */
export const MAX_LOGGED_ERROR_CHARS = 500;

/** What happened to one run, before any session bookkeeping. */
export interface RunReport {
  status: RunStatus;
  exitCode: number;
  durationMs: number;
  output: string;
  error?: string;
  /** Usage as the CLI reported it (cumulative for codex resumed threads). */
  usage?: TokenUsage;
  backendSessionId?: string;
  /** Cluster mode: the worker node that ran it. */
  node?: string;
}

/** What the executor needs to know of backends (this machine's executables, or the cluster's workers). */
export interface BackendSource {
  check(name: BackendName): Promise<BackendStatus>;
  invalidate(name: BackendName): void;
}

export interface RunHooks {
  /** After a slot was granted, right before spawning (session creation). May throw. */
  beforeSpawn?(): Promise<void>;
  /** The spawn failed (the slot is already released). */
  spawnFailed?(): Promise<void>;
  /** Right after the child started (stream mode: write the response head). */
  started?(handle: RunHandle): void;
  /** Stream mode: one unified event per parsed line. */
  onEvent?(event: UnifiedEvent): void;
  /** The run's own usage and session (a resumed codex thread reports cumulative usage). */
  usageFacts?(report: RunReport): UsageFacts;
}

export class Executor {
  constructor(
    private readonly config: Config,
    private readonly availability: BackendSource,
    private readonly launcher: RunLauncher,
    private readonly limiter: ExecutionLimiter,
    private readonly logger: Logger,
    private readonly observer: ExecutionObserver = NO_OBSERVER,
    private readonly usage?: UsageService,
  ) {}

  /** Admission tickets of the per-key limits, by the slot they came with. */
  private readonly tickets = new WeakMap<Slot, Ticket>();

  /**
   * How many more executions the request's key may have at once (Infinity without
   * `max_concurrent`): an aggregate runs at most that many items in parallel.
   */
  async keyRoom(ctx: ExecContext): Promise<number> {
    return this.usage ? this.usage.limits.room(this.usage.keyRef(ctx.principal, ctx.meta?.key)) : Infinity;
  }

  /** Resolved executable of an enabled, available backend, else 503 `backend_unavailable`. */
  async command(backend: BackendName): Promise<string> {
    const st = await this.availability.check(backend);
    if (!st.available || !st.command) {
      throw new ApiError('backend_unavailable', st.reason ?? `backend "${backend}" is not available`);
    }
    return st.command;
  }

  /**
   * The key's limits (429 `quota_exceeded`, `key_concurrency_limit`; the first execution of a
   * request only, `items` executions for an aggregate), then an execution slot (429 queue_full, 504
   * in the queue, 503 shutting down).
   */
  acquire(
    ctx: ExecContext,
    run: { backend?: string; workdir?: string; sessionId?: string; items?: number } = {},
  ): Promise<Slot> {
    if (!this.usage) return this.acquireSlot(ctx, run, undefined);
    const lane = ctx.lane ?? 'sync';
    return this.usage.limits
      .admit(this.usage.keyRef(ctx.principal, ctx.meta?.key), {
        quotaItems: ctx.admitted ? 0 : (run.items ?? 1),
        checkConcurrency: !ctx.admitted && lane === 'sync',
        countQueued: lane === 'sync',
      })
      .then((ticket) => this.acquireSlot(ctx, run, ticket));
  }

  private acquireSlot(
    ctx: ExecContext,
    run: { backend?: string; workdir?: string; sessionId?: string },
    ticket: Ticket | undefined,
  ): Promise<Slot> {
    const acquired = this.limiter.acquire({
      signal: ctx.signal,
      deadline: ctx.deadline,
      admitted: ctx.admitted,
      lane: ctx.lane,
      workdir: run.workdir,
      meta: ctx.meta && {
        ...ctx.meta,
        backend: run.backend ?? ctx.meta.backend,
        sessionId: run.sessionId ?? ctx.meta.sessionId,
      },
      onGranted: () => {
        ticket?.granted();
        ctx.onGranted?.();
      },
      onReject: (r) => this.observer.rejected(r),
    });
    if (!ticket) return acquired;
    const t = ticket;
    return acquired.then(
      (inner) => {
        const slot: Slot = {
          release: () => {
            inner.release();
            t.release();
          },
        };
        this.tickets.set(slot, t);
        return slot;
      },
      (err: unknown) => {
        t.release();
        throw err;
      },
    );
  }

  /**
   * Runs the plan with an already-acquired slot (released here when the run ends).
   * Throws only before the child started (503 on spawn failure).
   */
  async run(plan: RunPlan, command: string, slot: Slot, ctx: ExecContext, hooks: RunHooks = {}): Promise<RunReport> {
    let parser: StreamParser | undefined;
    let handle: LaunchedRun;
    // bytes of the streamed assistant text (a usage estimate when the CLI reports none)
    let outputBytes = 0;
    const userOnEvent = hooks.onEvent;
    const countingHooks: RunHooks = {
      ...hooks,
      onEvent: (ev) => {
        if (ev.type === 'message') outputBytes += Buffer.byteLength(ev.content.text ?? '');
        userOnEvent?.(ev);
      },
    };
    const s = this.config.server;
    const spec: LaunchSpec = {
      backend: plan.backend,
      command,
      args: plan.args,
      cwd: plan.cwd,
      traceparent: ctx.traceparent,
      workdirPrefixes: ctx.principal?.workdirPrefixes,
      deadline: ctx.deadline,
      killGraceMs: s.kill_grace_secs * 1000,
      mode: plan.mode === 'stream' ? 'lines' : 'collect',
      maxOutputBytes: s.max_output_bytes,
      maxLineBytes: s.max_output_line_bytes,
      node: plan.node,
      backpressure: plan.mode === 'stream' && ctx.lane !== 'job',
      signal: ctx.signal,
    };
    try {
      await this.launcher.precheck(spec);
    } catch (err) {
      slot.release();
      await hooks.spawnFailed?.();
      throw err;
    }
    try {
      await hooks.beforeSpawn?.();
      if (plan.mode === 'stream') parser = plan.adapter.createStreamParser();
      const p = parser;
      handle = await this.launcher.launch({
        ...spec,
        onLine: p ? (line) => this.feed(p, line, countingHooks) : undefined,
      });
    } catch (err) {
      slot.release();
      await hooks.spawnFailed?.();
      if (err instanceof ApiError) throw err;
      throw new ApiError('internal_error', `run could not be started: ${(err as Error).message}`);
    }
    const started = Date.now();
    const startedAt = this.usage ? this.usage.clock() : started;
    this.tickets.get(slot)?.started();
    this.observer.runStarted(plan.backend);
    const stopTimer = this.watch(handle, ctx);
    hooks.started?.(handle);
    let outcome: RunOutcome;
    try {
      outcome = await handle.done;
    } finally {
      stopTimer();
      slot.release();
    }
    const report = this.report(plan, outcome, parser, Date.now() - started, ctx);
    if (handle.node !== undefined) report.node = handle.node;
    this.observer.runFinished(plan.backend, RUN_LABEL[report.status], report.durationMs, report.usage);
    if (this.usage) {
      this.usage.record(usageRecord(plan, report, ctx, startedAt, hooks.usageFacts?.(report), outputBytes));
    }
    if (plan.ephemeral && report.backendSessionId && plan.adapter.cleanupArgsAfterEphemeral) {
      // gemini has no "don't persist" option: delete its session afterwards (no slot, not awaited).
      void this.cleanup(spec, plan.adapter.cleanupArgsAfterEphemeral(report.backendSessionId), handle.node);
    }
    this.logRun(plan, report, ctx);
    return report;
  }

  /**
   * One line per finished run: a failure says why at `warn` (error code, exit code, the CLI's own
   * error text, truncated) so an operator reading only the log knows the cause (docs/operations.md).
   */
  private logRun(plan: RunPlan, report: RunReport, ctx: ExecContext): void {
    const fields = {
      request_id: ctx.requestId,
      backend: plan.backend,
      exit_code: report.exitCode,
      duration_ms: report.durationMs,
    };
    if (report.status === 'success') {
      this.logger.debug('run finished', { ...fields, status: report.status });
      return;
    }
    const failure = {
      ...fields,
      error_code: report.status === 'line_too_long' ? 'stream_line_too_long' : STATUS_CODE[report.status],
      error: truncate(report.error ?? '', MAX_LOGGED_ERROR_CHARS),
    };
    if (report.status === 'canceled') this.logger.info('run canceled', failure);
    else this.logger.warn('run failed', failure);
  }

  /** Best-effort follow-up process without a slot (gemini ephemeral session clean-up), where the run ran. */
  private async cleanup(run: LaunchSpec, args: string[], node: string | undefined): Promise<void> {
    try {
      const spec: LaunchSpec = {
        ...run,
        args,
        node,
        mode: 'collect',
        maxOutputBytes: 1 << 20,
        deadline: Date.now() + 30_000,
        onLine: undefined,
        backpressure: false,
        signal: undefined,
      };
      await this.launcher.precheck(spec);
      const handle = await this.launcher.launch(spec);
      const timer = setTimeout(() => handle.kill('cleanup timeout'), 30_000);
      timer.unref();
      const out = await handle.done;
      clearTimeout(timer);
      if (out.exit.code !== 0) this.logger.warn('session clean-up failed', { args, stderr: out.stderr.slice(-500) });
    } catch (err) {
      this.logger.warn('session clean-up failed', { args, error: (err as Error).message });
    }
  }

  private feed(parser: StreamParser, line: string, hooks: RunHooks): void {
    for (const ev of parser.push(line)) {
      if (ev.type === 'init' && ev.content.backend_session_id !== undefined) {
        if (!isValidBackendSessionId(ev.content.backend_session_id)) {
          const { backend_session_id: _dropped, ...rest } = ev.content;
          hooks.onEvent?.({ type: 'init', content: rest });
          continue;
        }
      }
      hooks.onEvent?.(ev);
    }
  }

  /** Kills the child at the deadline or when the client goes away. */
  private watch(handle: RunHandle, ctx: ExecContext): () => void {
    const timer = setTimeout(() => handle.kill(KILL_TIMEOUT), Math.max(0, ctx.deadline - Date.now()));
    timer.unref();
    const onAbort = (): void => handle.kill(abortReason(ctx.signal));
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    return () => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
    };
  }

  private report(
    plan: RunPlan,
    out: RunOutcome,
    parser: StreamParser | undefined,
    durationMs: number,
    ctx: ExecContext,
  ): RunReport {
    const s = this.config.server;
    const parsed = parser
      ? parser.finish(out.exit, out.stderr)
      : plan.adapter.parseResult(out.stdout, out.stderr, out.exit);
    const output = parser ? '' : ((parsed as { output?: string }).output ?? '');
    let backendSessionId = parsed.backendSessionId;
    if (backendSessionId !== undefined && !isValidBackendSessionId(backendSessionId)) {
      // Never stored, never rendered into a later argv; the turn itself is unaffected.
      this.logger.warn('ignoring a session id reported by the CLI that is not a UUID', {
        backend: plan.backend,
        reported: JSON.stringify(String(backendSessionId).slice(0, 100)),
      });
      backendSessionId = undefined;
    }
    const base = { durationMs, output, usage: parsed.usage, backendSessionId };
    const killed = (status: RunStatus, error: string): RunReport => ({ ...base, status, exitCode: -1, error });
    if (out.killReason === KILL_TIMEOUT) {
      return killed('timeout', `timed out after ${ctx.timeoutSecs ?? s.request_timeout_secs} s`);
    }
    if (out.killReason === KILL_SHUTDOWN) return killed('shutdown', 'server shutting down');
    if (out.killReason === WORKER_LOST) return killed('unavailable', WORKER_LOST);
    if (out.killReason !== undefined && out.killReason.startsWith('canceled'))
      return killed('canceled', out.killReason);
    if ((out as { lineCallbackError?: unknown }).lineCallbackError !== undefined) {
      this.logger.error('stream parser failed', {
        backend: plan.backend,
        error: String((out as { lineCallbackError?: unknown }).lineCallbackError),
      });
      return killed('internal', 'internal error while reading the backend output');
    }
    if (out.lineTooLong)
      return killed('line_too_long', `backend output line exceeded ${s.max_output_line_bytes} bytes`);
    if (out.outputTooLarge) return killed('output_too_large', `backend output exceeded ${s.max_output_bytes} bytes`);
    if (parsed.success) return { ...base, status: 'success', exitCode: 0 };
    const error = parsed.error ?? `${plan.backend} failed`;
    const shortened = shortenMiddle(error, MAX_ERROR_TEXT_BYTES);
    if (shortened !== error) {
      this.logger.debug('CLI error text shortened in the answer; its stderr tail follows', {
        backend: plan.backend,
        request_id: ctx.requestId,
        stderr: out.stderr,
      });
    }
    return { ...base, status: 'error', exitCode: exitCodeOf(out.exit), error: shortened };
  }
}

/** `1` when the CLI exited 0 but the run failed; `-1` without an exit status. */
function exitCodeOf(exit: ProcessExit): number {
  if (exit.code === null) return -1;
  return exit.code === 0 ? 1 : exit.code;
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return typeof r === 'string' && r.startsWith('canceled') ? r : CANCEL_DISCONNECT;
}

function truncate(text: string, max: number): string {
  const flat = text.trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
