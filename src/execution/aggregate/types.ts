/** Request and result shapes of the aggregate operations: they come from the contract (generated/types.ts). */
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
} from '../../../generated/types';
import type { BackendName, UnifiedEvent } from '../../backends/types';
import type { ExecutionOptions } from '../types';

export type ParallelTask = SchemaParallelTask;
export type ParallelRequest = SchemaParallelRequest;
export type ChainStep = SchemaChainStep;
export type ChainRequest = SchemaChainRequest;
export type CompareRequest = SchemaCompareRequest;
/** Item `error_code` values (contract `ItemErrorCode`). */
export type ItemErrorCode = SchemaItemErrorCode;
/** An ExecutionResult without `session_id` (parallel and compare items). */
export type TaskResult = SchemaTaskResult;
export type ChainStepResult = SchemaChainStepResult;
export type ParallelResult = SchemaParallelResult;
export type ChainResult = SchemaChainResult;
export type CompareResult = SchemaCompareResult;

export type AggregateKind = 'parallel' | 'chain' | 'compare';
export type AggregateResult = ParallelResult | ChainResult | CompareResult;

/** One validated item, ready to plan. */
export interface AggregateItem {
  opts: ExecutionOptions;
  /** Resolved working directory. */
  cwd: string;
  /** Detail path of the item in the request (`body.tasks[2]`). */
  prefix: string;
}

/** The resolved executable per backend, or why it is unavailable. */
export type Commands = Map<BackendName, { command: string } | { unavailable: string }>;

/**
 * Optional observer of an aggregate's items (jobs record every item's events). With an observer,
 * items run in stream mode and each parsed event is reported with the item's index.
 */
export interface ItemObserver {
  /** An item's CLI was spawned. */
  started(item: number): void;
  event(item: number, backend: BackendName, event: UnifiedEvent): void;
  /** An item ended (ran, failed before its run, or was never started). */
  finished(item: number, result: TaskResult): void;
}
