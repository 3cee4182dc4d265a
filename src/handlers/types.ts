/** What every thin handler receives: the validated request and the Express objects. */
import type { Request, Response } from 'express';
import type { Context } from 'openapi-backend';

export type HandlerFn = (c: Context, req: Request, res: Response) => Promise<void> | void;
