/** Route matching before the body is read: 404 and 405 in the path's style. */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError, validationError } from '../../errors';
import { ctxOf } from '../request-context';
import type { OperationTable, RouteMatch } from '../routing';

/** The route of a request that reached the operation handlers (set by routeMatcher). */
export function routeOf(res: Response): Extract<RouteMatch, { kind: 'operation' }> {
  return res.locals.route as Extract<RouteMatch, { kind: 'operation' }>;
}

export function routeMatcher(table: OperationTable): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const match = table.match(req.method, req.path);
    if (match.kind === 'operation') {
      ctxOf(res).route = match.op.path;
      res.locals.route = match;
      res.locals.operationId = match.op.operationId;
      // POST operations without a request body (cancel) accept an empty body
      res.locals.bodyless = !match.op.takesBody;
      // path parameters whose raw segment is not valid percent-encoding: 400 on `path.<name>`
      if (match.malformed.length > 0) return next(validationError(match.malformed));
      return next();
    }
    if (match.kind === 'not_found') return next(new ApiError('not_found', `no route for ${req.method} ${req.path}`));
    ctxOf(res).route = match.route;
    next(
      new ApiError('method_not_allowed', `method ${req.method} not allowed for ${req.path}`, {
        headers: { Allow: match.allowed.join(', ') },
      }),
    );
  };
}
