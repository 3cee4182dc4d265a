/** Building ExecutionResult objects and mapping run reports to errors. */
import { subtractCumulative } from '../backends/usage';
import type { BackendName, TokenUsage } from '../backends/types';
import { ApiError, ErrorCode } from '../errors';
import type { RunReport } from './executor';
import type { RunPlan } from './plan';
import type { SchemaItemErrorCode } from '../../generated/types';
import type { RunLabel } from '../observability/execution-observer';
import type { ExecutionResult, RunStatus } from './types';

/** The `error_code` of an aggregate item / the HTTP code of a single run, per run status. */
export const STATUS_CODE: Record<Exclude<RunStatus, 'success'>, SchemaItemErrorCode> = {
  error: 'backend_failed',
  timeout: 'backend_timeout',
  canceled: 'canceled',
  shutdown: 'shutting_down',
  output_too_large: 'output_too_large',
  line_too_long: 'backend_failed',
  internal: 'internal_error',
  unavailable: 'backend_unavailable',
};

export function resultOf(
  plan: RunPlan,
  report: RunReport,
  opts: { sessionId?: string; usage?: TokenUsage } = {},
): ExecutionResult {
  const usage = opts.usage ?? report.usage;
  return Object.assign(orderedResult(opts.sessionId, plan.backend, plan.model), {
    exit_code: report.exitCode,
    duration_ms: report.durationMs,
    output: report.output,
    ...(report.error !== undefined ? { error: report.error } : {}),
    ...(usage ? { token_usage: usage } : {}),
  });
}

function orderedResult(
  sessionId: string | undefined,
  backend: BackendName,
  model: string | undefined,
): ExecutionResult {
  const r = {} as ExecutionResult;
  if (sessionId) r.session_id = sessionId;
  r.backend = backend;
  if (model !== undefined) r.model = model;
  return r;
}

/** The dry-run result. */
export function dryRunResult(plan: RunPlan, command: string, sessionId?: string): ExecutionResult {
  return Object.assign(orderedResult(sessionId, plan.backend, plan.model), {
    exit_code: 0,
    duration_ms: 0,
    output: `Would execute: ${command} [${plan.args.join(' ')}]`,
    command: [command, ...plan.args],
    working_dir: plan.cwd,
  });
}

/** The error a failed single run answers with (502/503/504), `data` = the result. */
/** How metrics label a run's status. */
export const RUN_LABEL: Record<RunStatus, RunLabel> = {
  success: 'success',
  error: 'error',
  output_too_large: 'error',
  line_too_long: 'error',
  internal: 'error',
  unavailable: 'error',
  timeout: 'timeout',
  canceled: 'canceled',
  shutdown: 'canceled',
};

export function runError(report: RunReport, result: ExecutionResult): ApiError {
  const code = STATUS_CODE[report.status as Exclude<RunStatus, 'success'>];
  const message =
    report.status === 'error'
      ? `${result.backend} failed: ${report.error ?? ''}`
      : (report.error ?? 'execution failed');
  return new ApiError(code === 'canceled' ? 'internal_error' : (code as ErrorCode), message, { data: result });
}

/**
 * Per-turn usage and the new cumulative value for backends that report thread totals (codex).
 * `previous` is the session's stored cumulative usage when the thread was resumed.
 */
export function turnUsage(
  plan: RunPlan,
  reported: TokenUsage | undefined,
  resumed: boolean,
  previous: TokenUsage | undefined,
): { usage?: TokenUsage; cumulative?: TokenUsage } {
  if (!reported || !plan.adapter.cumulativeUsage) return { usage: reported };
  const usage = resumed && previous ? subtractCumulative(reported, previous) : reported;
  return { usage, cumulative: reported };
}
