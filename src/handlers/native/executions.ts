/** GET /api/v1/executions and POST /api/v1/executions/{id}/cancel: running and queued CLI executions of every kind. */
import { ApiError } from '../../errors';
import type { ExecutionsView } from '../../execution/executions';
import { principalOf } from '../../http/request-context';
import { sendData } from '../../http/respond';
import type { HandlerFn } from '../../http/handler';

export function listExecutions(executions: ExecutionsView): HandlerFn {
  return async (_c, _req, res) => {
    const who = principalOf(res);
    const all = await executions.list();
    sendData(res, { executions: all.filter((e) => who.role === 'admin' || e.key === who.name) });
  };
}

export function cancelExecution(executions: ExecutionsView): HandlerFn {
  return async (c, _req, res) => {
    const id = String(c.request.params.id);
    const who = principalOf(res);
    const entry = (await executions.list()).find((e) => e.id === id && (who.role === 'admin' || e.key === who.name));
    if (!entry) throw new ApiError('not_found', `execution ${id} not found`);
    await executions.cancel(entry, who);
    sendData(res, { id, canceled: true });
  };
}
