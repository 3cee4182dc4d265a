/**
 * Body guard (SPEC §7.3, §2.6 steps 6–8): size limit (declared and streamed), content type,
 * strict JSON parsing. Uses body-parser's raw reader for the byte limit.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ApiError } from '../../errors';

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json$/i;

/** `application/json`, `+json` types; charset absent or utf-8. */
export function isJsonContentType(value: string): boolean {
  const [type, ...params] = value.split(';').map((s) => s.trim());
  if (!JSON_TYPE.test(type ?? '')) return false;
  return params.every((p) => {
    const [k, v] = p.split('=').map((s) => s.trim().toLowerCase());
    return k !== 'charset' || v === 'utf-8' || v === 'utf8' || v === '"utf-8"';
  });
}

export function bodyGuard(maxBytes: number): RequestHandler {
  const limit = maxBytes > 0 ? maxBytes : Infinity;
  const raw = express.raw({ type: () => true, limit: maxBytes > 0 ? maxBytes : '1000gb', inflate: false });
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST') return next();
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) return next(tooLarge(maxBytes));
    const type = req.headers['content-type'];
    if (type !== undefined && !isJsonContentType(type)) {
      return next(new ApiError('unsupported_media_type', `unsupported content type: ${type} (use application/json)`));
    }
    raw(req, res, (err?: unknown) => {
      if (err) {
        const e = err as { type?: string; status?: number };
        if (e.type === 'entity.too.large' || e.status === 413) return next(tooLarge(maxBytes));
        if (e.type === 'encoding.unsupported' || e.status === 415) {
          return next(new ApiError('unsupported_media_type', 'unsupported content encoding'));
        }
        return next(new ApiError('bad_request', 'could not read the request body'));
      }
      const buf = req.body as Buffer | undefined;
      if (!Buffer.isBuffer(buf) || buf.length === 0) {
        return next(new ApiError('validation_error', 'request body is required', { details: [{ path: 'body', message: 'request body is required' }] }));
      }
      try {
        req.body = JSON.parse(buf.toString('utf8')) as unknown;
      } catch {
        return next(new ApiError('invalid_json', 'request body is not valid JSON'));
      }
      next();
    });
  };
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError('payload_too_large', `request body exceeds ${maxBytes} bytes`);
}
