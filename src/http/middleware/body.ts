/**
 * Body guard: size limit (declared and streamed), content type,
 * strict JSON parsing. The body is read with a byte counter (not body-parser, which reads an
 * over-limit body to its end before answering).
 */
import type { Socket } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError, validationError } from '../../errors';

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

/** Strict UTF-8 (RFC 8259): invalid bytes are an error, never U+FFFD; a BOM is kept (and then not JSON). */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * @param takesBody whether the routed operation declares a request body. Its POSTs must carry
 *   `Content-Type: application/json` (or `+json`; a missing type is 415 as well, so that a browser
 *   cannot send a body without a preflight); operations without a body accept none (400).
 */
export function bodyGuard(
  maxBytes: number,
  takesBody: (operationId: string | undefined) => boolean = () => true,
): RequestHandler {
  const limit = maxBytes > 0 ? maxBytes : Infinity;
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      lingeringClose(req.socket);
      return next(tooLarge(maxBytes));
    }
    if (req.method !== 'POST' || !takesBody(res.locals.operationId as string | undefined)) {
      return noBody(req, limit, maxBytes, next);
    }
    const type = req.headers['content-type'];
    if (type === undefined || type.trim() === '') {
      return next(new ApiError('unsupported_media_type', 'missing content type (use application/json)'));
    }
    if (!isJsonContentType(type)) {
      return next(new ApiError('unsupported_media_type', `unsupported content type: ${type} (use application/json)`));
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity') return next(new ApiError('unsupported_media_type', 'unsupported content encoding'));
    readLimited(req, limit).then(
      (buf) => {
        if (buf.length === 0) {
          if (res.locals.bodyless === true) return next();
          return next(
            new ApiError('validation_error', 'request body is required', {
              details: [{ path: 'body', message: 'request body is required' }],
            }),
          );
        }
        let text: string;
        try {
          text = UTF8.decode(buf);
        } catch {
          return next(new ApiError('invalid_json', 'request body is not valid UTF-8'));
        }
        try {
          req.body = JSON.parse(text) as unknown;
        } catch {
          return next(new ApiError('invalid_json', 'request body is not valid JSON'));
        }
        next();
      },
      (err: unknown) => {
        if (err !== TOO_LARGE) return next(new ApiError('bad_request', 'could not read the request body'));
        lingeringClose(req.socket);
        next(tooLarge(maxBytes));
      },
    );
  };
}

/** An operation without a request body: an empty body passes, anything else is refused. */
function noBody(req: Request, limit: number, maxBytes: number, next: NextFunction): void {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (req.headers['transfer-encoding'] === undefined && !(declared > 0)) return next();
  readLimited(req, limit).then(
    (buf) => {
      if (buf.length === 0) return next();
      next(validationError([{ path: 'body', message: 'must be empty (this operation takes no request body)' }]));
    },
    (err: unknown) => {
      if (err !== TOO_LARGE) return next(new ApiError('bad_request', 'could not read the request body'));
      lingeringClose(req.socket);
      next(tooLarge(maxBytes));
    },
  );
}

const TOO_LARGE = Symbol('too large');

/**
 * Reads the body, counting bytes as they arrive; rejects with TOO_LARGE the moment the count passes
 * `limit` (a chunked body is not read to its end first: the 413 goes out at once, the rest of the
 * request is discarded while the connection closes).
 */
function readLimited(req: Request, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (req.readableEnded) return resolve(Buffer.alloc(0));
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        chunks.length = 0;
        // Keep draining (and dropping) what is still in flight until the socket closes.
        req.on('data', () => {});
        req.on('error', () => {});
        reject(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('request closed before the body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** How long a connection closed after a 413 keeps discarding what the client still sends. */
export const LINGER_MS = 3000;

/**
 * After a 413 the connection is closed while the client may still be sending. Closing a socket
 * with unread data makes the kernel send a TCP reset, which can destroy the 413 before the client
 * reads it. So, for this socket, Node's close-after-response (`destroySoon`, called by the HTTP
 * server once a `Connection: close` response is finished) becomes a lingering close: send FIN,
 * keep reading and discarding, destroy when the client closes its side or after LINGER_MS.
 */
function lingeringClose(socket: Socket | null | undefined): void {
  if (!socket) return;
  const s = socket as Socket & { destroySoon?: () => void };
  s.destroySoon = () => {
    if (s.writable) s.end();
    const timer = setTimeout(() => s.destroy(), LINGER_MS);
    timer.unref();
    s.once('end', () => s.destroy());
    s.once('close', () => clearTimeout(timer));
    s.resume();
  };
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError('payload_too_large', `request body exceeds ${maxBytes} bytes`);
}
