/**
 * What the execution layer reports about runs, for metrics. Declared here, below the execution
 * layer, so that observability takes plain values and never imports the layers it observes.
 */
import type { SchemaBackendName, SchemaTokenUsage } from '../../generated/types';

/** How a run ended, as metrics label it (the executor maps its own run status onto these). */
export type RunLabel = 'success' | 'error' | 'timeout' | 'canceled';

export interface ExecutionObserver {
  runStarted(backend: SchemaBackendName): void;
  runFinished(backend: SchemaBackendName, label: RunLabel, durationMs: number, usage?: SchemaTokenUsage): void;
  rejected(reason: 'queue_full' | 'queue_timeout'): void;
}

export const NO_OBSERVER: ExecutionObserver = {
  runStarted: () => undefined,
  runFinished: () => undefined,
  rejected: () => undefined,
};
