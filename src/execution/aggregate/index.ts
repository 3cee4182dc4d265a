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
import type { Config } from '../../config/types';
import type { Logger } from '../../observability/logger';
import type { Executor } from '../executor';
import type { Planner } from '../plan';
import type { ExecContext } from '../types';
import { prepareChain, runChain } from './chain';
import { prepareCompare, runCompare } from './compare';
import { ItemRunner } from './item-runner';
import { prepareParallel, runParallel } from './parallel';
import type {
  ChainRequest,
  ChainResult,
  CompareRequest,
  CompareResult,
  ParallelRequest,
  ParallelResult,
} from './types';

export * from './types';
export { NOT_STARTED_ERROR } from './gate';

export class AggregateService {
  readonly runner: ItemRunner;

  constructor(config: Config, planner: Planner, executor: Executor, logger: Logger) {
    this.runner = new ItemRunner(config, planner, executor, logger);
  }

  async parallel(body: ParallelRequest, ctx: ExecContext): Promise<ParallelResult> {
    return runParallel(this.runner, await prepareParallel(this.runner, body), ctx);
  }

  async chain(body: ChainRequest, ctx: ExecContext): Promise<ChainResult> {
    return runChain(this.runner, await prepareChain(this.runner, body), ctx);
  }

  async compare(body: CompareRequest, ctx: ExecContext): Promise<CompareResult> {
    return runCompare(this.runner, await prepareCompare(this.runner, body), ctx);
  }
}
