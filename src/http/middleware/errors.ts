/** Final error handler: every error in the path's style; 500s are generic (details only in logs). */
import type { NextFunction, Request, Response } from 'express';
import { ApiError, isApiError } from '../../errors';
import type { Logger } from '../../observability/logger';
import { ctxOf } from '../request-context';
import { sendError } from '../respond';

export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const ctx = ctxOf(res);
    let apiErr: ApiError;
    if (ctx?.abort.signal.aborted) {
      // The client went away: nobody reads this response; not an internal error.
      logger.info('request ended after the client disconnected', { request_id: ctx.requestId });
      res.destroy();
      return;
    }
    if (isApiError(err)) {
      apiErr = err;
      if (err.code === 'internal_error')
        logger.error('internal error', { request_id: ctx?.requestId, error: err.message });
    } else {
      logger.error('unhandled error', {
        request_id: ctx?.requestId,
        error: (err as Error)?.message,
        stack: (err as Error)?.stack,
      });
      apiErr = new ApiError('internal_error', 'internal server error');
    }
    const data = apiErr.data as { exit_code?: unknown; session_id?: unknown } | undefined;
    if (ctx && typeof data?.exit_code === 'number') ctx.exitCode = data.exit_code;
    if (ctx && typeof data?.session_id === 'string') ctx.sessionId = data.session_id;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendError(res, apiErr);
  };
}
