/** GET /api/v1/backends (listBackends) and GET /health (healthCheck). */
import { allowsBackend, isAdmin, visibleOwner } from '../../auth/principal';
import type { BackendName } from '../../backends/types';
import type { StatusService } from '../../execution/status';
import { ctxOf } from '../../http/request-context';
import { sendData, sendJson } from '../../http/respond';
import type { HandlerFn } from '../../http/handler';

/** Executable paths are for admin keys only (every caller is an admin while auth is off). */
export function listBackends(status: StatusService): HandlerFn {
  return async (_c, _req, res) => {
    // only the backends the caller's key may use
    const who = ctxOf(res).principal;
    const backends = (await status.backends()).filter((b) => allowsBackend(who, b.name as BackendName));
    const admin = isAdmin(who);
    sendData(res, { backends: admin ? backends : backends.map(({ command: _command, ...rest }) => rest) });
  };
}

/**
 * `/health` never needs a key; with auth on, a caller without a valid key gets only the status (no
 * backends, session count or execution figures). The auth middleware sets the principal on this
 * exempt path when a valid key is given, and always when auth is off.
 */
export function healthCheck(status: StatusService): HandlerFn {
  return async (_c, _req, res) => {
    // a user key's session count counts only its own sessions
    const report = await status.health(visibleOwner(ctxOf(res).principal));
    const code = report.status === 'unhealthy' ? 503 : 200;
    sendJson(res, code, ctxOf(res).principal ? report : { status: report.status });
  };
}
