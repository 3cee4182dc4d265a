/** GET /api/v1/executions and POST /api/v1/executions/{id}/cancel: running and queued CLI executions of every kind. */
import { ApiError } from '../../errors';
import type { ExecutionEntry, ExecutionLimiter } from '../../execution/limiter';
import type { JobService } from '../../jobs/service';
import { principalOf } from '../../http/request-context';
import { sendData } from '../../http/respond';
import type { HandlerFn } from '../../http/handler';

/** Reason given to a synchronous execution canceled through the API (its run ends as `canceled`). */
export const CANCELED_BY_API = 'canceled: execution canceled through the API';

function toInfo(e: ExecutionEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { id: e.id, kind: e.kind, key: e.key, state: e.state };
  if (e.backend) out.backend = e.backend;
  if (e.startedAt !== undefined) out.started_at = new Date(e.startedAt).toISOString();
  else if (e.queuedAt !== undefined) out.queued_at = new Date(e.queuedAt).toISOString();
  out.request_id = e.requestId;
  if (e.jobId) out.job_id = e.jobId;
  if (e.sessionId) out.session_id = e.sessionId;
  return out;
}

export function listExecutions(limiter: ExecutionLimiter): HandlerFn {
  return async (_c, _req, res) => {
    const who = principalOf(res);
    const entries = limiter.entries().filter((e) => who.role === 'admin' || e.key === who.name);
    sendData(res, { executions: entries.map(toInfo) });
  };
}

export function cancelExecution(limiter: ExecutionLimiter, jobs: JobService): HandlerFn {
  return async (c, _req, res) => {
    const id = String(c.request.params.id);
    const who = principalOf(res);
    const entry = limiter.entries().find((e) => e.id === id && (who.role === 'admin' || e.key === who.name));
    if (!entry) throw new ApiError('not_found', `execution ${id} not found`);
    if (entry.jobId) await jobs.cancel(entry.jobId, who);
    else entry.cancel?.(CANCELED_BY_API);
    sendData(res, { id, canceled: true });
  };
}
