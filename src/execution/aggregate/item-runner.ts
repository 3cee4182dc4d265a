/**
 * Validation and execution of single aggregate items, shared by parallel, chain and compare: every
 * run is ephemeral and takes a slot through the aggregate's gate; per-item failures become items.
 */
import type { SchemaItemErrorCode, SchemaTaskResult } from '../../../generated/types';
import type { PolicyHolder } from '../../auth/policy';
import type { BackendName } from '../../backends/types';
import type { Config } from '../../config/types';
import { ApiError } from '../../errors';
import type { Logger } from '../../observability/logger';
import type { Executor, RunHooks, RunReport } from '../executor';
import type { Slot } from '../limiter';
import type { Planner, RunPlan } from '../plan';
import { STATUS_CODE } from '../results';
import type { ExecContext, ExecutionOptions } from '../types';
import { type AggregateGate, NOT_STARTED_ERROR } from './gate';
import { canceledItem, dryItem, failedItem, taskItem } from './items';
import type { ProblemCollector } from './problems';
import type { AggregateItem, AggregateKind, AggregateResult, Commands } from './types';

const ITEM_CODES: ReadonlySet<string> = new Set<SchemaItemErrorCode>([
  'backend_failed',
  'backend_unavailable',
  'backend_timeout',
  'output_too_large',
  'canceled',
  'validation_error',
  'shutting_down',
  'internal_error',
]);

/** What parallel, chain and compare share: configuration, planner, executor and logger. */
export class ItemRunner {
  constructor(
    readonly config: Config,
    readonly planner: Planner,
    readonly executor: Executor,
    private readonly logger: Logger,
  ) {}

  /** Dry run requested by the body or forced by `unified_flags.dry_run`. */
  dryRun(requested: boolean | undefined): boolean {
    return requested === true || this.config.unified_flags.dry_run;
  }

  /**
   * Semantic validation of one item (text, extra flags) and of its workdir; problems go to the
   * collector so that every item's problems are reported together. Returns the resolved cwd.
   */
  async check(
    opts: ExecutionOptions,
    prefix: string,
    workdir: string | undefined,
    problems: ProblemCollector,
    who: PolicyHolder | undefined,
    skipWorkdir = false,
  ): Promise<string | undefined> {
    await problems.check(() => this.planner.validate(opts, prefix, true, who));
    if (skipWorkdir) return undefined;
    return problems.check(() =>
      this.planner.checkSessionWorkdir(workdir ?? this.config.server.default_workdir, prefix, who),
    );
  }

  /** Why a `{{previous}}`-substituted prompt cannot run (a validation message), if it cannot. */
  async substitutionProblem(opts: ExecutionOptions, prefix: string): Promise<string | undefined> {
    try {
      await this.planner.validate(opts, prefix, true);
      return undefined;
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 'validation_error') throw err;
      const d = err.details?.[0];
      return d ? `${d.path} ${d.message} after {{previous}} substitution` : err.message;
    }
  }

  /** Availability of each distinct backend; unavailable ones become item failures. */
  async commands(backends: BackendName[]): Promise<Commands> {
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
  async run(
    item: AggregateItem,
    index: number,
    commands: Commands,
    gate: AggregateGate,
    dryRun: boolean,
  ): Promise<SchemaTaskResult> {
    const result = await this.runItem(item, index, commands, gate, dryRun);
    gate.observer?.finished(index, result);
    return result;
  }

  private async runItem(
    item: AggregateItem,
    index: number,
    commands: Commands,
    gate: AggregateGate,
    dryRun: boolean,
  ): Promise<SchemaTaskResult> {
    const backend = item.opts.backend;
    const cmd = commands.get(backend)!;
    if (gate.stopped) return gate.notStarted(backend);
    if ('unavailable' in cmd) return failedItem(backend, 'backend_unavailable', cmd.unavailable);
    const observer = gate.observer;
    const plan = this.planner.plan(item.opts, item.cwd, observer && !dryRun ? 'stream' : 'json');
    if (dryRun) return dryItem(plan, cmd.command);

    let slot: Slot;
    try {
      slot = await gate.acquire({ backend, workdir: plan.cwd });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      gate.acquireFailed(err);
      return gate.notStarted(backend);
    }
    if (gate.stopped) {
      slot.release();
      return gate.notStarted(backend);
    }
    // stream mode (observed items): the output is the assistant text of the item's events
    let text = '';
    const hooks: RunHooks = observer
      ? {
          started: () => observer.started(index),
          onEvent: (ev) => {
            if (ev.type === 'token_usage') return;
            if (ev.type === 'message') text += ev.content.text;
            observer.event(index, backend, ev);
          },
        }
      : {};
    let report: RunReport;
    try {
      report = await this.executor.run(plan, cmd.command, slot, gate.itemCtx, hooks);
      if (observer) report = { ...report, output: text };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const code: SchemaItemErrorCode = ITEM_CODES.has(err.code) ? (err.code as SchemaItemErrorCode) : 'internal_error';
      return failedItem(backend, code, err.message, plan.model);
    }
    return this.itemOf(plan, report, gate);
  }

  /**
   * The request-level outcome: 429/503/504 when the first execution was not admitted, 504/503 with
   * the aggregate when the deadline passed or the server shut down; a disconnected client's
   * aggregate is logged (nobody can receive it).
   */
  conclude<T extends AggregateResult>(kind: AggregateKind, gate: AggregateGate, ctx: ExecContext, data: T): T {
    const rej = gate.rejection;
    if (rej?.code === 'queue_full') throw rej;
    if (gate.timedOut || rej?.code === 'backend_timeout') {
      const secs = ctx.timeoutSecs ?? this.config.server.request_timeout_secs;
      throw new ApiError('backend_timeout', `timed out after ${secs} s`, { data });
    }
    if (gate.shutDown || rej?.code === 'shutting_down') {
      throw new ApiError('shutting_down', 'server shutting down', { data });
    }
    if (rej) throw rej;
    if (gate.stopReason === 'disconnect' || ctx.signal.aborted) {
      this.logger.info(`${kind} interrupted: client disconnected`, { request_id: ctx.requestId, [kind]: data });
    }
    return data;
  }

  private itemOf(plan: RunPlan, report: RunReport, gate: AggregateGate): SchemaTaskResult {
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
      gate.timedOut = true;
      gate.stop('timeout');
    }
    if (report.status === 'shutdown') {
      gate.shutDown = true;
      gate.stop('shutdown');
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
}

/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight, starting them in order (each
 * call begins synchronously when its predecessor was started), results in the items' order.
 */
export async function inOrder<T, R>(
  items: T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i], i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, () => worker()));
  return results;
}
