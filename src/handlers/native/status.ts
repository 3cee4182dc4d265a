/** GET /api/v1/backends (listBackends) and GET /health (healthCheck). */
import type { StatusService } from '../../execution/status';
import { sendData, sendJson } from '../../http/respond';
import type { HandlerFn } from '../types';

export function listBackends(status: StatusService): HandlerFn {
  return async (_c, _req, res) => sendData(res, { backends: await status.backends() });
}

export function healthCheck(status: StatusService): HandlerFn {
  return async (_c, _req, res) => {
    const report = await status.health();
    sendJson(res, report.status === 'unhealthy' ? 503 : 200, report);
  };
}
