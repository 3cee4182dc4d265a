/** The usage record of one finished run (docs/usage.md). */
import type { TokenUsage } from '../backends/types';
import type { UsageRecord, UsageStatus } from '../usage/types';
import type { RunReport } from './executor';
import type { RunPlan } from './plan';
import type { ExecContext, RunStatus } from './types';

/** What the caller of a run knows better than the executor. */
export interface UsageFacts {
  /** The run's own usage (a resumed codex thread reports its cumulative total). */
  usage?: TokenUsage;
  /** The session the run belongs to (created right before the spawn). */
  sessionId?: string;
}

const STATUS: Record<RunStatus, UsageStatus> = {
  success: 'succeeded',
  error: 'failed',
  output_too_large: 'failed',
  line_too_long: 'failed',
  internal: 'failed',
  unavailable: 'failed',
  timeout: 'timeout',
  canceled: 'canceled',
  shutdown: 'canceled',
};

/** `ceil(utf8 bytes / 4)`: the estimate used when a CLI reports no usage. */
function estimate(bytes: number): number {
  return Math.ceil(bytes / 4);
}

/**
 * `startedAt` is the spawn time (the record's day); `streamedBytes` the assistant text of a stream
 * run (JSON runs have their whole output in the report).
 */
export function usageRecord(
  plan: RunPlan,
  report: RunReport,
  ctx: ExecContext,
  startedAt: number,
  facts: UsageFacts | undefined,
  streamedBytes: number,
): UsageRecord {
  const usage = facts && 'usage' in facts ? facts.usage : report.usage;
  const outputBytes = plan.mode === 'stream' ? streamedBytes : Buffer.byteLength(report.output);
  const sessionId = facts?.sessionId ?? ctx.meta?.sessionId;
  const model = plan.model ?? plan.requestedModel;
  const rec: UsageRecord = {
    time: new Date(startedAt).toISOString(),
    key: ctx.principal?.name ?? ctx.meta?.key ?? 'anonymous',
    api_style: ctx.apiStyle ?? 'native',
    operation: ctx.operation ?? ctx.meta?.kind ?? 'prompt',
    backend: plan.backend,
    ...(model !== undefined ? { model } : {}),
    working_dir: plan.cwd,
    approval_mode: plan.approvalMode,
    sandbox_mode: plan.sandboxMode,
    status: STATUS[report.status],
    duration_ms: report.durationMs,
    input_tokens: usage ? usage.input_tokens : estimate(plan.promptBytes),
    output_tokens: usage ? usage.output_tokens : estimate(outputBytes),
    cached_tokens: usage?.cached_tokens ?? 0,
    estimated: !usage,
    ...(sessionId ? { session_id: sessionId } : {}),
    ...(ctx.meta?.jobId ? { job_id: ctx.meta.jobId } : {}),
    request_id: ctx.requestId,
  };
  return rec;
}
