/**
 * Guards against browsers driving clinvk (see docs/security.md, "Browsers and DNS rebinding"):
 *
 * - `Host` must name the server: with a loopback bind, `localhost`, `127.0.0.1`, `[::1]` (any port)
 *   or an entry of `server.allowed_hosts`; with another bind, `server.allowed_hosts` when set (no
 *   check when empty: API keys are mandatory there). Otherwise 403 `forbidden_host` — a page whose
 *   DNS name was rebound to 127.0.0.1 sends its own name as `Host`.
 * - On POST and DELETE, an `Origin` header that is neither the request's own origin
 *   (`<scheme>://<Host>`) nor an allowed CORS origin → 403 `forbidden_origin`: a cross-site page can
 *   send "simple" requests without any preflight.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError } from '../../errors';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const HOST_MEMO_SIZE = 256;

/** `host[:port]` → lower-cased host (IPv6 kept in brackets); undefined when malformed. */
export function hostName(hostHeader: string): string | undefined {
  const h = hostHeader.trim().toLowerCase();
  if (h === '') return undefined;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return h.slice(0, end + 1);
  }
  const m = /^([^:\s/@]+)(?::(\d{1,5}))?$/.exec(h);
  return m ? m[1] : undefined;
}

/**
 * Matches a `Host` header against `server.allowed_hosts` entries: `name` (any port), `name:port`,
 * `*.example.com` (one or more labels), `[::1]`. Case-insensitive.
 */
export function hostMatcher(entries: readonly string[]): (hostHeader: string) => boolean {
  const list = entries.map((e) => e.trim().toLowerCase()).filter(Boolean);
  return (hostHeader) => {
    const header = hostHeader.trim().toLowerCase();
    const name = hostName(header);
    if (name === undefined) return false;
    return list.some((e) => {
      if (e === header || e === name) return true;
      if (e.startsWith('*.')) return name.endsWith(e.slice(1)) && name.length > e.length - 1;
      return false;
    });
  };
}

export interface BrowserGuardOptions {
  loopbackBind: boolean;
  allowedHosts: readonly string[];
  /** The CORS origin matcher (an allowed CORS origin may POST). */
  corsOriginAllowed: (origin: string) => boolean;
}

/** 403 `forbidden_host` unless the `Host` header names this server. */
export function hostGuard(o: BrowserGuardOptions): RequestHandler | undefined {
  const configured = hostMatcher(o.allowedHosts);
  if (!o.loopbackBind && o.allowedHosts.length === 0) return undefined;
  const loopback = hostMatcher(o.loopbackBind ? LOOPBACK_NAMES : []);
  // A server is reached under a handful of names: the answers per Host value are kept.
  const known = new Map<string, boolean>();
  const allowed = (host: string): boolean => {
    let ok = known.get(host);
    if (ok === undefined) {
      ok = loopback(host) || configured(host);
      if (known.size >= HOST_MEMO_SIZE) known.clear();
      known.set(host, ok);
    }
    return ok;
  };
  return (req: Request, _res: Response, next: NextFunction) => {
    const host = req.headers.host;
    if (host !== undefined && allowed(host)) return next();
    next(new ApiError('forbidden_host', `host not allowed: ${printable(host ?? '')}`));
  };
}

/** 403 `forbidden_origin` for a foreign `Origin` on POST and DELETE. */
export function originGuard(o: BrowserGuardOptions): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (req.method !== 'POST' && req.method !== 'DELETE') return next();
    const origin = req.headers.origin;
    if (origin === undefined) return next();
    const own = req.headers.host !== undefined ? `${req.protocol}://${req.headers.host}` : undefined;
    if (own !== undefined && origin.toLowerCase() === own.toLowerCase()) return next();
    if (origin !== 'null' && o.corsOriginAllowed(origin)) return next();
    next(new ApiError('forbidden_origin', `cross-origin request refused: ${printable(origin)}`));
  };
}

/** At most 200 visible ASCII characters of a header value, for messages. */
function printable(v: string): string {
  const s = v.replace(/[^\x20-\x7e]/g, '?');
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
