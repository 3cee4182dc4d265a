/**
 * The operator console's files (built into dist/console by `npm run build`): served at /console
 * without a key even when auth is on, with a strict Content-Security-Policy and no framing, no
 * inline script; unknown files are a native 404. The pages themselves are tested in a browser
 * (test/browser, `make test-browser`).
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { CONSOLE_CSP, consoleRoutes } from '../../src/http/console';
import { makeTestApp, type TestApp } from '../helpers/server';
import { teamKeys } from '../helpers/keys';
import { expectMatchesSpec } from '../helpers/contract';
import express from 'express';

const DIST = path.resolve(__dirname, '../../dist/console');

let t: TestApp;
beforeAll(async () => {
  t = await makeTestApp({ auth: { keys: teamKeys() } });
});
afterAll(() => t.close());

function expectConsoleHeaders(res: request.Response): void {
  expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
}

test('the console is built: index.html, the page script, its Markdown chunk, one stylesheet, the icon', () => {
  const files = fs.readdirSync(DIST).sort();
  expect(files.filter((f) => !/^markdown-[A-Z0-9]+\.js$/.test(f))).toEqual([
    'app.css',
    'app.js',
    'favicon.svg',
    'index.html',
  ]);
  expect(files.filter((f) => /^markdown-[A-Z0-9]+\.js$/.test(f))).toHaveLength(1);
});

test('GET /console and /console/ answer the page without a key; it loads only same-origin files, no inline script', async () => {
  for (const p of ['/console', '/console/']) {
    const res = await request(t.app).get(p);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expectConsoleHeaders(res);
    expect(res.text).toContain('<script type="module" src="/console/app.js"></script>');
    expect(res.text).toContain('<link rel="stylesheet" href="/console/app.css" />');
    // every script element has a src on this origin and no body
    const scripts = [...res.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((m) => [m[1]!.trim(), m[2]])).toEqual([['type="module" src="/console/app.js"', '']]);
    expect(res.text).not.toMatch(/\son[a-z]+=/i);
    expect(res.text).not.toMatch(/https?:\/\//);
  }
  const csp = CONSOLE_CSP.split('; ');
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(CONSOLE_CSP).not.toContain('unsafe');
});

test('assets are served under /console/ with their types and the same headers', async () => {
  const js = await request(t.app).get('/console/app.js');
  expect(js.status).toBe(200);
  expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
  expectConsoleHeaders(js);
  expect(Buffer.byteLength(js.text)).toBe(fs.statSync(path.join(DIST, 'app.js')).size);
  // the bundle loads nothing from elsewhere and evaluates no strings
  expect(js.text).not.toMatch(/https?:\/\/(?!www\.w3\.org\/)[a-z0-9.-]+\.[a-z]{2,}\/[^\s"'`]*\.(js|css|woff2?)/i);
  const chunk = fs.readdirSync(DIST).find((f) => f.startsWith('markdown-'))!;
  const md = await request(t.app).get(`/console/${chunk}`);
  expect(md.status).toBe(200);
  expect(md.headers['content-type']).toBe('text/javascript; charset=utf-8');
  expect(js.text).toContain(`./${chunk}`);
  const css = await request(t.app).get('/console/app.css');
  expect(css.status).toBe(200);
  expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  expect(css.text).not.toMatch(/@import|url\(/);
  const icon = await request(t.app).get('/console/favicon.svg');
  expect(icon.status).toBe(200);
  expect(icon.headers['content-type']).toBe('image/svg+xml');
});

test('an unknown console file is a native 404; the API next to it still needs the key', async () => {
  const miss = await request(t.app).get('/console/nope.js');
  expect(miss.status).toBe(404);
  expectConsoleHeaders(miss);
  expect(miss.body).toMatchObject({ success: false, code: 'not_found' });
  const dot = await request(t.app).get('/console/..%2Fpackage.json');
  expect(dot.status).toBe(404);
  const api = await request(t.app).get('/api/v1/backends');
  expect(api.status).toBe(401);
  expectMatchesSpec('listBackends', api.status, api.body);
});

test('without a build the page says how to build it (native 404)', async () => {
  const app = express();
  app.use((_req, res, next) => {
    res.locals.ctx = { route: 'unmatched' };
    next();
  });
  app.use(consoleRoutes(null));
  app.use((err: { message: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(404).json({ error: err.message });
  });
  const res = await request(app).get('/console');
  expect(res.status).toBe(404);
  expect(res.body).toEqual({ error: 'the console is not built (run npm run build)' });
});
