/** The execution context of a request: ids, trace, client-disconnect signal, deadline and its entry in the executions list. */
import type { Response } from 'express';
import type { ExecContext } from '../execution/types';
import { ctxOf } from './request-context';

/** Execution kind per routed operation (the executions list shows it). */
const KIND_OF: Record<string, string> = {
  executePrompt: 'prompt',
  executeParallel: 'parallel',
  executeChain: 'chain',
  executeCompare: 'compare',
};

/** The operation a usage record names, per API style of a compatible call. */
const COMPAT_OPERATION = { openai: 'chat.completions', anthropic: 'messages' } as const;

export function execContext(res: Response, kind?: string): ExecContext {
  const ctx = ctxOf(res);
  const operationId = String(res.locals.operationId ?? '');
  return {
    requestId: ctx.requestId,
    traceparent: ctx.trace.traceparent,
    signal: ctx.abort.signal,
    deadline: ctx.deadline,
    principal: ctx.principal,
    apiStyle: ctx.style,
    // a stream is a prompt too
    operation: ctx.style === 'native' ? (KIND_OF[operationId] ?? 'prompt') : COMPAT_OPERATION[ctx.style],
    meta: {
      kind: kind ?? KIND_OF[operationId] ?? (ctx.style === 'native' ? 'prompt' : ctx.style),
      key: ctx.principal?.name ?? 'anonymous',
      requestId: ctx.requestId,
      // cancelling a synchronous execution acts like the client going away
      cancel: (reason) => ctx.abort.abort(reason),
    },
  };
}
