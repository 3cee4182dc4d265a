/** Types of the execution layer (requests after schema validation, results, stream events). */
import type { Principal } from '../auth/principal';
import type { SchemaExecutionResult, SchemaNativeStreamEvent, SchemaPromptRequest } from '../../generated/types';
import type { BackendName } from '../backends/types';
import type { ExecutionMeta, Lane } from './limiter';

/**
 * Execution options as they arrive after schema validation (the contract's PromptRequest
 * without the session fields, with a known backend). `extra` stays `unknown[]` until the allow-list
 * check has run.
 */
export type ExecutionOptions = Omit<SchemaPromptRequest, 'backend' | 'session_id' | 'extra'> & {
  backend: BackendName;
  extra?: unknown[];
};

/** The execution result object, as generated from the contract. */
export type ExecutionResult = SchemaExecutionResult;

/** Per-request execution context handed down from the HTTP layer. */
export interface ExecContext {
  requestId: string;
  traceparent: string;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** Epoch ms of the request deadline (arrival + request_timeout_secs). */
  deadline: number;
  /** Set for the 2nd+ execution of an admitted aggregate request. */
  admitted?: boolean;
  /**
   * Who runs it (the request's API key): owner of what the run creates, subject of the key's
   * limits and policies, and the `key` of its usage record. Undefined only for internal callers.
   */
  principal?: Principal;
  /** Seconds between the start and `deadline` (for messages; default `server.request_timeout_secs`). */
  timeoutSecs?: number;
  /** `job`: executions of a job wait in the job lane (after every synchronous waiter). */
  lane?: Lane;
  /** What the executions list shows about this request's executions, and how to cancel them. */
  meta?: ExecutionMeta;
  /** Called when an execution of this context got its slot. */
  onGranted?: () => void;
  /** API style of the request (usage records; default `native`). */
  apiStyle?: 'native' | 'openai' | 'anthropic';
  /** What the usage record calls the operation (`prompt`, `parallel`, …, `chat.completions`, `messages`). */
  operation?: string;
}

/** How a run ended, from clinvk's point of view. */
export type RunStatus =
  | 'success'
  | 'error'
  | 'timeout'
  | 'canceled'
  | 'shutdown'
  | 'output_too_large'
  | 'line_too_long'
  | 'internal'
  /** Cluster mode: the worker running it was lost (never run again). */
  | 'unavailable';

/**
 * Native stream event with its envelope: the contract's NativeStreamEvent envelope fields, with the
 * content left open (each event type's content is checked where it is made).
 */
export type NativeEvent = Omit<SchemaNativeStreamEvent, 'content' | 'item'> & { content: Record<string, unknown> };
