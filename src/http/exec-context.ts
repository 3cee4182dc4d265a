/** The execution context of a request: ids, trace, client-disconnect signal and deadline. */
import type { Response } from 'express';
import type { ExecContext } from '../execution/types';
import { ctxOf } from './request-context';

export function execContext(res: Response): ExecContext {
  const ctx = ctxOf(res);
  return {
    requestId: ctx.requestId,
    traceparent: ctx.trace.traceparent,
    signal: ctx.abort.signal,
    deadline: ctx.deadline,
    principal: ctx.principal,
  };
}
