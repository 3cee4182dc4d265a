/**
 * Security and operations (SPEC §7.1–§7.6, §2.6, §2.7; §9 rows 8, 9 (order), 21–27, 44–51): API keys
 * (environment, gopass), exempt paths, 401/413/429 in the three API styles, CORS preflights before
 * rate limiting and auth, token-bucket rate limits keyed by API key or client IP, spoofed
 * X-Forwarded-For, body limits (declared and chunked, over raw sockets), socket-level 400/408/431,
 * the working-directory policy — and that none of these rejections spawns a CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { effectiveBurst } from '../../src/http/middleware/guards';
import { MAX_BUCKETS, TokenBucketStore } from '../../src/http/middleware/rate-limit-store';
import { resolveApiKeys } from '../../src/auth/sources';
import { expectMatchesSpec } from '../helpers/contract';
import { floodChunked, rawConnect, rawExchange } from '../helpers/raw-http';
import { makeTestApp, makeTestServer, type TestApp, type TestServer } from '../helpers/server';

const KEYS = ['k1-Secret-Key', 'k2-Other-Key'];
const PROMPT = JSON.stringify({ backend: 'claude', prompt: 'hi' });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expectNative(res: request.Response, status: number, code: string, message?: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(res.body).toMatchObject({ success: false, code });
  if (message !== undefined) expect(res.body.error).toBe(message);
  expect(res.headers['x-request-id']).toBeTruthy();
}

function expectOpenAI(res: request.Response, status: number, code: string, type: string, param: unknown = null) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(res.body).toEqual({ error: { message: expect.any(String), type, param, code } });
}

function expectAnthropic(res: request.Response, status: number, type: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(res.body).toEqual({ type: 'error', error: { type, message: expect.any(String) } });
  expect(res.headers['request-id']).toBe(res.headers['x-request-id']);
}

// ---------------------------------------------------------------------------------------------
describe('API key sources (§7.1)', () => {
  let dir: string;
  let logFile: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-gopass-'));
    logFile = path.join(dir, 'gopass.log');
    const script = path.join(dir, 'gopass');
    fs.writeFileSync(
      script,
      '#!/bin/sh\nprintf "%s\\n" "$*" >> "$GOPASS_LOG"\ncase "$3" in\n  empty/*) printf "\\n" ;;\n  fail/*) echo "entry not found" >&2; exit 11 ;;\n  *) printf " g-key-1 , ,g-key-2 \\n" ;;\nesac\n',
    );
    fs.chmodSync(script, 0o755);
    env = { PATH: `${dir}:${process.env.PATH}`, GOPASS_LOG: logFile };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const calls = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : []);

  test('CLINVK_API_KEYS: comma-separated, trimmed, empty entries dropped; gopass not asked', async () => {
    const before = calls().length;
    expect(await resolveApiKeys({ env: { ...env, CLINVK_API_KEYS: ' a ,, b,' }, gopassPath: 'team/clinvk' })).toEqual([
      'a',
      'b',
    ]);
    expect(calls().length).toBe(before);
  });

  test('no source → no keys (auth off)', async () => {
    expect(await resolveApiKeys({ env: { ...env, CLINVK_API_KEYS: ' , ' } })).toEqual([]);
  });

  test('gopass: `gopass show --password <path>`; env path wins over the config path', async () => {
    expect(await resolveApiKeys({ env, gopassPath: 'team/clinvk' })).toEqual(['g-key-1', 'g-key-2']);
    expect(calls().at(-1)).toBe('show --password team/clinvk');
    await resolveApiKeys({ env: { ...env, CLINVK_API_KEYS_GOPASS_PATH: 'env/path' }, gopassPath: 'team/clinvk' });
    expect(calls().at(-1)).toBe('show --password env/path');
  });

  test('gopass yielding no key, failing, or an invalid path → start-up error (no silent auth-off)', async () => {
    await expect(resolveApiKeys({ env, gopassPath: 'empty/x' })).rejects.toThrow(/yielded no key/);
    await expect(resolveApiKeys({ env, gopassPath: 'fail/x' })).rejects.toThrow(/gopass show failed/);
    const before = calls().length;
    await expect(resolveApiKeys({ env, gopassPath: '--help' })).rejects.toThrow(/invalid gopass path/);
    await expect(resolveApiKeys({ env, gopassPath: 'a b' })).rejects.toThrow(/invalid gopass path/);
    expect(calls().length).toBe(before);
  });

  test('a server built with the gopass keys accepts them and nothing else', async () => {
    const keys = await resolveApiKeys({ env, gopassPath: 'team/clinvk' });
    const t = await makeTestApp({}, { apiKeys: keys });
    try {
      expect((await request(t.app).get('/api/v1/backends').set('X-Api-Key', 'g-key-2')).status).toBe(200);
      expect((await request(t.app).get('/api/v1/backends').set('Authorization', 'Bearer g-key-1')).status).toBe(200);
      expect((await request(t.app).get('/api/v1/backends')).status).toBe(401);
      expect((await request(t.app).get('/api/v1/backends').set('X-Api-Key', 'g-key-3')).status).toBe(401);
    } finally {
      await t.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('authentication (§7.1; §9 rows 44, 45)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ server: { metrics_enabled: true } }, { apiKeys: KEYS });
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.starts()).toEqual([]));

  const get = (p: string) => request(t.app).get(p);

  test('row 44: no key, wrong key, empty Bearer → 401 unauthorized with WWW-Authenticate', async () => {
    const cases: [request.Test, string][] = [
      [get('/api/v1/backends'), 'missing API key'],
      [get('/api/v1/backends').set('X-Api-Key', 'nope'), 'invalid API key'],
      [get('/api/v1/backends').set('Authorization', 'Bearer nope'), 'invalid API key'],
      [get('/api/v1/backends').set('Authorization', 'Bearer'), 'missing API key'],
      [get('/api/v1/backends').set('Authorization', 'Bearer    '), 'missing API key'],
      [get('/api/v1/backends').set('X-Api-Key', ''), 'missing API key'],
      [get('/api/v1/backends').set('X-Api-Key', KEYS[0]!.toUpperCase()), 'invalid API key'],
      [get('/api/v1/backends').set('X-Api-Key', `${KEYS[0]}x`), 'invalid API key'],
    ];
    for (const [req, message] of cases) {
      const res = await req;
      expectNative(res, 401, 'unauthorized', message);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="clinvk"');
      expectMatchesSpec('listBackends', 401, res.body);
    }
  });

  test('row 45: another scheme → unsupported authorization scheme', async () => {
    for (const auth of ['Basic dXNlcjpwYXNz', `Token ${KEYS[0]}`, `Digest ${KEYS[0]}`]) {
      const res = await get('/api/v1/backends').set('Authorization', auth);
      expectNative(res, 401, 'unauthorized', 'unsupported authorization scheme (use Bearer or X-Api-Key)');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="clinvk"');
    }
  });

  test('accepted: X-Api-Key, Bearer (scheme case-insensitive), every configured key', async () => {
    for (const [h, v] of [
      ['X-Api-Key', KEYS[0]],
      ['X-Api-Key', KEYS[1]],
      ['Authorization', `Bearer ${KEYS[0]}`],
      ['Authorization', `bearer ${KEYS[1]}`],
      ['Authorization', `BEARER ${KEYS[0]}`],
    ] as const) {
      const res = await get('/api/v1/backends').set(h, v!);
      expect(res.status).toBe(200);
      expect(res.body.success).toBe(true);
    }
  });

  test('X-Api-Key alone is checked when present; an empty X-Api-Key falls back to Bearer', async () => {
    const bad = await get('/api/v1/backends').set('X-Api-Key', 'nope').set('Authorization', `Bearer ${KEYS[0]}`);
    expectNative(bad, 401, 'unauthorized', 'invalid API key');
    const ok = await get('/api/v1/backends').set('X-Api-Key', '').set('Authorization', `Bearer ${KEYS[0]}`);
    expect(ok.status).toBe(200);
  });

  test('no query-string or cookie keys', async () => {
    expect((await get(`/api/v1/backends?api_key=${KEYS[0]}`)).status).toBe(401);
    expect((await get(`/api/v1/backends?key=${KEYS[0]}`)).status).toBe(401);
    expect((await get('/api/v1/backends').set('Cookie', `api_key=${KEYS[0]}`)).status).toBe(401);
  });

  test('keys never appear in error bodies', async () => {
    const res = await get('/api/v1/backends').set('X-Api-Key', 'presented-secret-value');
    expect(JSON.stringify(res.body)).not.toContain('presented-secret-value');
    expect(JSON.stringify(res.headers)).not.toContain('presented-secret-value');
  });

  test('exempt paths need no key (GET and HEAD)', async () => {
    for (const p of [
      '/health',
      '/openapi.json',
      '/openapi.yaml',
      '/docs',
      '/docs/',
      '/docs/init.js',
      '/docs/assets/swagger-ui.css',
      '/metrics',
    ]) {
      const res = await get(p);
      expect({ p, status: res.status }).toEqual({ p, status: 200 });
    }
    expect((await request(t.app).head('/health')).status).toBe(200);
    // Under /docs/ but no such asset: still not a 401 (404 in native style).
    expectNative(await get('/docs/assets/nope.js'), 404, 'not_found');
  });

  test('exemptions are exact: look-alike paths still require a key', async () => {
    for (const p of ['/healthz', '/health/', '/docsx', '/metrics/', '/openapi.jsonx', '/HEALTH', '/api/v1/health']) {
      const res = await get(p);
      expect({ p, status: res.status }).toEqual({ p, status: 401 });
    }
  });

  test('path tricks through an exempt prefix never reach a protected operation', async () => {
    for (const p of [
      '/docs/../api/v1/backends',
      '/docs/%2e%2e/api/v1/backends',
      '/docs/..%2Fapi%2Fv1%2Fbackends',
      '/health/../api/v1/backends',
    ]) {
      const res = await get(p);
      expect(res.body?.data?.backends).toBeUndefined();
      expect([401, 404]).toContain(res.status);
    }
  });

  test('auth runs before routing and before the body checks (§2.6)', async () => {
    expectNative(await get('/api/v1/nope'), 401, 'unauthorized');
    expectNative(await request(t.app).put('/api/v1/prompt'), 401, 'unauthorized');
    const big = await request(t.app).post('/api/v1/prompt').set('Content-Type', 'text/plain').send('x'.repeat(20));
    expectNative(big, 401, 'unauthorized');
    const res = await request(t.app).post('/api/v1/prompt').set('Content-Type', 'application/json').send(PROMPT);
    expectNative(res, 401, 'unauthorized', 'missing API key');
    expectMatchesSpec('executePrompt', 401, res.body);
  });

  test('401 in the OpenAI style on /openai/* (known and unknown paths)', async () => {
    for (const req of [
      get('/openai/v1/models'),
      get('/openai/v1/nope'),
      request(t.app).post('/openai/v1/chat/completions').set('Content-Type', 'application/json').send('{}'),
    ]) {
      const res = await req;
      expectOpenAI(res, 401, 'unauthorized', 'invalid_request_error');
      expect(res.body.error.message).toBe('missing API key');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="clinvk"');
    }
    const bad = await get('/openai/v1/models').set('Authorization', 'Bearer nope');
    expect(bad.body.error.message).toBe('invalid API key');
    expectMatchesSpec('openaiListModels', 401, bad.body);
  });

  test('401 in the Anthropic style on /anthropic/* (authentication_error)', async () => {
    for (const req of [
      get('/anthropic/v1/models'),
      get('/anthropic/v1/nope'),
      request(t.app).post('/anthropic/v1/messages').set('Content-Type', 'application/json').send('{}'),
    ]) {
      const res = await req;
      expectAnthropic(res, 401, 'authentication_error');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="clinvk"');
    }
    const res = await get('/anthropic/v1/models').set('X-Api-Key', 'nope');
    expect(res.body.error.message).toBe('invalid API key');
    expectMatchesSpec('anthropicListModels', 401, res.body);
    // The Anthropic SDK sends X-Api-Key: accepted.
    expect((await get('/anthropic/v1/models').set('X-Api-Key', KEYS[1]!)).status).toBe(200);
  });

  test('metrics_public: false → /metrics needs a key', async () => {
    const p = await makeTestApp({ server: { metrics_enabled: true, metrics_public: false } }, { apiKeys: KEYS });
    try {
      expectNative(await request(p.app).get('/metrics'), 401, 'unauthorized');
      const ok = await request(p.app).get('/metrics').set('X-Api-Key', KEYS[0]!);
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('clinvk_requests_total');
      expect((await request(p.app).get('/health')).status).toBe(200);
    } finally {
      await p.close();
    }
  });

  test('without keys, authentication is off', async () => {
    const p = await makeTestApp();
    try {
      expect((await request(p.app).get('/api/v1/backends')).status).toBe(200);
      expect((await request(p.app).get('/api/v1/backends').set('Authorization', 'Basic eA==')).status).toBe(200);
    } finally {
      await p.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('CORS (§7.4)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp(
      { server: { rate_limit_enabled: true, rate_limit_rps: 0.01, rate_limit_burst: 2 } },
      { apiKeys: KEYS },
    );
  });
  afterAll(() => t.close());

  const preflight = (p: string, origin: string | undefined, headers = 'content-type,x-api-key,x-stainless-os') => {
    const r = request(t.app)
      .options(p)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', headers);
    return origin ? r.set('Origin', origin) : r;
  };

  test('preflight with keys configured → 204, CORS headers, no 401, no body; never rate limited', async () => {
    for (const p of ['/api/v1/prompt', '/openai/v1/chat/completions', '/anthropic/v1/messages', '/nope']) {
      for (let i = 0; i < 4; i++) {
        const res = await preflight(p, 'http://localhost:5173');
        expect(res.status).toBe(204);
        expect(res.text).toBe('');
        expect(res.headers['access-control-allow-origin']).toBe('http://localhost:5173');
        expect(res.headers['access-control-allow-methods']).toBe('GET,HEAD,POST,DELETE,OPTIONS');
        expect(res.headers['access-control-allow-headers']).toBe('content-type,x-api-key,x-stainless-os');
        expect(res.headers['access-control-max-age']).toBe('300');
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
        expect(res.headers['www-authenticate']).toBeUndefined();
        expect(res.headers['ratelimit']).toBeUndefined();
        expect(res.headers['x-request-id']).toBeTruthy();
      }
    }
    // Eight preflights later the bucket (burst 2) is still full: they took no token.
    const a = await request(t.app).get('/health');
    const b = await request(t.app).get('/health');
    expect([a.status, b.status]).toEqual([200, 200]);
  });

  test('default origins: localhost, 127.0.0.1, [::1] on any port, case-insensitive', async () => {
    for (const origin of [
      'http://localhost:3000',
      'http://127.0.0.1:8080',
      'http://[::1]:1',
      'HTTP://LocalHost:3000',
    ]) {
      const res = await preflight('/api/v1/prompt', origin);
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(origin);
    }
  });

  test('disallowed origins → 204 preflight without any allow header', async () => {
    for (const origin of [
      'http://evil.example',
      'http://localhost.evil.example:80',
      'https://localhost:3000',
      'http://localhost',
      'http://localhost:3000.evil',
      'null',
    ]) {
      const res = await preflight('/api/v1/prompt', origin);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      for (const h of [
        'access-control-allow-origin',
        'access-control-allow-methods',
        'access-control-allow-headers',
        'access-control-allow-credentials',
      ]) {
        expect(res.headers[h]).toBeUndefined();
      }
    }
    const none = await preflight('/api/v1/prompt', undefined);
    expect(none.status).toBe(204);
    expect(none.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('actual requests: CORS headers for allowed origins on every status, none for others', async () => {
    const p = await makeTestApp({}, { apiKeys: KEYS });
    try {
      const origin = 'http://127.0.0.1:5173';
      const expose =
        'X-Request-Id,traceparent,Retry-After,RateLimit,RateLimit-Policy,X-Clinvk-Session-Id,X-Clinvk-Ignored-Params,request-id';
      const cases = [
        [request(p.app).get('/health'), 200],
        [request(p.app).get('/api/v1/backends'), 401],
        [request(p.app).get('/api/v1/backends').set('X-Api-Key', KEYS[0]!), 200],
        [request(p.app).get('/api/v1/nope').set('X-Api-Key', KEYS[0]!), 404],
        [request(p.app).get('/openai/v1/models'), 401],
      ] as const;
      for (const [req, status] of cases) {
        const res = await req.set('Origin', origin);
        expect(res.status).toBe(status);
        expect(res.headers['access-control-allow-origin']).toBe(origin);
        expect(res.headers['access-control-expose-headers']).toBe(expose);
        expect(res.headers['vary']).toMatch(/Origin/);
      }
      const evil = await request(p.app).get('/api/v1/backends').set('Origin', 'http://evil.example');
      expect(evil.status).toBe(401);
      expect(evil.headers['access-control-allow-origin']).toBeUndefined();
      expect(evil.headers['access-control-expose-headers']).toBeUndefined();
      expect(evil.headers['vary']).toMatch(/Origin/);
    } finally {
      await p.close();
    }
  });

  test('CORS headers on 429 responses', async () => {
    const origin = 'http://localhost:1234';
    let res: request.Response;
    do res = await request(t.app).get('/health').set('Origin', origin);
    while (res.status === 200);
    expectNative(res, 429, 'rate_limited');
    expect(res.headers['access-control-allow-origin']).toBe(origin);
  });

  test('configured origins, headers, credentials and max age', async () => {
    const p = await makeTestApp({
      server: {
        cors_allowed_origins: ['https://app.example.com', 'https://*.example.org', 'http://dev.test:*'],
        cors_allowed_headers: ['content-type', 'x-api-key'],
        cors_allow_credentials: true,
        cors_max_age: 60,
      },
    });
    try {
      const pf = (origin: string) =>
        request(p.app)
          .options('/api/v1/prompt')
          .set('Origin', origin)
          .set('Access-Control-Request-Method', 'POST')
          .set('Access-Control-Request-Headers', 'x-stainless-os');
      for (const origin of [
        'https://app.example.com',
        'https://a.example.org',
        'http://dev.test:9000',
        'HTTPS://APP.EXAMPLE.COM',
      ]) {
        const res = await pf(origin);
        expect(res.status).toBe(204);
        expect(res.headers['access-control-allow-origin']).toBe(origin);
        expect(res.headers['access-control-allow-headers']).toBe('content-type,x-api-key');
        expect(res.headers['access-control-allow-credentials']).toBe('true');
        expect(res.headers['access-control-max-age']).toBe('60');
      }
      for (const origin of [
        'http://localhost:3000',
        'https://a.b.example.org',
        'https://example.org',
        'http://app.example.com',
        'http://dev.test',
      ]) {
        const res = await pf(origin);
        expect(res.status).toBe(204);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
      }
    } finally {
      await p.close();
    }
  });

  test('a lone "*" allows any origin', async () => {
    const p = await makeTestApp({ server: { cors_allowed_origins: ['*'] } });
    try {
      const res = await request(p.app).get('/health').set('Origin', 'https://anything.example:444');
      expect(res.headers['access-control-allow-origin']).toBe('https://anything.example:444');
    } finally {
      await p.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('token-bucket store (§7.2)', () => {
  let now = 0;
  const stores: TokenBucketStore[] = [];
  const make = (rps: number, burst: number, idleMs = 180_000) => {
    const s = new TokenBucketStore(rps, burst, idleMs, () => now);
    stores.push(s);
    return s;
  };
  beforeEach(() => (now = 1_000_000));
  afterAll(() => stores.forEach((s) => s.shutdown()));

  test('starts full, one token per request, continuous refill, capped at burst', () => {
    const s = make(2, 3);
    expect([1, 2, 3, 4].map(() => s.increment('a').totalHits)).toEqual([1, 2, 3, 4]); // 4 > burst: rejected
    now += 250; // half a token
    expect(s.increment('a').totalHits).toBe(4);
    now += 250; // one token
    expect(s.increment('a').totalHits).toBe(3); // allowed, 0 left
    now += 60_000;
    expect(s.tokens('a')).toBe(3);
    expect(s.increment('b').totalHits).toBe(1); // other keys have their own bucket
  });

  test('resetTime: time to one token when rejected (≥ 1 s); time to a full bucket when allowed', () => {
    const s = make(0.5, 2);
    expect(s.increment('a').resetTime!.getTime() - now).toBe(2000); // 1 token missing at 0.5/s
    expect(s.increment('a').resetTime!.getTime() - now).toBe(4000);
    expect(s.increment('a').resetTime!.getTime() - now).toBe(2000); // rejected: one token in 2 s
    const fast = make(100, 5);
    fast.increment('x');
    fast.increment('x');
    fast.increment('x');
    fast.increment('x');
    fast.increment('x');
    expect(fast.increment('x').resetTime!.getTime() - now).toBe(1000); // never below 1 s
  });

  test('idle buckets are dropped; at most MAX_BUCKETS (least recently used evicted)', () => {
    const s = make(1, 2, 10_000);
    s.increment('old');
    now += 9_000;
    s.increment('fresh');
    now += 2_000;
    (s as unknown as { sweep(): void }).sweep();
    expect(s.size).toBe(1);
    expect(s.tokens('old')).toBe(2);
    const lru = make(1, 1);
    lru.increment('first');
    lru.increment('second');
    lru.increment('first'); // touched: now most recent
    for (let i = 0; i < MAX_BUCKETS - 1; i++) lru.increment(`k${i}`);
    expect(lru.size).toBe(MAX_BUCKETS);
    expect(lru.tokens('second')).toBe(1); // evicted → a new, full bucket
    expect(lru.increment('first').totalHits).toBe(2); // still there, still empty
  });

  test('burst ≤ 0 → 2 × rps, at least one whole token', () => {
    expect(effectiveBurst(10, 20)).toBe(20);
    expect(effectiveBurst(10, 0)).toBe(20);
    expect(effectiveBurst(10, -1)).toBe(20);
    expect(effectiveBurst(0.3, 0)).toBe(1);
    expect(effectiveBurst(1.5, 0)).toBe(3);
  });
});

// ---------------------------------------------------------------------------------------------
describe('rate limiting (§7.2; §9 rows 50, 51)', () => {
  /** rps 0.05 (one token per 20 s): refills never disturb the counting; burst 3, window 60 s. */
  const limited = (extra: Record<string, unknown> = {}, keys?: string[]) =>
    makeTestApp(
      {
        server: {
          rate_limit_enabled: true,
          rate_limit_rps: 0.05,
          rate_limit_burst: 3,
          metrics_enabled: true,
          ...extra,
        },
      },
      { apiKeys: keys },
    );

  test('row 50: burst, then 429 with Retry-After, RateLimit and RateLimit-Policy (also /health, HEAD, /metrics)', async () => {
    const t = await limited();
    try {
      const first = await request(t.app).get('/health');
      expect(first.status).toBe(200);
      expect(first.headers['ratelimit-policy']).toMatch(/^"clinvk"; q=3; w=60; pk=:[A-Za-z0-9+/=]+:$/);
      expect(first.headers['ratelimit']).toMatch(/^"clinvk"; r=2; t=\d+$/);
      const head = await request(t.app).head('/health');
      expect(head.status).toBe(200);
      expect(head.headers['ratelimit']).toMatch(/^"clinvk"; r=1; /);
      const metrics = await request(t.app).get('/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.headers['ratelimit']).toMatch(/^"clinvk"; r=0; /);
      for (const req of [
        request(t.app).get('/health'),
        request(t.app).head('/health'),
        request(t.app).get('/metrics'),
        request(t.app).get('/api/v1/backends'),
      ]) {
        const res = await req;
        expect(res.status).toBe(429);
        const retry = Number(res.headers['retry-after']);
        expect(Number.isInteger(retry) && retry >= 15 && retry <= 20).toBe(true); // one token at 0.05/s
        expect(res.headers['ratelimit']).toMatch(/^"clinvk"; r=0; t=\d+$/);
        expect(res.headers['ratelimit-policy']).toMatch(/^"clinvk"; q=3; w=60; /);
        expect(res.headers['x-request-id']).toBeTruthy();
        if (res.request.method !== 'HEAD') {
          expectNative(res, 429, 'rate_limited');
        }
      }
      expectMatchesSpec('listBackends', 429, (await request(t.app).get('/api/v1/backends')).body);
      expectMatchesSpec('healthCheck', 429, (await request(t.app).get('/health')).body);
      const post = await request(t.app).post('/api/v1/prompt').set('Content-Type', 'application/json').send(PROMPT);
      expectNative(post, 429, 'rate_limited');
      expectMatchesSpec('executePrompt', 429, post.body);
      expect(t.starts()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  test('429 in the OpenAI and Anthropic styles (rate_limit_error)', async () => {
    const t = await limited();
    try {
      for (let i = 0; i < 3; i++) await request(t.app).get('/health');
      const o = await request(t.app).get('/openai/v1/models');
      expectOpenAI(o, 429, 'rate_limited', 'rate_limit_error');
      expect(Number(o.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expectMatchesSpec('openaiListModels', 429, o.body);
      expectOpenAI(await request(t.app).get('/openai/v1/nope'), 429, 'rate_limited', 'rate_limit_error');
      expectOpenAI(
        await request(t.app).post('/openai/v1/chat/completions').send({}),
        429,
        'rate_limited',
        'rate_limit_error',
      );
      const a = await request(t.app).get('/anthropic/v1/models');
      expectAnthropic(a, 429, 'rate_limit_error');
      expectMatchesSpec('anthropicListModels', 429, a.body);
      expectAnthropic(await request(t.app).post('/anthropic/v1/messages').send({}), 429, 'rate_limit_error');
    } finally {
      await t.close();
    }
  });

  test('buckets refill continuously at rps', async () => {
    const t = await makeTestApp({ server: { rate_limit_enabled: true, rate_limit_rps: 1, rate_limit_burst: 2 } });
    try {
      const codes: number[] = [];
      while (codes.length < 10 && codes.at(-1) !== 429) codes.push((await request(t.app).get('/health')).status);
      expect(codes.at(-1)).toBe(429);
      expect(codes.slice(0, 2)).toEqual([200, 200]);
      await sleep(1300); // ≥ 1 token back at 1/s
      expect((await request(t.app).get('/health')).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  test('burst ≤ 0 → 2 × rps; disabled or rps 0 → no limit and no headers', async () => {
    const t = await makeTestApp({ server: { rate_limit_enabled: true, rate_limit_rps: 0.5, rate_limit_burst: 0 } });
    try {
      const first = await request(t.app).get('/health');
      expect(first.headers['ratelimit-policy']).toMatch(/q=1; w=2;/);
      expect((await request(t.app).get('/health')).status).toBe(429);
    } finally {
      await t.close();
    }
    for (const server of [
      { rate_limit_enabled: false, rate_limit_rps: 0.01, rate_limit_burst: 1 },
      { rate_limit_enabled: true, rate_limit_rps: 0, rate_limit_burst: 1 },
    ]) {
      const off = await makeTestApp({ server });
      try {
        for (let i = 0; i < 5; i++) {
          const res = await request(off.app).get('/health');
          expect(res.status).toBe(200);
          expect(res.headers['ratelimit']).toBeUndefined();
          expect(res.headers['ratelimit-policy']).toBeUndefined();
        }
      } finally {
        await off.close();
      }
    }
  });

  test('keyed by the API key when a valid one is presented, else by client IP; limits run before auth', async () => {
    const t = await limited({}, KEYS);
    try {
      const withKey = (k: string) => request(t.app).get('/api/v1/backends').set('X-Api-Key', k);
      for (let i = 0; i < 3; i++) expect((await withKey(KEYS[0]!)).status).toBe(200);
      expect((await withKey(KEYS[0]!)).status).toBe(429);
      // Same key via Bearer: same bucket.
      expect((await request(t.app).get('/api/v1/backends').set('Authorization', `Bearer ${KEYS[0]}`)).status).toBe(429);
      // Another key: its own bucket.
      expect((await withKey(KEYS[1]!)).status).toBe(200);
      // The IP bucket is untouched by key traffic; invalid keys count against the IP.
      expect((await request(t.app).get('/health')).status).toBe(200);
      expectNative(await withKey('wrong'), 401, 'unauthorized');
      expectNative(await request(t.app).get('/api/v1/backends'), 401, 'unauthorized');
      // IP bucket exhausted: 429 comes before auth (no key, wrong key alike).
      expectNative(await request(t.app).get('/api/v1/backends'), 429, 'rate_limited');
      expectNative(await withKey('wrong'), 429, 'rate_limited');
      // Still fine for the second key.
      expect((await withKey(KEYS[1]!)).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  test('row 51: a spoofed X-Forwarded-For from an untrusted peer does not change the bucket', async () => {
    const t = await limited();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await request(t.app)
          .get('/health')
          .set('X-Forwarded-For', `203.0.113.${i + 1}`)
          .set('X-Real-IP', `198.51.100.${i + 1}`)
          .set('Forwarded', `for=192.0.2.${i + 1}`)
          .set('True-Client-IP', `192.0.2.${i + 100}`);
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    } finally {
      await t.close();
    }
  });

  test('X-Forwarded-For is honoured through a trusted proxy (loopback); other headers never', async () => {
    const t = await limited({ trusted_proxies: ['loopback'] });
    try {
      const xff = (ip: string) => request(t.app).get('/health').set('X-Forwarded-For', ip);
      for (let i = 0; i < 3; i++) expect((await xff('203.0.113.7')).status).toBe(200);
      expect((await xff('203.0.113.7')).status).toBe(429);
      // A different client behind the proxy has its own bucket.
      expect((await xff('203.0.113.8')).status).toBe(200);
      // Chain: the right-most untrusted hop is the client (a client-supplied left part is ignored).
      expect((await xff('10.9.9.9, 203.0.113.7')).status).toBe(429);
      // X-Real-IP / True-Client-IP / Forwarded are never used: these all count as the proxy itself.
      for (let i = 0; i < 3; i++) {
        const res = await request(t.app)
          .get('/health')
          .set('X-Real-IP', `198.51.100.${i}`)
          .set('True-Client-IP', `192.0.2.${i}`)
          .set('Forwarded', `for=192.0.2.${i}`);
        expect(res.status).toBe(200);
      }
      expect((await request(t.app).get('/health').set('X-Real-IP', '198.51.100.99')).status).toBe(429);
    } finally {
      await t.close();
    }
  });

  test('IPv6 clients behind a trusted proxy share a /56 bucket', async () => {
    const t = await limited({ trusted_proxies: ['loopback'], rate_limit_burst: 2 });
    try {
      const xff = (ip: string) => request(t.app).get('/health').set('X-Forwarded-For', ip);
      expect((await xff('2001:db8:0:1::1')).status).toBe(200);
      expect((await xff('2001:db8:0:ff::2')).status).toBe(200); // same /56
      expect((await xff('2001:db8:0:1::3')).status).toBe(429);
      expect((await xff('2001:db8:0:100::1')).status).toBe(200); // another /56
    } finally {
      await t.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('body limit (§7.3; §9 row 8)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await makeTestServer(); // default limit: 10 MiB
  });
  afterAll(() => s.close());
  afterEach(() => expect(s.starts()).toEqual([]));

  const head = (p: string, extra: string) =>
    `POST ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${extra}\r\n`;

  test('row 8: 11 MiB declared with Content-Length, body never sent → 413 at once, connection closed', async () => {
    const res = await rawExchange(s.url, head('/api/v1/prompt', `Content-Length: ${11 * 1024 * 1024}\r\n`), 10000);
    expect(res.closed).toBe(true);
    expect(res.status).toBe(413);
    expect(res.headers['connection']).toBe('close');
    expect(res.headers['x-request-id']).toBeTruthy();
    const body = JSON.parse(res.body);
    expect(body).toEqual({ success: false, error: 'request body exceeds 10485760 bytes', code: 'payload_too_large' });
    expectMatchesSpec('executePrompt', 413, body);
  });

  test('row 8: the same body chunked → 413 as soon as the limit is crossed, connection closed', async () => {
    const c = await rawConnect(s.url, 20000);
    c.socket.write(head('/api/v1/prompt', 'Transfer-Encoding: chunked\r\n'));
    const sent = await floodChunked(c, 64 * 1024, 64 * 1024 * 1024);
    const res = await c.done;
    expect(res.status).toBe(413);
    expect(res.closed).toBe(true);
    expect(JSON.parse(res.body)).toMatchObject({ success: false, code: 'payload_too_large' });
    // Answered once the limit was crossed, long before the 64 MiB the client was willing to send.
    expect(sent).toBeGreaterThan(10 * 1024 * 1024);
    expect(sent).toBeLessThan(40 * 1024 * 1024);
  });

  test('chunked 413 in the OpenAI and Anthropic styles', async () => {
    for (const [p, check] of [
      [
        '/openai/v1/chat/completions',
        (b: any) => expect(b.error).toMatchObject({ type: 'invalid_request_error', code: 'payload_too_large' }),
      ],
      [
        '/anthropic/v1/messages',
        (b: any) => expect(b).toMatchObject({ type: 'error', error: { type: 'request_too_large' } }),
      ],
    ] as const) {
      const c = await rawConnect(s.url, 20000);
      c.socket.write(head(p, 'Transfer-Encoding: chunked\r\n'));
      await floodChunked(c, 64 * 1024, 64 * 1024 * 1024);
      const res = await c.done;
      expect(res.status).toBe(413);
      check(JSON.parse(res.body));
    }
  });

  test('the server keeps serving after 413s', async () => {
    const res = await fetch(`${s.url}/health`);
    expect(res.status).toBe(200);
  });
});

describe('body limit: order and styles (§2.6 step 6)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ server: { max_request_body_bytes: 1024 } });
  });
  afterAll(() => t.close());
  afterEach(() => expect(t.starts()).toEqual([]));

  const big = JSON.stringify({ backend: 'claude', prompt: 'x'.repeat(2000) });

  test('413 before content type, JSON parsing and validation', async () => {
    for (const [type, body] of [
      ['application/json', big],
      ['application/json', `{"truncated": "${'x'.repeat(2000)}`],
      ['text/plain', 'x'.repeat(2000)],
      ['application/json', JSON.stringify({ promt: 'x'.repeat(2000) })],
    ]) {
      const res = await request(t.app).post('/api/v1/prompt').set('Content-Type', type!).send(body!);
      expectNative(res, 413, 'payload_too_large', 'request body exceeds 1024 bytes');
      expect(res.headers['connection']).toBe('close');
    }
  });

  test('a body at the limit is read; one byte over is not', async () => {
    const pad = (n: number) => {
      const base = JSON.stringify({ backend: 'claude', prompt: 'p', dry_run: true, metadata: { k: '' } });
      return JSON.stringify({
        backend: 'claude',
        prompt: 'p',
        dry_run: true,
        metadata: { k: 'x'.repeat(n - base.length) },
      });
    };
    const at = await request(t.app).post('/api/v1/prompt').set('Content-Type', 'application/json').send(pad(1024));
    expect(at.status).toBe(200);
    expectNative(
      await request(t.app).post('/api/v1/prompt').set('Content-Type', 'application/json').send(pad(1025)),
      413,
      'payload_too_large',
    );
  });

  test('413 in the OpenAI style and the Anthropic style (request_too_large)', async () => {
    const o = await request(t.app)
      .post('/openai/v1/chat/completions')
      .set('Content-Type', 'application/json')
      .send(big);
    expectOpenAI(o, 413, 'payload_too_large', 'invalid_request_error');
    expectMatchesSpec('openaiChatCompletions', 413, o.body);
    const a = await request(t.app).post('/anthropic/v1/messages').set('Content-Type', 'application/json').send(big);
    expectAnthropic(a, 413, 'request_too_large');
    expectMatchesSpec('anthropicCreateMessage', 413, a.body);
  });

  test('routing first: unknown path or wrong method with a huge body → 404/405 (body not read)', async () => {
    expectNative(
      await request(t.app).post('/api/v1/nope').set('Content-Type', 'application/json').send(big),
      404,
      'not_found',
    );
    expectNative(
      await request(t.app).put('/api/v1/prompt').set('Content-Type', 'application/json').send(big),
      405,
      'method_not_allowed',
    );
  });

  test('max_request_body_bytes: 0 → no limit', async () => {
    const p = await makeTestApp({ server: { max_request_body_bytes: 0 } });
    try {
      const huge = JSON.stringify({ backend: 'claude', prompt: 'x'.repeat(11 * 1024 * 1024) });
      const res = await request(p.app).post('/api/v1/prompt').set('Content-Type', 'application/json').send(huge);
      expectNative(res, 400, 'validation_error'); // read and validated: the prompt is too long
      expect(p.starts()).toEqual([]);
    } finally {
      await p.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('socket-level errors (§7.3, §7.8; §9 rows 46–48)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await makeTestServer({ server: { read_timeout_secs: 1 } }, { apiKeys: KEYS });
  });
  afterAll(() => s.close());
  afterEach(() => expect(s.starts()).toEqual([]));

  test('row 46: a 20 KiB header → 431 header_too_large in the path style, connection closed', async () => {
    const cookie = `Cookie: c=${'a'.repeat(20 * 1024)}\r\n`;
    const native = await rawExchange(s.url, `GET /api/v1/backends HTTP/1.1\r\nHost: x\r\n${cookie}\r\n`);
    expect(native.status).toBe(431);
    expect(native.closed).toBe(true);
    expect(native.headers['x-request-id']).toMatch(UUID);
    expect(JSON.parse(native.body)).toMatchObject({ success: false, code: 'header_too_large' });
    const openai = await rawExchange(s.url, `GET /openai/v1/models HTTP/1.1\r\nHost: x\r\n${cookie}\r\n`);
    expect(openai.status).toBe(431);
    expect(JSON.parse(openai.body)).toMatchObject({
      error: { type: 'invalid_request_error', code: 'header_too_large' },
    });
    const url = await rawExchange(
      s.url,
      `GET /anthropic/v1/models?q=${'b'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect(url.status).toBe(431);
    expect(JSON.parse(url.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(url.headers['request-id']).toBe(url.headers['x-request-id']);
  });

  test('row 48: Content-Length with Transfer-Encoding, or an invalid header line → 400 bad_request, closed', async () => {
    const both = await rawExchange(
      s.url,
      'POST /api/v1/prompt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    expect(both.status).toBe(400);
    expect(both.closed).toBe(true);
    expect(JSON.parse(both.body)).toEqual({ success: false, error: expect.any(String), code: 'bad_request' });
    const invalid = await rawExchange(
      s.url,
      'GET /openai/v1/models HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n',
    );
    expect(invalid.status).toBe(400);
    expect(invalid.closed).toBe(true);
    expect(JSON.parse(invalid.body)).toMatchObject({ error: { code: 'bad_request', type: 'invalid_request_error' } });
  });

  test('row 47: headers trickled slower than the header timeout → 408 request_timeout, closed', async () => {
    const c = await rawConnect(s.url, 15000);
    c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    const timer = setInterval(() => {
      if (!c.socket.destroyed) c.socket.write('X-Slow: a\r\n');
    }, 300);
    try {
      const res = await c.done;
      expect(res.status).toBe(408);
      expect(res.closed).toBe(true);
      expect(JSON.parse(res.body)).toMatchObject({ success: false, code: 'request_timeout' });
    } finally {
      clearInterval(timer);
    }
  });

  test('the server keeps serving', async () => {
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
describe('working-directory policy (§7.6; §9 rows 21–27)', () => {
  let t: TestApp;
  let allowed: string;
  let outside: string;
  let secret: string;
  beforeAll(async () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-wd-')));
    allowed = path.join(root, 'allowed');
    outside = path.join(root, 'outside');
    secret = path.join(root, 'allowed', 'secret');
    for (const d of [path.join(allowed, 'sub'), outside, secret, `${secret}x`]) fs.mkdirSync(d, { recursive: true });
    fs.symlinkSync(outside, path.join(allowed, 'escape'));
    fs.symlinkSync('/etc', path.join(allowed, 'etc-link'));
    fs.symlinkSync(path.join(allowed, 'sub'), path.join(allowed, 'inner-link'));
    fs.symlinkSync(allowed, path.join(root, 'allowed-link'));
    fs.writeFileSync(path.join(allowed, 'file'), 'x');
    t = await makeTestApp({
      server: {
        // The allowed prefix is given through a symlink: its real path is what counts.
        allowed_workdir_prefixes: [path.join(root, 'allowed-link'), '/etc'],
        blocked_workdir_prefixes: [secret],
        default_workdir: path.join(allowed, 'sub'),
      },
    });
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(path.dirname(allowed), { recursive: true, force: true });
  });

  const run = (workdir?: string) =>
    request(t.app)
      .post('/api/v1/prompt')
      .set('Content-Type', 'application/json')
      .send(
        JSON.stringify({
          backend: 'claude',
          prompt: 'hi',
          ephemeral: true,
          ...(workdir === undefined ? {} : { workdir }),
        }),
      );

  async function expectForbidden(workdir: string, why: 'blocked path' | 'not in allowed paths') {
    const before = t.starts().length;
    const res = await run(workdir);
    expectNative(res, 403, 'forbidden_workdir');
    expect(res.body.error).toMatch(new RegExp(`^work directory not allowed: .+ \\(${why.replace(/ /g, ' ')}\\)$`));
    expectMatchesSpec('executePrompt', 403, res.body);
    expect(t.starts().length).toBe(before);
  }

  test('rows 23, 24: built-in blocked prefixes stay blocked even when "allowed"; traversal normalised', async () => {
    for (const w of ['/etc', '/etc/ssl', '/', '/home/alice/p/../../../etc', `${allowed}/../../../../etc`])
      await expectForbidden(w, 'blocked path');
  });

  test('row 25: a symlink to /etc (inside an allowed directory) → blocked', async () => {
    await expectForbidden(path.join(allowed, 'etc-link'), 'blocked path');
  });

  test('row 26: allowed prefixes: outside → 403, symlink escape → 403, inside → runs in the real path', async () => {
    await expectForbidden(outside, 'not in allowed paths');
    await expectForbidden(path.join(allowed, 'escape'), 'not in allowed paths');
    await expectForbidden(`${allowed}/../outside`, 'not in allowed paths');
    for (const [w, real] of [
      [path.join(allowed, 'sub'), path.join(allowed, 'sub')],
      [path.join(allowed, 'inner-link'), path.join(allowed, 'sub')],
      [path.join(path.dirname(allowed), 'allowed-link', 'sub'), path.join(allowed, 'sub')],
      [`${secret}x`, `${secret}x`],
    ]) {
      const before = t.starts().length;
      const res = await run(w);
      expect(res.status).toBe(200);
      expect(t.starts().length).toBe(before + 1);
      expect(t.starts().at(-1)!.cwd).toBe(real);
    }
  });

  test('configured blocked prefixes add to the built-in list (path-boundary semantics)', async () => {
    await expectForbidden(secret, 'blocked path');
    await expectForbidden(path.join(secret, 'deeper'), 'blocked path');
  });

  test('row 27: inside $CLINVK_HOME → 403', async () => {
    const p = await makeTestApp();
    try {
      for (const w of [p.home, path.join(p.home, 'sessions')]) {
        fs.mkdirSync(w, { recursive: true });
        const res = await request(p.app)
          .post('/api/v1/prompt')
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ backend: 'claude', prompt: 'hi', workdir: w }));
        expectNative(res, 403, 'forbidden_workdir');
      }
      expect(p.starts()).toEqual([]);
    } finally {
      await p.close();
    }
  });

  test('rows 21, 22: relative, NUL, missing, regular file → 400 validation_error', async () => {
    const before = t.starts().length;
    for (const w of ['relative/dir', '/tmp/a\u0000b', path.join(allowed, 'missing'), path.join(allowed, 'file')]) {
      expectNative(await run(w), 400, 'validation_error');
    }
    expect(t.starts().length).toBe(before);
  });

  test('a refused default workdir → 403 for requests that use it', async () => {
    const p = await makeTestApp({ server: { blocked_workdir_prefixes: ['/tmp', os.tmpdir()] } });
    try {
      const res = await request(p.app)
        .post('/api/v1/prompt')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ backend: 'claude', prompt: 'hi' }));
      expectNative(res, 403, 'forbidden_workdir');
      expect(p.starts()).toEqual([]);
    } finally {
      await p.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('content type and queue limits in every style (§7.3, §7.9; §9 rows 9, 52)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ server: { max_concurrent_executions: 1, max_queued_executions: 0 } });
  });
  afterAll(() => t.close());

  const routes = [
    ['/api/v1/prompt', { backend: 'claude', prompt: 'hi', ephemeral: true }],
    ['/openai/v1/chat/completions', { model: 'claude', messages: [{ role: 'user', content: 'hi' }] }],
    ['/anthropic/v1/messages', { model: 'claude', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }],
  ] as const;

  function expectStyled(res: request.Response, p: string, status: number, code: string, compatType: string) {
    if (p.startsWith('/openai/'))
      expectOpenAI(res, status, code, compatType, code === 'validation_error' ? expect.any(String) : null);
    else if (p.startsWith('/anthropic/')) expectAnthropic(res, status, compatType);
    else expectNative(res, status, code);
  }

  test('row 9: text/plain, form-urlencoded, JSON with a latin1 charset → 415 in the path style', async () => {
    for (const [p, body] of routes) {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) {
        const res = await request(t.app).post(p).set('Content-Type', type).send(JSON.stringify(body));
        expectStyled(res, p, 415, 'unsupported_media_type', 'invalid_request_error');
      }
      // Accepted spellings (+json types, utf-8 charset, any case) reach validation.
      for (const type of ['application/json; charset=utf-8', 'application/vnd.api+json', 'APPLICATION/JSON']) {
        const res = await request(t.app).post(p).set('Content-Type', type).send('{}');
        expectStyled(res, p, 400, 'validation_error', 'invalid_request_error');
      }
    }
    expect(t.starts()).toEqual([]);
  });

  test('row 52: queue full → 429 queue_full with Retry-After in every style; nothing else runs', async () => {
    const before = t.starts().length;
    const sessions = t.sessionFiles();
    const running = request(t.app)
      .post('/api/v1/prompt')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ backend: 'codex', prompt: 'hold the slot [SLEEP:8000]', ephemeral: true }))
      .then((r) => r);
    await waitForStarts(t, before + 1);
    for (const [p, body] of routes) {
      const res = await request(t.app).post(p).set('Content-Type', 'application/json').send(JSON.stringify(body));
      expectStyled(res, p, 429, 'queue_full', 'rate_limit_error');
      expect(res.headers['retry-after']).toBe('1');
    }
    expect((await running).status).toBe(200);
    expect(t.starts().length).toBe(before + 1);
    expect(t.sessionFiles()).toEqual(sessions);
  });
});

async function waitForStarts(t: TestApp, n: number): Promise<void> {
  const end = Date.now() + 10000;
  while (t.starts().length < n) {
    if (Date.now() > end) throw new Error('the CLI did not start');
    await sleep(25);
  }
}
