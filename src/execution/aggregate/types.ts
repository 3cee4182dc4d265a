/**
 * Types of the aggregate operations beyond the contract's: their request and result shapes are
 * the generated `Schema*` types (generated/types.ts), used directly.
 */
import type {
  SchemaChainResult,
  SchemaCompareResult,
  SchemaParallelResult,
  SchemaTaskResult,
} from '../../../generated/types';
import type { BackendName, UnifiedEvent } from '../../backends/types';
import type { ExecutionOptions } from '../types';

export type AggregateKind = 'parallel' | 'chain' | 'compare';
export type AggregateResult = SchemaParallelResult | SchemaChainResult | SchemaCompareResult;

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
  finished(item: number, result: SchemaTaskResult): void;
}
