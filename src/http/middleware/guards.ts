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
import { ApiKeyChecker, extractCredential, startKeyRefresh } from '../../security/api-keys';
import type { Services } from '../../services';
import { ctxOf } from '../request-context';
import { TokenBucketStore } from './rate-limit-store';
import { sendError } from '../respond';

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
  checker: ApiKeyChecker;
  stop(): void;
}

function isExempt(path: string, metricsPublic: boolean): boolean {
  return (
    path === '/health' ||
    path === '/openapi.json' ||
    path === '/openapi.yaml' ||
    path === '/docs' ||
    path.startsWith('/docs/') ||
    (metricsPublic && path === '/metrics')
  );
}

export async function buildGuards(config: Config, logger: Logger, _services: Services): Promise<Guards> {
  const s = config.server;
  const checker = new ApiKeyChecker(config.api_keys);
  const refresh = startKeyRefresh(checker, { env: process.env, gopassPath: config.api_keys_gopass_path, logger });
  const middleware: RequestHandler[] = [];

  const allowed = originMatcher(s.cors_allowed_origins);
  middleware.push(
    // The answer depends on Origin whether or not it is allowed: say so to caches either way.
    (req: Request, res: Response, next: NextFunction) => {
      if (req.headers.origin !== undefined) res.vary('Origin');
      next();
    },
    cors({
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
  );

  let store: TokenBucketStore | undefined;
  if (s.rate_limit_enabled && s.rate_limit_rps > 0) {
    const burst = effectiveBurst(s.rate_limit_rps, s.rate_limit_burst);
    store = new TokenBucketStore(s.rate_limit_rps, burst, s.rate_limit_cleanup_secs * 1000);
    middleware.push(
      rateLimit({
        windowMs: Math.ceil(burst / s.rate_limit_rps) * 1000,
        limit: burst,
        store,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        identifier: 'clinvk',
        keyGenerator: (req: Request) => {
          const cred = checker.enabled ? extractCredential(req.headers) : { kind: 'missing' as const };
          if (cred.kind === 'key' && checker.check(cred.value)) return `key:${checker.keyId(cred.value)}`;
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
    if (!checker.enabled || isExempt(req.path, s.metrics_public)) return next();
    const cred = extractCredential(req.headers);
    const fail = (message: string) =>
      next(new ApiError('unauthorized', message, { headers: { 'WWW-Authenticate': 'Bearer realm="clinvk"' } }));
    if (cred.kind === 'missing') return fail('missing API key');
    if (cred.kind === 'unsupported-scheme') return fail('unsupported authorization scheme (use Bearer or X-Api-Key)');
    if (!checker.check(cred.value)) return fail('invalid API key');
    ctxOf(res).apiKeyId = checker.keyId(cred.value);
    next();
  });

  return {
    middleware,
    checker,
    stop: () => {
      refresh.stop();
      store?.shutdown();
    },
  };
}
