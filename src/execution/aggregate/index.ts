/**
 * Aggregate executions: POST /api/v1/parallel, /chain and /compare.
 *
 * Every item is validated before anything runs (all problems reported together, 400 before 403);
 * every run is ephemeral and takes a slot from the server-wide limiter: the first execution of a
 * request is subject to the queue-size check (429 `queue_full`), later ones wait as admitted.
 * Per-item failures are items of the result; the request deadline (504), shutdown (503) and a
 * client disconnect stop the whole aggregate (queued items dropped, running children killed).
 *
 * Each operation is split into `prepare*` (validation, nothing runs) and `run*`.
 */
import type {
  SchemaChainRequest,
  SchemaChainResult,
  SchemaCompareRequest,
  SchemaCompareResult,
  SchemaParallelRequest,
  SchemaParallelResult,
} from '../../../generated/types';
import type { PolicyHolder } from '../../auth/policy';
import type { Config } from '../../config/types';
import type { Logger } from '../../observability/logger';
import type { Executor } from '../executor';
import type { Planner } from '../plan';
import type { ExecContext } from '../types';
import { type PreparedChain, prepareChain, runChain } from './chain';
import { type PreparedCompare, prepareCompare, runCompare } from './compare';
import { ItemRunner } from './item-runner';
import { type PreparedParallel, prepareParallel, runParallel } from './parallel';
import type { AggregateKind, AggregateResult, ItemObserver } from './types';

export * from './types';

/** A validated aggregate request of any kind, ready to run. */
export type Prepared = PreparedParallel | PreparedChain | PreparedCompare;
export { NOT_STARTED_ERROR } from './gate';

export class AggregateService {
  readonly runner: ItemRunner;

  constructor(config: Config, planner: Planner, executor: Executor, logger: Logger) {
    this.runner = new ItemRunner(config, planner, executor, logger);
  }

  async parallel(body: SchemaParallelRequest, ctx: ExecContext): Promise<SchemaParallelResult> {
    return runParallel(this.runner, await prepareParallel(this.runner, body, ctx.principal), ctx);
  }

  async chain(body: SchemaChainRequest, ctx: ExecContext): Promise<SchemaChainResult> {
    return runChain(this.runner, await prepareChain(this.runner, body, ctx.principal), ctx);
  }

  async compare(body: SchemaCompareRequest, ctx: ExecContext): Promise<SchemaCompareResult> {
    return runCompare(this.runner, await prepareCompare(this.runner, body, ctx.principal), ctx);
  }

  /**
   * Validation only (jobs check their request at creation, as their creator `who`): throws
   * 400/403, runs nothing.
   */
  prepare(
    kind: AggregateKind,
    body: SchemaParallelRequest | SchemaChainRequest | SchemaCompareRequest,
    who?: PolicyHolder,
  ): Promise<Prepared> {
    if (kind === 'parallel') return prepareParallel(this.runner, body as SchemaParallelRequest, who);
    if (kind === 'chain') return prepareChain(this.runner, body as SchemaChainRequest, who);
    return prepareCompare(this.runner, body as SchemaCompareRequest, who);
  }

  /** Runs a prepared request; an observer receives every item's events. */
  run(p: Prepared, ctx: ExecContext, observer?: ItemObserver): Promise<AggregateResult> {
    if (p.kind === 'parallel') return runParallel(this.runner, p, ctx, observer);
    if (p.kind === 'chain') return runChain(this.runner, p, ctx, observer);
    return runCompare(this.runner, p, ctx, observer);
  }
}
