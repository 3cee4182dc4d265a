/**
 * GET /api/v1/sessions, GET and DELETE /api/v1/sessions/{id}. A `user` key sees and deletes only its
 * own sessions (another key's answer 404 like absent ones); an admin sees all and may filter by owner.
 */
import type { SessionStatus, SessionStore } from '../../sessions/types';
import { toSessionInfo } from '../../sessions';
import type { BackendName } from '../../backends/types';
import { listOwner, visibleOwner } from '../../auth/principal';
import { principalOf } from '../../http/request-context';
import { sendData } from '../../http/respond';
import type { HandlerFn } from '../../http/handler';

interface ListQuery {
  backend?: BackendName;
  status?: SessionStatus;
  owner?: string;
  limit?: number;
  offset?: number;
}

export function listSessions(store: SessionStore): HandlerFn {
  return async (c, _req, res) => {
    const q = c.request.query as ListQuery;
    const limit = q.limit ?? 100;
    const offset = q.offset ?? 0;
    const owner = listOwner(principalOf(res), q.owner);
    const page = await store.list({ backend: q.backend, status: q.status, owner, limit, offset });
    sendData(res, { sessions: page.sessions.map(toSessionInfo), total: page.total, limit, offset });
  };
}

export function getSession(store: SessionStore): HandlerFn {
  return async (c, _req, res) => {
    const record = await store.resolve(String(c.request.params.id), visibleOwner(principalOf(res)));
    sendData(res, toSessionInfo(record));
  };
}

export function deleteSession(store: SessionStore, staleClaimMs: number): HandlerFn {
  return async (c, _req, res) => {
    const record = await store.resolve(String(c.request.params.id), visibleOwner(principalOf(res)));
    const id = await store.delete(record.id, staleClaimMs);
    sendData(res, { deleted: true, id });
  };
}
