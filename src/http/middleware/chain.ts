/**
 * Runs a fixed list of middleware as one Express layer. Express's router spends per layer and per
 * request a path match, parameter processing and its own `next` bookkeeping; for middleware
 * mounted on every path none of that does anything. Semantics are Express's: `next()` runs the next
 * one, `next(err)` (and a throw or a rejected promise) leaves the list with the error for Express's
 * error handlers, the end of the list continues with Express's next layer.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export function chain(handlers: readonly RequestHandler[]): RequestHandler {
  const list = [...handlers];
  return (req: Request, res: Response, done: NextFunction) => {
    let i = 0;
    const next = (err?: unknown): void => {
      if (err !== undefined && err !== null && err !== false) return done(err);
      const h = list[i++];
      if (h === undefined) return done();
      try {
        const ret = h(req, res, next) as unknown;
        if (ret instanceof Promise) ret.then(undefined, (e: unknown) => next(e ?? new Error('Rejected promise')));
      } catch (e) {
        next(e);
      }
    };
    next();
  };
}
