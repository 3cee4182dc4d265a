/**
 * What the HTTP layer calls for an operation: the validated request and the Express objects. The
 * handlers (`src/handlers/`) implement it; the app only knows this shape, never the handlers.
 */
import type { Request, Response } from 'express';
import type { Context } from 'openapi-backend';

export type HandlerFn = (c: Context, req: Request, res: Response) => Promise<void> | void;
