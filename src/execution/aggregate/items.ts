/** Builders of aggregate items with the keys in the contract's order (absent values omitted). */
import type { SchemaChainStepResult, SchemaItemErrorCode, SchemaTaskResult } from '../../../generated/types';
import type { BackendName, TokenUsage } from '../../backends/types';
import type { RunPlan } from '../plan';
import { dryRunResult } from '../results';

export interface ItemFields {
  model?: string;
  exit_code: number;
  duration_ms: number;
  output: string;
  error?: string;
  error_code?: SchemaItemErrorCode;
  token_usage?: TokenUsage;
  command?: string[];
  working_dir?: string;
}

export function taskItem(backend: BackendName, f: ItemFields): SchemaTaskResult {
  const r = { backend } as SchemaTaskResult;
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

/** A canceled item: exactly these fields (what `fail_fast` documents). */
export function canceledItem(backend: BackendName, error: string, durationMs = 0): SchemaTaskResult {
  return taskItem(backend, { exit_code: -1, duration_ms: durationMs, output: '', error, error_code: 'canceled' });
}

/** An item that failed without a run (backend unavailable, spawn failure, invalid substitution). */
export function failedItem(
  backend: BackendName,
  code: SchemaItemErrorCode,
  error: string,
  model?: string,
): SchemaTaskResult {
  return taskItem(backend, { model, exit_code: -1, duration_ms: 0, output: '', error, error_code: code });
}

export function chainItem(step: number, name: string | undefined, r: SchemaTaskResult): SchemaChainStepResult {
  const out = { step } as SchemaChainStepResult;
  if (name !== undefined) out.name = name;
  return Object.assign(out, r);
}

/** A dry-run item: the rendered argv, without `session_id`. */
export function dryItem(plan: RunPlan, command: string): SchemaTaskResult {
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
