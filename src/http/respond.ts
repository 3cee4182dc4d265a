/** Writing responses: JSON bodies and errors in the path's API style. */
import type { Response } from 'express';
import { ApiError } from '../errors';
import { ctxOf } from './request-context';
import { errorResponse } from './error-body';

export function sendJson(res: Response, status: number, body: unknown, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
}

/** The native success envelope. */
export function sendData(res: Response, data: unknown, headers: Record<string, string> = {}): void {
  sendJson(res, 200, { success: true, data }, headers);
}

export function sendError(res: Response, err: ApiError): void {
  const { status, headers, body } = errorResponse(ctxOf(res).style, err);
  if (status === 413) res.setHeader('Connection', 'close');
  sendJson(res, status, body, headers);
}
