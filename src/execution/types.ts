/** Types of the execution layer (requests after schema validation, results, stream events). */
import type { ApprovalMode, BackendName, SandboxMode, TokenUsage, UnifiedEvent } from '../backends/types';

/** Execution options of §3.1 as they arrive after schema validation. */
export interface ExecutionOptions {
  backend: BackendName;
  prompt: string;
  model?: string;
  workdir?: string;
  approval_mode?: ApprovalMode;
  sandbox_mode?: SandboxMode;
  output_format?: 'default' | 'text' | 'json' | 'stream-json';
  max_tokens?: number;
  max_turns?: number;
  system_prompt?: string;
  verbose?: boolean;
  dry_run?: boolean;
  ephemeral?: boolean;
  extra?: unknown[];
  metadata?: Record<string, string>;
}

/** The execution result object (SPEC §3.2). Keys are emitted in this order. */
export interface ExecutionResult {
  session_id?: string;
  backend: BackendName;
  model?: string;
  exit_code: number;
  duration_ms: number;
  output: string;
  error?: string;
  error_code?: string;
  token_usage?: TokenUsage;
  command?: string[];
  working_dir?: string;
}

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
  | 'internal';

/** Native stream event with its envelope (SPEC §4.2). */
export interface NativeEvent {
  type: UnifiedEvent['type'] | 'done' | 'error';
  backend: BackendName;
  session_id?: string;
  timestamp: string;
  sequence: number;
  content: Record<string, unknown>;
}
