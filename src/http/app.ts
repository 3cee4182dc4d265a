/**
 * The Express application: request context → CORS → rate limiter → auth →
 * meta routes → routing (404/405) → body guard → openapi-backend validation → handler → errors.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type OpenAPIBackend from 'openapi-backend';
import { ApiError, validationError } from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { HandlerFn } from './handler';
import { bodyGuard } from './middleware/body';
import { chain } from './middleware/chain';
import { requestContext, type RequestObserver } from './middleware/track-request';
import { errorHandler } from './middleware/errors';
import { routeMatcher, routeOf } from './middleware/route';
import { OperationTable } from './routing';
import { metaRoutes } from './meta';
import { createOpenApi, detailsFromAjv, type Context } from './openapi';
import type { Config } from '../config/types';

export interface AppOptions {
  config: Config;
  logger: Logger;
  /** One handler per operationId that openapi-backend routes. */
  handlers: Record<string, HandlerFn>;
  metrics?: Metrics;
  /** Middleware placed between the request context and the meta routes (CORS, rate limit, auth). */
  guards?: express.RequestHandler[];
}

export interface AppInstance {
  app: Express;
  api: OpenAPIBackend;
}

export async function createApp(opts: AppOptions): Promise<AppInstance> {
  const { config, logger, metrics } = opts;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.set('trust proxy', config.server.trusted_proxies.length ? config.server.trusted_proxies : false);
  if (config.server.trusted_proxies.length === 0) {
    // No trusted proxy: the client is the peer. Express's getter parses X-Forwarded-For on every
    // read only to discard it; the answer is the same.
    Object.defineProperty(app.request, 'ip', {
      configurable: true,
      enumerable: true,
      get(this: Request) {
        return this.socket?.remoteAddress;
      },
    });
  }

  const api = await createOpenApi({
    ...opts.handlers,
    validationFail: (c: Context) => {
      throw validationError(detailsFromAjv(c.validation.errors));
    },
    notFound: () => {
      throw new ApiError('not_found', 'no such route');
    },
    methodNotAllowed: () => {
      throw new ApiError('method_not_allowed', 'method not allowed');
    },
  });

  const observers: RequestObserver[] = metrics ? [metrics] : [];
  const table = new OperationTable(api);
  // The route label of answers given before routing (401, 403, 429) on a known path.
  const templateOf = (method: string, path: string): string | undefined => {
    const m = table.match(method, path);
    return m.kind === 'operation' ? m.op.path : m.kind === 'method_not_allowed' ? m.route : undefined;
  };
  const dispatch = async (req: Request, res: Response, next: NextFunction) => {
    try {
      const { op, params } = routeOf(res);
      const query = req.query as Record<string, string | string[]>;
      const body: unknown = req.body;
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const handler = opts.handlers[op.operationId];
      if (handler && op.fast && (body === undefined || typeof body === 'object')) {
        // One parse and one validation with openapi-backend's compiled validators (see routing.ts).
        const { context, errors } = table.validate(op, params, query, req.headers, body, method, req.path);
        if (errors) throw validationError(detailsFromAjv(errors));
        await handler(context, req, res);
        return;
      }
      await api.handleRequest(
        {
          method,
          path: req.path,
          query: declaredQuery(op.queryNames, query),
          headers: { ...(req.headers as Record<string, string>), 'content-type': 'application/json' },
          body,
        },
        req,
        res,
      );
    } catch (err) {
      next(err);
    }
  };
  // Every request passes the same middleware: one Express layer runs them all (see chain.ts).
  app.use(
    chain([
      requestContext(logger, config.server.request_timeout_secs * 1000, observers, templateOf),
      ...(opts.guards ?? []),
      metaRoutes(metrics),
      routeMatcher(table),
      bodyGuard(config.server.max_request_body_bytes, (id) =>
        id === undefined ? true : table.operation(id)?.takesBody === true,
      ),
      dispatch,
    ]),
  );
  app.use(errorHandler(logger));
  return { app, api };
}

/** Only the operation's declared query parameters are validated; others are ignored. */
function declaredQuery(names: ReadonlySet<string>, query: Record<string, string | string[]>) {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(query)) if (names.has(k)) out[k] = v;
  return out;
}
