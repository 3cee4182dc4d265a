/** Route matching before the body is read: 404 and 405 in the path's style. */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type OpenAPIBackend from 'openapi-backend';
import { ApiError, validationError, type ValidationDetail } from '../../errors';
import { ctxOf } from '../request-context';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export function routeMatcher(api: OpenAPIBackend): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const match = (m: string) => api.router.matchOperation({ method: m, path: req.path, headers: {} });
    const op = match(method);
    if (op) {
      ctxOf(res).route = op.path;
      res.locals.operationId = op.operationId;
      // POST operations without a request body (cancel) accept an empty body
      res.locals.bodyless = op.requestBody === undefined;
      const bad = malformedParams(op.path, req.path);
      if (bad.length > 0) return next(validationError(bad));
      return next();
    }
    const allowed = METHODS.filter((m) => match(m));
    if (allowed.length === 0) return next(new ApiError('not_found', `no route for ${req.method} ${req.path}`));
    if (allowed.includes('GET')) allowed.splice(allowed.indexOf('GET') + 1, 0, 'HEAD');
    ctxOf(res).route = match(allowed[0]!)!.path;
    next(
      new ApiError('method_not_allowed', `method ${req.method} not allowed for ${req.path}`, {
        headers: { Allow: allowed.join(', ') },
      }),
    );
  };
}

/**
 * Path parameters whose raw segment is not valid percent-encoding (`%ff` is not UTF-8, `%`, `%zz`):
 * a 400 on `path.<name>` in the path's style, instead of an exception while decoding.
 */
export function malformedParams(template: string, rawPath: string): ValidationDetail[] {
  const names = template.split('/');
  const values = rawPath.split('/');
  const out: ValidationDetail[] = [];
  names.forEach((segment, i) => {
    const m = /^\{(.+)\}$/.exec(segment);
    if (!m || values[i] === undefined) return;
    try {
      decodeURIComponent(values[i]!);
    } catch {
      out.push({ path: `path.${m[1]}`, message: 'must be valid percent-encoded UTF-8' });
    }
  });
  return out;
}
