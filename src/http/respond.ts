/** Writing responses: JSON bodies and errors in the path's API style. */
import type { Response } from 'express';
import { ApiError } from '../errors';
import { ctxOf } from './request-context';
import { errorResponse } from './error-body';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * A JSON body: what Express's `res.send` does for a string (type, length, no body for HEAD), written
 * directly. A conditional request (`If-None-Match`, `If-Modified-Since`) goes through `res.send`,
 * whose freshness check may answer 304.
 */
export function sendJson(res: Response, status: number, body: unknown, headers: Record<string, string> = {}): void {
  for (const k in headers) res.setHeader(k, headers[k]!);
  const text = JSON.stringify(body);
  const req = res.req;
  if (req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined) {
    res.status(status).type(JSON_TYPE).send(text);
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', JSON_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  if (req.method === 'HEAD') res.end();
  else res.end(text);
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
