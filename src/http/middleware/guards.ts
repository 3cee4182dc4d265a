/**
 * CORS, rate limiting and API-key auth, in this order.
 * Built from the design card's libraries: cors and express-rate-limit.
 */
import cors from 'cors';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Config } from '../../config/types';
import { ApiError } from '../../errors';
import type { Logger } from '../../observability/logger';
import { ANONYMOUS } from '../../auth/principal';
import type { AuthResult, KeyRegistry } from '../../auth/registry';
import { extractCredential, startKeyRefresh } from '../../auth/sources';
import type { Services } from '../../services';
import { ctxOf } from '../request-context';
import { TokenBucketStore } from './rate-limit-store';
import { RedisTokenBucketStore } from '../../cluster/rate-limit-store';
import { isLoopbackHost } from '../../security/startup';
import { sendError } from '../respond';
import { hostGuard, originGuard } from './browser-guards';

const DEFAULT_ORIGINS = ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'];
const EXPOSED = [
  'X-Request-Id',
  'traceparent',
  'Retry-After',
  'RateLimit',
  'RateLimit-Policy',
  'X-Clinvk-Session-Id',
  'X-Clinvk-Ignored-Params',
  'request-id',
];

/** `*` in an entry matches one port or host label; a lone `*` allows any origin. */
export function originMatcher(entries: string[]): (origin: string) => boolean {
  const list = entries.length ? entries : DEFAULT_ORIGINS;
  if (list.includes('*')) return () => true;
  const res = list.map(
    (e) =>
      new RegExp(
        `^${e
          .split('*')
          .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^.:/\\[\\]]+')}$`,
        'i',
      ),
  );
  return (origin) => res.some((r) => r.test(origin));
}

/**
 * The bucket size: `rate_limit_burst`, or `2 × rps` when ≤ 0 — rounded up and at least
 * one token, so a small fractional rps cannot make a bucket that never holds a whole token.
 */
export function effectiveBurst(rps: number, burst: number): number {
  return burst > 0 ? burst : Math.max(1, Math.ceil(2 * rps));
}

export interface Guards {
  middleware: RequestHandler[];
  stop(): void;
}

/**
 * The cors middleware, skipped for requests without an `Origin` header: for those it adds no header
 * (the origin callback refuses an absent origin) but would copy its options per request.
 */
function corsWithOrigin(options: cors.CorsOptions): RequestHandler {
  const mw = cors(options);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.headers.origin === undefined) return next();
    mw(req, res, next);
  };
}

function isExempt(path: string, metricsPublic: boolean): boolean {
  return (
    path === '/' ||
    path === '/health' ||
    path === '/openapi.json' ||
    path === '/openapi.yaml' ||
    path === '/docs' ||
    path.startsWith('/docs/') ||
    path === '/console' ||
    path.startsWith('/console/') ||
    (metricsPublic && path === '/metrics')
  );
}

/**
 * The outcome of authenticating a request's credential, computed once per request (the rate
 * limiter needs it before the auth step) and kept on `res.locals`.
 */
function identify(keys: KeyRegistry, req: Request, res: Response): AuthResult | 'missing' | 'unsupported-scheme' {
  const cached = res.locals.auth as AuthResult | 'missing' | 'unsupported-scheme' | undefined;
  if (cached !== undefined) return cached;
  const cred = extractCredential(req.headers);
  const result = cred.kind === 'key' ? keys.authenticate(cred.value) : cred.kind;
  res.locals.auth = result;
  return result;
}

export async function buildGuards(config: Config, logger: Logger, services: Services): Promise<Guards> {
  const s = config.server;
  const keys = services.keys;
  const refresh = startKeyRefresh((k) => keys.setUnnamed(k), {
    env: process.env,
    gopassPath: config.api_keys_gopass_path,
    logger,
  });
  const middleware: RequestHandler[] = [];

  const allowed = originMatcher(s.cors_allowed_origins);
  const browser = { loopbackBind: isLoopbackHost(s.host), allowedHosts: s.allowed_hosts, corsOriginAllowed: allowed };
  // Host first (DNS rebinding), right after HTTP parsing: even a preflight must name this server.
  const host = hostGuard(browser);
  if (host) middleware.push(host);
  middleware.push(
    // The answer depends on Origin whether or not it is allowed: say so to caches either way.
    (req: Request, res: Response, next: NextFunction) => {
      if (req.headers.origin !== undefined) res.vary('Origin');
      next();
    },
    corsWithOrigin({
      origin: (origin, cb) => cb(null, origin !== undefined && allowed(origin) ? origin : false),
      methods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
      allowedHeaders: s.cors_allowed_headers.length ? s.cors_allowed_headers : undefined,
      exposedHeaders: EXPOSED,
      credentials: s.cors_allow_credentials,
      maxAge: s.cors_max_age,
      optionsSuccessStatus: 204,
    }),
    (req: Request, res: Response, next: NextFunction) => {
      if (req.method !== 'OPTIONS') return next();
      res.status(204).setHeader('Content-Length', '0');
      res.end();
    },
    // A page on another origin can POST without a preflight: refuse foreign origins on POST/DELETE.
    originGuard(browser),
  );

  let store: TokenBucketStore | undefined;
  if (s.rate_limit_enabled && s.rate_limit_rps > 0) {
    const burst = effectiveBurst(s.rate_limit_rps, s.rate_limit_burst);
    const idleMs = s.rate_limit_cleanup_secs * 1000;
    // cluster mode: one bucket per client for all nodes, in Redis
    const bucketStore = services.cluster
      ? new RedisTokenBucketStore(
          services.cluster.redis,
          s.rate_limit_rps,
          burst,
          idleMs,
          config.cluster.rate_limit_fail,
        )
      : (store = new TokenBucketStore(s.rate_limit_rps, burst, idleMs));
    middleware.push(
      rateLimit({
        windowMs: Math.ceil(burst / s.rate_limit_rps) * 1000,
        limit: burst,
        store: bucketStore,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        identifier: 'clinvk',
        keyGenerator: (req: Request, res: Response) => {
          const auth = keys.enabled ? identify(keys, req, res) : 'missing';
          if (typeof auth === 'object' && auth.ok) return `key:${auth.id}`;
          return `ip:${ipKeyGenerator(req.ip ?? '', 56)}`;
        },
        handler: (_req: Request, res: Response) => {
          const retry = Number(res.getHeader('Retry-After') ?? 1);
          sendError(
            res,
            new ApiError('rate_limited', 'rate limit exceeded', {
              headers: { 'Retry-After': String(Math.max(1, retry)) },
            }),
          );
        },
        validate: { trustProxy: false, xForwardedForHeader: false },
      }),
    );
  }

  middleware.push((req: Request, res: Response, next: NextFunction) => {
    const ctx = ctxOf(res);
    if (!keys.enabled) {
      ctx.principal = ANONYMOUS;
      return next();
    }
    const auth = identify(keys, req, res);
    if (typeof auth === 'object' && auth.ok) {
      ctx.apiKeyId = auth.id;
      ctx.principal = auth.principal;
    }
    // exempt paths answer without a key; a valid key still identifies the caller (e.g. /health counts)
    if (isExempt(req.path, s.metrics_public)) return next();
    const fail = (message: string) =>
      next(new ApiError('unauthorized', message, { headers: { 'WWW-Authenticate': 'Bearer realm="clinvk"' } }));
    if (auth === 'missing') return fail('missing API key');
    if (auth === 'unsupported-scheme') return fail('unsupported authorization scheme (use Bearer or X-Api-Key)');
    if (!auth.ok) {
      if (auth.reason === 'expired')
        logger.info('expired API key refused', { key: auth.name, request_id: ctx.requestId });
      return fail('invalid API key');
    }
    next();
  });

  return {
    middleware,
    stop: () => {
      refresh.stop();
      store?.shutdown();
    },
  };
}
