/**
 * The operator console (docs/console.md): static files built from console/ into dist/console by
 * `npm run build`, served at /console and /console/<file>. The page holds no data and needs no key
 * to load (it asks the user for one and sends it to the API itself). Every console response carries a
 * strict Content-Security-Policy: scripts, styles and connections from this origin only, no inline
 * script, no framing.
 */
import fs from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';
import { ApiError } from '../errors';
import { ctxOf } from './request-context';

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The built console: dist/console next to the compiled server, or the repository's dist/console from sources. */
export function consoleDir(): string | undefined {
  const candidates = [path.resolve(__dirname, '../../console'), path.resolve(__dirname, '../../dist/console')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html')) && fs.existsSync(path.join(d, 'app.js')));
}

/** `dir`: the built console (null: not built, every page answers a 404 saying so). */
export function consoleRoutes(dir: string | null = consoleDir() ?? null): Router {
  const r = express.Router({ caseSensitive: true, strict: true });
  r.use('/console', (_req, res, next) => {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-cache');
    next();
  });
  const index: express.RequestHandler = (req, res, next) => {
    ctxOf(res).route = req.path;
    if (!dir) return next(new ApiError('not_found', 'the console is not built (run npm run build)'));
    res.type('text/html; charset=utf-8').sendFile(path.join(dir, 'index.html'));
  };
  r.get('/console', index);
  r.get('/console/', index);
  if (dir) {
    r.use(
      '/console',
      express.static(dir, {
        index: false,
        fallthrough: true,
        etag: true,
        lastModified: true,
        dotfiles: 'ignore',
        // Only files that exist get a label (a bounded set); misses stay `unmatched`.
        setHeaders: (res, file) => {
          ctxOf(res as unknown as express.Response).route = `/console/${path.basename(file)}`;
        },
      }),
    );
  }
  return r;
}
