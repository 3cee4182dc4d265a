/**
 * Request context: request id, trace context, API style, common headers, the
 * client-disconnect signal and the access log line. Observes `finish`/`close` only; never wraps
 * the body.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../observability/logger';
import { requestIdFrom, traceFrom } from '../../observability/trace';
import { CANCEL_DISCONNECT } from '../../execution/executor';
import { headerValue, RequestContext } from '../request-context';
import { apiStyleOf } from '../style';

/** Told about every finished request with plain values (metrics, …). */
export interface RequestObserver {
  requestFinished(method: string, route: string, status: number, durationMs: number): void;
}

/**
 * The route template of a known path (for answers given before routing: 401, 403, 429), or
 * undefined for an unknown one.
 */
export type RouteOf = (method: string, path: string) => string | undefined;

export function requestContext(
  logger: Logger,
  requestTimeoutMs: number,
  observers: RequestObserver[] = [],
  routeOf?: RouteOf,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const trace = traceFrom(headerValue(req, 'traceparent'), headerValue(req, 'tracestate'));
    const now = Date.now();
    const ctx: RequestContext = {
      requestId: requestIdFrom(headerValue(req, 'x-request-id')),
      trace,
      style: apiStyleOf(req.path),
      startedAt: now,
      deadline: now + requestTimeoutMs,
      route: 'unmatched',
      abort: new AbortController(),
    };
    res.locals.ctx = ctx;
    res.setHeader('X-Request-Id', ctx.requestId);
    res.setHeader('traceparent', trace.traceparent);
    if (trace.tracestate !== undefined) res.setHeader('tracestate', trace.tracestate);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (ctx.style === 'anthropic') res.setHeader('request-id', ctx.requestId);
    // Bytes sent for this response (requests on one keep-alive socket are sequential).
    const socket = req.socket;
    const bytesBefore = socket.bytesWritten;
    res.on('close', () => {
      if (!res.writableFinished) ctx.abort.abort(CANCEL_DISCONNECT);
      // Guards (rate limit, auth, host/origin checks) answer before routing: name the route anyway
      // when the path is a known one, so logs and metrics say what was refused.
      if (ctx.route === 'unmatched' && routeOf && res.statusCode !== 404) {
        ctx.route = routeOf(req.method, req.path) ?? 'unmatched';
      }
      const duration = Date.now() - ctx.startedAt;
      for (const o of observers) o.requestFinished(req.method, ctx.route, res.statusCode, duration);
      const line: Record<string, unknown> = {
        request_id: ctx.requestId,
        trace_id: trace.traceId,
        span_id: trace.spanId,
        method: req.method,
        route: ctx.route,
        status: res.statusCode,
        duration_ms: duration,
        bytes: socket.bytesWritten - bytesBefore,
        client_ip: req.ip,
        api_style: ctx.style,
      };
      if (ctx.principal) line.key = ctx.principal.name;
      if (ctx.backend) line.backend = ctx.backend;
      if (ctx.sessionId) line.session_id = ctx.sessionId;
      if (ctx.jobId) line.job_id = ctx.jobId;
      if (ctx.exitCode !== undefined) line.exit_code = ctx.exitCode;
      if (!res.writableFinished) line.aborted = true;
      logger.info('request', line);
    });
    next();
  };
}
