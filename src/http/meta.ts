/** Meta routes served by Express before openapi-backend: spec, docs, the console, metrics. */
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { ApiError } from '../errors';
import { consoleDir, consoleRoutes } from './console';
import { packageVersion } from '../lib/package-version';
import { ctxOf } from './request-context';
import { openapiJsonText, openapiYamlText } from './openapi';
import type { Metrics } from '../observability/metrics';

const DOCS_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>clinvk API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', validatorUrl: null, deepLinking: true });\n`;

const META_PATHS = new Set(['/', '/openapi.json', '/openapi.yaml', '/docs', '/docs/', '/docs/init.js', '/metrics']);

export function metaRoutes(metrics: Metrics | undefined): RequestHandler {
  const r = express.Router({ caseSensitive: true, strict: true });
  const uiDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  // Metrics/access-log label of a meta route: its literal path.
  r.get(['/openapi.json', '/openapi.yaml', '/docs', '/docs/', '/docs/init.js', '/metrics'], (req, res, next) => {
    ctxOf(res).route = req.path;
    next();
  });
  const consoleDirectory = consoleDir();
  const consoleServed = consoleDirectory !== undefined;
  // A newcomer opening the server's address in a browser finds where to go next.
  r.get('/', (_req, res) => {
    ctxOf(res).route = '/';
    const links: Record<string, string> = { docs: '/docs', openapi: '/openapi.json', health: '/health' };
    if (consoleServed) links.console = '/console';
    res.json({ name: 'clinvk', version: packageVersion(), links });
  });
  r.get('/openapi.json', (_req, res) => {
    res.type('application/json; charset=utf-8').send(openapiJsonText());
  });
  r.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml; charset=utf-8').send(openapiYamlText());
  });
  const docs: express.RequestHandler = (_req, res) => {
    res.type('text/html; charset=utf-8').send(DOCS_HTML);
  };
  r.get('/docs', docs);
  r.get('/docs/', docs);
  r.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript; charset=utf-8').send(DOCS_INIT);
  });
  r.use(
    '/docs/assets',
    express.static(uiDir, {
      index: false,
      fallthrough: true,
      // Only files that exist get a label (a bounded set); misses stay `unmatched`.
      setHeaders: (res, file) => {
        ctxOf(res as unknown as express.Response).route = `/docs/assets/${path.basename(file)}`;
      },
    }),
  );
  r.use(consoleRoutes(consoleDirectory ?? null));
  r.get('/metrics', async (_req, res, next) => {
    if (!metrics) return next(new ApiError('not_found', 'metrics are disabled (server.metrics_enabled: false)'));
    res.setHeader('Content-Type', metrics.contentType);
    res.send(await metrics.render());
  });
  // Every other request (the API) skips this router's route matching.
  return (req, res, next) =>
    META_PATHS.has(req.path) ||
    req.path.startsWith('/docs/') ||
    req.path === '/console' ||
    req.path.startsWith('/console/')
      ? r(req, res, next)
      : next();
}
