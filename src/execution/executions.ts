/**
 * The executions list (running and queued CLI executions of every kind) and cancelling one of
 * them. One process answers from its limiter; a cluster API node adds what the other API nodes
 * report (src/cluster/executions.ts).
 */
import type { SchemaExecutionInfo } from '../../generated/types';
import type { Principal } from '../auth/principal';
import type { JobService } from '../jobs/service';
import type { ExecutionEntry, ExecutionLimiter } from './limiter';

export type ExecutionInfo = SchemaExecutionInfo;

/** Reason given to a synchronous execution canceled through the API (its run ends as `canceled`). */
export const CANCELED_BY_API = 'canceled: execution canceled through the API';

export interface ExecutionsView {
  /** Every execution (a caller filters by key). */
  list(): Promise<ExecutionInfo[]>;
  /** Cancels the execution `info` describes (a job's through the job). */
  cancel(info: ExecutionInfo, who: Principal): Promise<void>;
}

export function toInfo(e: ExecutionEntry): ExecutionInfo {
  const out = { id: e.id, kind: e.kind, key: e.key, state: e.state } as ExecutionInfo;
  if (e.backend) out.backend = e.backend as ExecutionInfo['backend'];
  if (e.startedAt !== undefined) out.started_at = new Date(e.startedAt).toISOString();
  else if (e.queuedAt !== undefined) out.queued_at = new Date(e.queuedAt).toISOString();
  out.request_id = e.requestId;
  if (e.jobId) out.job_id = e.jobId;
  if (e.sessionId) out.session_id = e.sessionId;
  return out;
}

/** This process's executions. */
export class LocalExecutions implements ExecutionsView {
  constructor(
    private readonly limiter: ExecutionLimiter,
    private readonly jobs: JobService,
  ) {}

  async list(): Promise<ExecutionInfo[]> {
    return this.limiter.entries().map(toInfo);
  }

  /** Whether the execution runs here (its cancel is then local). */
  has(id: string): boolean {
    return this.limiter.entries().some((e) => e.id === id);
  }

  async cancel(info: ExecutionInfo, who: Principal): Promise<void> {
    if (info.job_id) await this.jobs.cancel(info.job_id, who);
    else this.cancelRun(info.id);
  }

  /** Stops a synchronous execution of this process as a client disconnect would. */
  cancelRun(id: string): void {
    this.limiter
      .entries()
      .find((e) => e.id === id)
      ?.cancel?.(CANCELED_BY_API);
  }
}
