/** Per-request context kept on `res.locals.ctx`. */
import type { Request, Response } from 'express';
import type { Principal } from '../auth/principal';
import type { TraceContext } from '../observability/trace';
import type { ApiStyle } from './style';

export interface RequestContext {
  requestId: string;
  trace: TraceContext;
  style: ApiStyle;
  startedAt: number;
  /** Epoch ms: arrival + `server.request_timeout_secs`. */
  deadline: number;
  /** OpenAPI path template once routed (`/api/v1/sessions/{id}`), literal meta path, or `unmatched`. */
  route: string;
  /** Aborted when the client goes away before the response finished. */
  abort: AbortController;
  /** Filled by handlers for the access log. */
  backend?: string;
  sessionId?: string;
  exitCode?: number;
  jobId?: string;
  /** Rate-limit key of an accepted API key (`key:<sha256>`). */
  apiKeyId?: string;
  /**
   * Who the request acts as: the principal of its API key (`anonymous` admin when auth is off).
   * The single source of a request's key name (owner of what it creates, usage, access log).
   * Undefined only on auth-exempt paths requested without a valid key.
   */
  principal?: Principal;
}

/** The principal of an authenticated request (the auth middleware guarantees it on non-exempt paths). */
export function principalOf(res: Response): Principal {
  const p = ctxOf(res).principal;
  if (!p) throw new Error('request has no principal (auth middleware not run?)');
  return p;
}

export function ctxOf(res: Response): RequestContext {
  return res.locals.ctx as RequestContext;
}

export function headerValue(req: Request, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
