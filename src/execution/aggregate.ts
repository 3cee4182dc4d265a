/**
 * Aggregate executions: POST /api/v1/parallel, /chain and /compare.
 *
 * Every item is validated before anything runs (all problems reported together, 400 before 403);
 * every run is ephemeral and takes a slot from the server-wide limiter: the first execution
 * of a request is subject to the queue-size check (429 `queue_full`), later ones wait as admitted.
 * Per-item failures are items of the result; the request deadline (504), shutdown (503) and a
 * client disconnect stop the whole aggregate (queued items dropped, running children killed).
 */
import type {
  SchemaChainRequest,
  SchemaChainResult,
  SchemaChainStep,
  SchemaChainStepResult,
  SchemaCompareRequest,
  SchemaCompareResult,
  SchemaItemErrorCode,
  SchemaParallelRequest,
  SchemaParallelResult,
  SchemaParallelTask,
  SchemaTaskResult,
} from '../../generated/types';
import type { BackendName, TokenUsage } from '../backends/types';
import type { Config } from '../config/types';
import { ApiError, ValidationDetail, validationError } from '../errors';
import type { Logger } from '../observability/logger';
import { CANCEL_DISCONNECT, Executor, RunReport } from './executor';
import type { Slot } from './limiter';
import type { Planner, RunPlan } from './plan';
import { dryRunResult, STATUS_CODE } from './results';
import type { ExecContext, ExecutionOptions } from './types';

// ------------------------------------------------------------------------ contract types

/** Request and result shapes come from the contract (generated/types.ts). */
export type ParallelTask = SchemaParallelTask;
export type ParallelRequest = SchemaParallelRequest;
export type ChainStep = SchemaChainStep;
export type ChainRequest = SchemaChainRequest;
export type CompareRequest = SchemaCompareRequest;
/** Item `error_code` values. */
export type ItemErrorCode = SchemaItemErrorCode;
/** An ExecutionResult without `session_id` (parallel and compare items). */
export type TaskResult = SchemaTaskResult;
export type ChainStepResult = SchemaChainStepResult;
export type ParallelResult = SchemaParallelResult;
export type ChainResult = SchemaChainResult;
export type CompareResult = SchemaCompareResult;

/** Error text of items that never started, per reason the aggregate stopped. */
export const NOT_STARTED_ERROR = {
  fail_fast: 'canceled (fail_fast)',
  disconnect: CANCEL_DISCONNECT,
  timeout: 'canceled (request deadline passed before the task started)',
  shutdown: 'canceled (server shutting down)',
  rejected: 'canceled (execution queue full)',
} as const;

type StopReason = keyof typeof NOT_STARTED_ERROR;

const ITEM_CODES: ReadonlySet<string> = new Set<ItemErrorCode>([
  'backend_failed',
  'backend_unavailable',
  'backend_timeout',
  'output_too_large',
  'canceled',
  'validation_error',
  'shutting_down',
  'internal_error',
]);

interface ItemFields {
  model?: string;
  exit_code: number;
  duration_ms: number;
  output: string;
  error?: string;
  error_code?: ItemErrorCode;
  token_usage?: TokenUsage;
  command?: string[];
  working_dir?: string;
}

/** Builds an item with the keys in the contract's order (absent values omitted). */
function taskItem(backend: BackendName, f: ItemFields): TaskResult {
  const r = { backend } as TaskResult;
  if (f.model !== undefined) r.model = f.model;
  r.exit_code = f.exit_code;
  r.duration_ms = f.duration_ms;
  r.output = f.output;
  if (f.error !== undefined) r.error = f.error;
  if (f.error_code !== undefined) r.error_code = f.error_code;
  if (f.token_usage !== undefined) r.token_usage = f.token_usage;
  if (f.command !== undefined) r.command = f.command;
  if (f.working_dir !== undefined) r.working_dir = f.working_dir;
  return r;
}

/** A canceled item: exactly these fields. */
function canceledItem(backend: BackendName, error: string, durationMs = 0): TaskResult {
  return taskItem(backend, { exit_code: -1, duration_ms: durationMs, output: '', error, error_code: 'canceled' });
}

function failedItem(backend: BackendName, code: ItemErrorCode, error: string, model?: string): TaskResult {
  return taskItem(backend, { model, exit_code: -1, duration_ms: 0, output: '', error, error_code: code });
}

function chainItem(step: number, name: string | undefined, r: TaskResult): ChainStepResult {
  const out = { step } as ChainStepResult;
  if (name !== undefined) out.name = name;
  return Object.assign(out, r);
}

// ------------------------------------------------------------------------------------ jobs

/** One validated item, ready to plan. */
interface Job {
  opts: ExecutionOptions;
  cwd: string;
  prefix: string;
}

/** The resolved executable per backend, or why it is unavailable. */
type Commands = Map<BackendName, { command: string } | { unavailable: string }>;

/**
 * Shared state of one aggregate request: the cancellation controller of all its runs, the stop
 * reason and the admission gate (only the first execution is subject to the queue-size check).
 */
class AggregateRun {
  readonly controller = new AbortController();
  readonly taskCtx: ExecContext;
  stopReason?: StopReason;
  /** The error of the request-level rejection of the first execution (429, 503 or 504). */
  rejection?: ApiError;
  /** Some item was killed or not started because of the deadline / shutdown. */
  timedOut = false;
  shutDown = false;
  readonly startedAt = Date.now();
  private gate?: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort: () => void;

  constructor(
    private readonly ctx: ExecContext,
    private readonly executor: Executor,
  ) {
    this.taskCtx = { ...ctx, signal: this.controller.signal };
    this.onAbort = () => this.stop('disconnect');
    if (ctx.signal.aborted) this.onAbort();
    else ctx.signal.addEventListener('abort', this.onAbort, { once: true });
    // Running children are killed by the executor at the same deadline (status `timeout`);
    // this only stops the aggregate from starting anything more.
    this.timer = setTimeout(() => this.stop('timeout'), Math.max(0, ctx.deadline - Date.now()));
    this.timer.unref();
  }

  get stopped(): boolean {
    return this.stopReason !== undefined;
  }

  /** Stops starting new items; fail_fast and disconnect also kill the running ones. */
  stop(reason: StopReason): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    if (reason === 'fail_fast') this.controller.abort(NOT_STARTED_ERROR.fail_fast);
    else if (reason === 'disconnect') this.controller.abort(CANCEL_DISCONNECT);
  }

  /** The item of a task that was never started because the aggregate stopped. */
  notStarted(backend: BackendName): TaskResult {
    const reason = this.stopReason ?? 'disconnect';
    if (reason === 'timeout') this.timedOut = true;
    if (reason === 'shutdown') this.shutDown = true;
    return canceledItem(backend, NOT_STARTED_ERROR[reason]);
  }

  /**
   * A limiter slot. The first call of the request is the admission check; every later call waits
   * until it was decided and then waits as an admitted execution. Must be called before any await
   * in the caller so that the first item in request order is the admission check.
   */
  acquire(): Promise<Slot> {
    if (this.gate) {
      return this.gate.then(() => {
        if (this.stopped) throw new ApiError('internal_error', 'aggregate stopped');
        return this.executor.acquire({ ...this.taskCtx, admitted: true });
      });
    }
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => (open = resolve));
    return this.executor.acquire(this.taskCtx).then(
      (slot) => {
        open();
        return slot;
      },
      (err: unknown) => {
        // decided before the gate opens, so that no later item is queued after a rejection
        if (err instanceof ApiError && err.code !== 'internal_error') this.reject(err);
        open();
        throw err;
      },
    );
  }

  /** Records the request-level rejection of the first execution (429, 503 or 504). */
  private reject(err: ApiError): void {
    if (this.rejection) return;
    this.rejection = err;
    if (err.code === 'queue_full') this.stop('rejected');
    else if (err.code === 'backend_timeout') this.stop('timeout');
    else if (err.code === 'shutting_down') this.stop('shutdown');
  }

  /** A later (admitted) acquisition failed: the aggregate stops for the same reason. */
  acquireFailed(err: ApiError): void {
    if (err.code === 'backend_timeout') this.stop('timeout');
    else if (err.code === 'shutting_down') this.stop('shutdown');
  }

  get totalDurationMs(): number {
    return Date.now() - this.startedAt;
  }

  finish(): void {
    clearTimeout(this.timer);
    this.ctx.signal.removeEventListener('abort', this.onAbort);
  }
}

// ------------------------------------------------------------------------------------ service

export class AggregateService {
  constructor(
    private readonly config: Config,
    private readonly planner: Planner,
    private readonly executor: Executor,
    private readonly logger: Logger,
  ) {}

  /** POST /api/v1/parallel. */
  async parallel(body: ParallelRequest, ctx: ExecContext): Promise<ParallelResult> {
    const dryRun = body.dry_run === true || this.config.unified_flags.dry_run;
    const failFast = body.fail_fast ?? this.config.parallel.fail_fast;
    const problems: ValidationDetail[] = [];
    const forbidden: ApiError[] = [];
    const jobs: Job[] = [];
    for (const [i, task] of body.tasks.entries()) {
      const { ephemeral: _e, metadata: _m, output_format: _f, ...rest } = task;
      const prefix = `body.tasks[${i}]`;
      const opts: ExecutionOptions = { ...rest, ephemeral: true, dry_run: dryRun };
      const cwd = await this.check({ ...opts, metadata: task.metadata }, prefix, task.workdir, problems, forbidden);
      jobs.push({ opts, cwd: cwd ?? '', prefix });
    }
    this.throwProblems(problems, forbidden);
    const commands = await this.commands(jobs.map((j) => j.opts.backend));

    const maxParallel = Math.max(
      1,
      Math.min(body.max_parallel ?? this.config.parallel.max_workers, this.config.server.max_concurrent_executions),
    );
    const run = new AggregateRun(ctx, this.executor);
    const results = await inOrder(jobs, maxParallel, async (job) => {
      const result = await this.runJob(job, commands, run, dryRun);
      // fail_fast: a failed task stops the rest (a canceled one is a consequence, not a cause)
      if (failFast && result.exit_code !== 0 && result.error_code !== 'canceled') run.stop('fail_fast');
      return result;
    });
    run.finish();

    const data: ParallelResult = {
      total_tasks: jobs.length,
      completed: results.filter((r) => r.exit_code === 0).length,
      failed: results.filter((r) => r.exit_code !== 0 && r.error_code !== 'canceled').length,
      canceled: results.filter((r) => r.error_code === 'canceled').length,
      total_duration_ms: run.totalDurationMs,
      results,
    };
    return this.conclude('parallel', run, ctx, data);
  }

  /** POST /api/v1/chain. */
  async chain(body: ChainRequest, ctx: ExecContext): Promise<ChainResult> {
    const dryRun = body.dry_run === true || this.config.unified_flags.dry_run;
    const problems: ValidationDetail[] = [];
    const forbidden: ApiError[] = [];
    const jobs: Job[] = [];
    let previousCwd: string | undefined;
    for (const [i, step] of body.steps.entries()) {
      const { name: _n, ...rest } = step;
      const prefix = `body.steps[${i}]`;
      if (step.prompt.includes('{{session}}')) {
        problems.push({
          path: `${prefix}.prompt`,
          message: 'must not contain {{session}} (chains are always ephemeral)',
        });
      }
      const opts: ExecutionOptions = { ...rest, ephemeral: true, dry_run: dryRun };
      let cwd: string | undefined;
      if (step.workdir === undefined && body.pass_working_dir === true && i > 0) {
        await this.check(opts, prefix, undefined, problems, forbidden, true);
        cwd = previousCwd;
      } else {
        cwd = await this.check(opts, prefix, step.workdir, problems, forbidden);
      }
      previousCwd = cwd;
      jobs.push({ opts, cwd: cwd ?? '', prefix });
    }
    if (body.pass_session_id === true) {
      problems.push({ path: 'body.pass_session_id', message: 'must be false (chains are always ephemeral)' });
    }
    if (body.persist_sessions === true) {
      problems.push({ path: 'body.persist_sessions', message: 'must be false (chains are always ephemeral)' });
    }
    this.throwProblems(problems, forbidden);
    const commands = await this.commands(jobs.map((j) => j.opts.backend));

    const run = new AggregateRun(ctx, this.executor);
    const results: ChainStepResult[] = [];
    let previous = '';
    for (const [i, job] of jobs.entries()) {
      if (run.stopped) break;
      const step = body.steps[i];
      // from step 2 on, every {{previous}} becomes the previous step's output (even a failed one's)
      const prompt = i > 0 ? job.opts.prompt.split('{{previous}}').join(previous) : job.opts.prompt;
      const invalid =
        prompt === job.opts.prompt ? undefined : await this.substitutionProblem({ ...job.opts, prompt }, job.prefix);
      const result =
        invalid !== undefined
          ? failedItem(job.opts.backend, 'validation_error', invalid)
          : await this.runJob({ ...job, opts: { ...job.opts, prompt } }, commands, run, dryRun);
      results.push(chainItem(i + 1, step.name, result));
      previous = result.output;
      if (result.exit_code !== 0 && body.stop_on_failure === true) break;
    }
    run.finish();

    const failed = results.filter((r) => r.exit_code !== 0);
    const data = {
      total_steps: jobs.length,
      completed_steps: results.filter((r) => r.exit_code === 0).length,
    } as ChainResult;
    if (failed.length > 0) data.failed_step = failed[failed.length - 1].step;
    data.total_duration_ms = run.totalDurationMs;
    data.results = results;
    return this.conclude('chain', run, ctx, data);
  }

  /** POST /api/v1/compare. */
  async compare(body: CompareRequest, ctx: ExecContext): Promise<CompareResult> {
    const dryRun = body.dry_run === true || this.config.unified_flags.dry_run;
    const problems: ValidationDetail[] = [];
    const forbidden: ApiError[] = [];
    const base = { prompt: body.prompt, model: body.model, workdir: body.workdir, ephemeral: true, dry_run: dryRun };
    // The prompt may assemble differently per backend (configured system prompts): check each once.
    for (const backend of new Set(body.backends)) {
      try {
        await this.planner.validate({ ...base, backend }, 'body', true);
      } catch (err) {
        collect(err, problems, forbidden);
      }
    }
    let cwd: string | undefined;
    try {
      cwd = await this.planner.checkSessionWorkdir(body.workdir ?? this.config.server.default_workdir, 'body');
    } catch (err) {
      collect(err, problems, forbidden);
    }
    this.throwProblems(dedupe(problems), forbidden);
    const jobs: Job[] = body.backends.map((backend) => ({ opts: { ...base, backend }, cwd: cwd!, prefix: 'body' }));
    const commands = await this.commands(body.backends);

    const run = new AggregateRun(ctx, this.executor);
    const concurrency = body.sequential === true ? 1 : this.config.server.max_concurrent_executions;
    const results = await inOrder(jobs, concurrency, (job) => this.runJob(job, commands, run, dryRun));
    run.finish();

    const data: CompareResult = {
      prompt: body.prompt,
      backends: [...body.backends],
      total_duration_ms: run.totalDurationMs,
      results,
    };
    return this.conclude('compare', run, ctx, data);
  }

  // ------------------------------------------------------------------------------------------

  /**
   * Semantic validation of one item (text, extra flags) and its workdir; problems are collected,
   * not thrown, so that every item's problems are reported together. Returns the resolved cwd.
   */
  private async check(
    opts: ExecutionOptions,
    prefix: string,
    workdir: string | undefined,
    problems: ValidationDetail[],
    forbidden: ApiError[],
    skipWorkdir = false,
  ): Promise<string | undefined> {
    try {
      await this.planner.validate(opts, prefix, true);
    } catch (err) {
      collect(err, problems, forbidden);
    }
    if (skipWorkdir) return undefined;
    try {
      return await this.planner.checkSessionWorkdir(workdir ?? this.config.server.default_workdir, prefix);
    } catch (err) {
      collect(err, problems, forbidden);
      return undefined;
    }
  }

  /** 400 with every problem; else the first 403 (semantic validation precedes policy). */
  private throwProblems(problems: ValidationDetail[], forbidden: ApiError[]): void {
    if (problems.length > 0) throw validationError(problems);
    if (forbidden.length > 0) throw forbidden[0];
  }

  /** Why a `{{previous}}`-substituted prompt cannot run (a validation message), if it cannot. */
  private async substitutionProblem(opts: ExecutionOptions, prefix: string): Promise<string | undefined> {
    try {
      await this.planner.validate(opts, prefix, true);
      return undefined;
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 'validation_error') throw err;
      const d = err.details?.[0];
      return d ? `${d.path} ${d.message} after {{previous}} substitution` : err.message;
    }
  }

  /** Availability of each distinct backend; unavailable ones are item failures. */
  private async commands(backends: BackendName[]): Promise<Commands> {
    const out: Commands = new Map();
    for (const b of new Set(backends)) {
      try {
        out.set(b, { command: await this.executor.command(b) });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        out.set(b, { unavailable: err.message });
      }
    }
    return out;
  }

  /**
   * Runs (or renders) one item. Starts with the admission call (synchronously, before any await),
   * so that items are submitted to the limiter in the order their callers were invoked.
   */
  private async runJob(job: Job, commands: Commands, run: AggregateRun, dryRun: boolean): Promise<TaskResult> {
    const backend = job.opts.backend;
    const cmd = commands.get(backend)!;
    if (run.stopped) return run.notStarted(backend);
    if ('unavailable' in cmd) return failedItem(backend, 'backend_unavailable', cmd.unavailable);
    const plan = this.planner.plan(job.opts, job.cwd, 'json');
    if (dryRun) return dryItem(plan, cmd.command);

    let slot: Slot;
    try {
      slot = await run.acquire();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      run.acquireFailed(err);
      return run.notStarted(backend);
    }
    if (run.stopped) {
      slot.release();
      return run.notStarted(backend);
    }
    let report: RunReport;
    try {
      report = await this.executor.run(plan, cmd.command, slot, run.taskCtx);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const code: ItemErrorCode = ITEM_CODES.has(err.code) ? (err.code as ItemErrorCode) : 'internal_error';
      return failedItem(backend, code, err.message, plan.model);
    }
    return this.itemOf(plan, report, run);
  }

  private itemOf(plan: RunPlan, report: RunReport, run: AggregateRun): TaskResult {
    if (report.status === 'success') {
      return taskItem(plan.backend, {
        model: plan.model,
        exit_code: 0,
        duration_ms: report.durationMs,
        output: report.output,
        token_usage: report.usage,
      });
    }
    if (report.status === 'canceled') {
      return canceledItem(plan.backend, report.error ?? NOT_STARTED_ERROR.disconnect, report.durationMs);
    }
    if (report.status === 'timeout') {
      run.timedOut = true;
      run.stop('timeout');
    }
    if (report.status === 'shutdown') {
      run.shutDown = true;
      run.stop('shutdown');
    }
    return taskItem(plan.backend, {
      model: plan.model,
      exit_code: report.exitCode,
      duration_ms: report.durationMs,
      output: report.output,
      error: report.error ?? `${plan.backend} failed`,
      error_code: STATUS_CODE[report.status],
      token_usage: report.usage,
    });
  }

  /**
   * The request-level outcome: 429/503/504 when the first execution was not admitted, 504/503 with
   * the aggregate when the deadline passed or the server shut down; a disconnected client's
   * aggregate is logged (nobody can receive it).
   */
  private conclude<T extends ParallelResult | ChainResult | CompareResult>(
    kind: 'parallel' | 'chain' | 'compare',
    run: AggregateRun,
    ctx: ExecContext,
    data: T,
  ): T {
    const rej = run.rejection;
    if (rej?.code === 'queue_full') throw rej;
    if (run.timedOut || rej?.code === 'backend_timeout') {
      throw new ApiError('backend_timeout', `timed out after ${this.config.server.request_timeout_secs} s`, { data });
    }
    if (run.shutDown || rej?.code === 'shutting_down') {
      throw new ApiError('shutting_down', 'server shutting down', { data });
    }
    if (rej) throw rej;
    if (run.stopReason === 'disconnect' || ctx.signal.aborted) {
      this.logger.info(`${kind} interrupted: client disconnected`, { request_id: ctx.requestId, [kind]: data });
    }
    return data;
  }
}

/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight, starting them in order (each
 * call begins synchronously when its predecessor was started), results in the items' order.
 */
async function inOrder<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, () => worker()));
  return results;
}

/** A dry-run item: the rendered argv, without `session_id`. */
function dryItem(plan: RunPlan, command: string): TaskResult {
  const r = dryRunResult(plan, command);
  return taskItem(plan.backend, {
    model: r.model,
    exit_code: r.exit_code,
    duration_ms: r.duration_ms,
    output: r.output,
    command: r.command,
    working_dir: r.working_dir,
  });
}

function collect(err: unknown, problems: ValidationDetail[], forbidden: ApiError[]): void {
  if (!(err instanceof ApiError)) throw err;
  if (err.code === 'validation_error') problems.push(...(err.details ?? [{ path: 'body', message: err.message }]));
  else if (err.code === 'forbidden_workdir') forbidden.push(err);
  else throw err;
}

function dedupe(problems: ValidationDetail[]): ValidationDetail[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
