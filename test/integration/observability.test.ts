import { createHash } from 'node:crypto';
/**
 * Observability (SPEC §2.7, §2.8, §7.10, §7.11): request ids and W3C trace context, the winston
 * access line (fields, one per request, level filtering, no secrets), `--log-level` /
 * `CLINVK_LOG_LEVEL` end to end, and `/metrics` (names, route-template labels, live gauges,
 * execution counters) — including that streams still flush per event with metrics on.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import request from 'supertest';
import { run } from '../../src/cli/main';
import { createLogger } from '../../src/observability/logger';
import { memoryLogger } from '../helpers/keys';
import { rawExchange } from '../helpers/raw-http';
import { makeTestApp, makeTestServer, waitFor, type TestApp } from '../helpers/server';
import { lineArrivals, ndjson, readStream } from '../helpers/stream';

const KEYS = ['obs-Key-One-123', 'obs-Key-Two-456'];
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TP = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const SESSION_ID = 'abcdef0123456789abcdef0123456789';

const accessLines = (lines: Record<string, any>[], requestId?: string) =>
  lines.filter((l) => l.message === 'request' && (requestId === undefined || l.request_id === requestId));

// ---------------------------------------------------------------------------------------------
describe('request ids (§2.7)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp(
      { server: { max_request_body_bytes: 64, rate_limit_enabled: true, rate_limit_rps: 0.01, rate_limit_burst: 100 } },
      { apiKeys: KEYS },
    );
  });
  afterAll(() => t.close());

  test('a valid incoming X-Request-Id is used as is', async () => {
    for (const id of ['abc', 'A.b_c:d-e', 'x'.repeat(128), '0']) {
      const res = await request(t.app).get('/health').set('X-Request-Id', id);
      expect(res.headers['x-request-id']).toBe(id);
    }
  });

  test('an invalid one is replaced by a fresh UUID v4', async () => {
    const seen = new Set<string>();
    for (const id of ['x'.repeat(129), 'has space', 'a/b', 'a,b', 'é', '<script>', '']) {
      const res = await request(t.app).get('/health').set('X-Request-Id', id);
      expect(res.headers['x-request-id']).toMatch(UUID4);
      seen.add(res.headers['x-request-id']);
    }
    const none = await request(t.app).get('/health');
    expect(none.headers['x-request-id']).toMatch(UUID4);
    seen.add(none.headers['x-request-id']);
    expect(seen.size).toBe(8);
  });

  test('present on 401, 404, 413 and errors of every style; `request-id` mirrors it on /anthropic/*', async () => {
    const cases = [
      request(t.app).get('/api/v1/backends'),
      request(t.app).get('/api/v1/nope').set('X-Api-Key', KEYS[0]!),
      request(t.app)
        .post('/api/v1/prompt')
        .set('X-Api-Key', KEYS[0]!)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ prompt: 'x'.repeat(100) })),
      request(t.app).get('/openai/v1/models'),
      request(t.app).get('/anthropic/v1/models'),
    ];
    const statuses: number[] = [];
    for (const req of cases) {
      const res = await req.set('X-Request-Id', 'rid-1');
      statuses.push(res.status);
      expect(res.headers['x-request-id']).toBe('rid-1');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['traceparent']).toMatch(TP);
    }
    expect(statuses).toEqual([401, 404, 413, 401, 401]);
    const a = await request(t.app).get('/anthropic/v1/models').set('X-Api-Key', KEYS[0]!).set('X-Request-Id', 'rid-2');
    expect(a.headers['request-id']).toBe('rid-2');
    const o = await request(t.app).get('/openai/v1/models').set('X-Api-Key', KEYS[0]!);
    expect(o.headers['request-id']).toBeUndefined();
  });

  test('present on 429', async () => {
    const p = await makeTestApp({ server: { rate_limit_enabled: true, rate_limit_rps: 0.01, rate_limit_burst: 1 } });
    try {
      await request(p.app).get('/health');
      const res = await request(p.app).get('/health').set('X-Request-Id', 'limited-1');
      expect(res.status).toBe(429);
      expect(res.headers['x-request-id']).toBe('limited-1');
      expect(res.headers['traceparent']).toMatch(TP);
    } finally {
      await p.close();
    }
  });

  test('present on socket-level 431 responses', async () => {
    const s = await makeTestServer();
    try {
      const res = await rawExchange(
        s.url,
        `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
      );
      expect(res.status).toBe(431);
      expect(res.headers['x-request-id']).toMatch(UUID4);
    } finally {
      await s.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('trace context (§2.7)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(() => t.close());

  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const PARENT = '00f067aa0ba902b7';

  test('a valid traceparent keeps trace id and flags, gets a new span id; tracestate echoed', async () => {
    for (const flags of ['01', '00']) {
      const res = await request(t.app)
        .get('/health')
        .set('traceparent', `00-${TRACE}-${PARENT}-${flags}`)
        .set('tracestate', 'vendor=abc,other=1');
      const m = TP.exec(res.headers['traceparent'])!;
      expect(m).not.toBeNull();
      expect(m[1]).toBe(TRACE);
      expect(m[2]).not.toBe(PARENT);
      expect(m[2]).not.toBe('0'.repeat(16));
      expect(m[3]).toBe(flags);
      expect(res.headers['tracestate']).toBe('vendor=abc,other=1');
    }
  });

  test('absent or invalid → new trace id, flags 01, tracestate not echoed, request still served', async () => {
    const invalid = [
      `00-${'0'.repeat(32)}-${PARENT}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${PARENT}-01`,
      `01-${TRACE}-${PARENT}-01`,
      `00-${TRACE.toUpperCase()}-${PARENT}-01`,
      `00-${TRACE.slice(1)}-${PARENT}-01`,
      `00-${TRACE}-${PARENT}-01-extra`,
      `00-${TRACE}-${PARENT}`,
      'garbage',
      '',
    ];
    const traceIds = new Set<string>();
    for (const tp of invalid) {
      const res = await request(t.app).get('/health').set('traceparent', tp).set('tracestate', 'vendor=abc');
      expect(res.status).toBe(200);
      const m = TP.exec(res.headers['traceparent'])!;
      expect(m).not.toBeNull();
      expect(m[1]).not.toBe(TRACE);
      expect(m[3]).toBe('01');
      expect(res.headers['tracestate']).toBeUndefined();
      traceIds.add(m[1]!);
    }
    expect(traceIds.size).toBe(invalid.length);
    const none = await request(t.app).get('/health');
    expect(none.headers['traceparent']).toMatch(TP);
  });

  test('the child CLI receives TRACEPARENT equal to the returned header', async () => {
    const res = await request(t.app)
      .post('/api/v1/prompt')
      .set('Content-Type', 'application/json')
      .set('traceparent', `00-${TRACE}-${PARENT}-01`)
      .send(JSON.stringify({ backend: 'codex', prompt: 'trace me', ephemeral: true }));
    expect(res.status).toBe(200);
    const start = t.starts().at(-1)!;
    expect(start.env?.TRACEPARENT).toBe(res.headers['traceparent']);
    expect(res.headers['traceparent'].startsWith(`00-${TRACE}-`)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
describe('access log (§7.11)', () => {
  let t: TestApp;
  let log: ReturnType<typeof memoryLogger>;
  beforeAll(async () => {
    log = memoryLogger('info');
    t = await makeTestApp({ server: { metrics_enabled: true } }, { apiKeys: KEYS, logger: log.logger });
  });
  afterAll(() => t.close());

  /** Waits for the access line of a request id (written when the response closes). */
  const lineOf = (rid: string) => waitFor(() => accessLines(log.lines(), rid)[0]);

  test('JSON lines with timestamp, level, message and the request fields', async () => {
    const res = await request(t.app)
      .get(`/api/v1/sessions/${SESSION_ID}`)
      .set('X-Api-Key', KEYS[0]!)
      .set('X-Request-Id', 'acc-1');
    expect(res.status).toBe(404);
    const line = await lineOf('acc-1');
    const [, traceId, spanId] = TP.exec(res.headers['traceparent'])!;
    expect(line).toEqual({
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      level: 'info',
      message: 'request',
      request_id: 'acc-1',
      trace_id: traceId,
      span_id: spanId,
      method: 'GET',
      route: '/api/v1/sessions/{id}',
      status: 404,
      duration_ms: expect.any(Number),
      bytes: expect.any(Number),
      client_ip: expect.stringMatching(/127\.0\.0\.1|::1/),
      api_style: 'native',
      // the key's name (an environment key is named by its hash prefix), never the key or its hash
      key: `key-${createHash('sha256').update(KEYS[0]!).digest('hex').slice(0, 8)}`,
    });
    expect(JSON.stringify(line)).not.toContain(createHash('sha256').update(KEYS[0]!).digest('hex'));
    expect(Object.keys(line).slice(0, 3)).toEqual(['timestamp', 'level', 'message']);
    expect(JSON.stringify(line)).not.toContain(SESSION_ID);
  });

  test('exactly one access line per request; unknown routes are `unmatched`; styles', async () => {
    for (const [p, rid, route, style, status] of [
      ['/api/v1/nope/123', 'acc-2', 'unmatched', 'native', 404],
      ['/openai/v1/models', 'acc-3', '/openai/v1/models', 'openai', 200],
      ['/anthropic/v1/models/x', 'acc-4', '/anthropic/v1/models/{model_id}', 'anthropic', 404],
      ['/health', 'acc-5', '/health', 'native', 200],
      ['/metrics', 'acc-6', '/metrics', 'native', 200],
      ['/docs/assets/swagger-ui.css', 'acc-9', '/docs/assets/swagger-ui.css', 'native', 200],
      ['/docs/assets/no-such-file.js', 'acc-10', 'unmatched', 'native', 404],
    ] as const) {
      const res = await request(t.app).get(p).set('X-Api-Key', KEYS[0]!).set('X-Request-Id', rid);
      expect(res.status).toBe(status);
      const line = await lineOf(rid);
      expect(line).toMatchObject({ method: 'GET', route, status, api_style: style });
    }
    await new Promise((r) => setTimeout(r, 100));
    for (const rid of ['acc-2', 'acc-3', 'acc-4', 'acc-5', 'acc-6', 'acc-9', 'acc-10'])
      expect(accessLines(log.lines(), rid)).toHaveLength(1);
  });

  test('rejected requests are logged too (401)', async () => {
    await request(t.app).post('/api/v1/prompt').set('X-Request-Id', 'acc-7').send({});
    expect(await lineOf('acc-7')).toMatchObject({ method: 'POST', status: 401 });
  });

  test('a run logs backend, session_id and exit_code', async () => {
    const res = await request(t.app)
      .post('/api/v1/prompt')
      .set('X-Api-Key', KEYS[1]!)
      .set('X-Request-Id', 'acc-8')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ backend: 'gemini', prompt: 'log me' }));
    expect(res.status).toBe(200);
    const line = await lineOf('acc-8');
    expect(line).toMatchObject({
      method: 'POST',
      route: '/api/v1/prompt',
      status: 200,
      backend: 'gemini',
      session_id: res.body.data.session_id,
      exit_code: 0,
      api_style: 'native',
    });
  });

  test('API keys and the Authorization header never reach the log (even at debug)', async () => {
    const dbg = memoryLogger('debug');
    const p = await makeTestApp({}, { apiKeys: KEYS, logger: dbg.logger });
    try {
      await request(p.app).get('/api/v1/backends').set('X-Api-Key', KEYS[0]!);
      await request(p.app).get('/api/v1/backends').set('Authorization', `Bearer ${KEYS[1]}`);
      await request(p.app).get('/api/v1/backends').set('Authorization', 'Bearer wrong-Secret-Presented');
      await request(p.app).get('/api/v1/backends').set('Authorization', 'Basic dXNlcjpwYXNz');
      await request(p.app)
        .post('/api/v1/prompt')
        .set('X-Api-Key', KEYS[0]!)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ backend: 'claude', prompt: 'hi [E500]', ephemeral: true }));
      await waitFor(() => accessLines(dbg.lines()).length >= 5);
      const text = dbg.text();
      for (const secret of [...KEYS, 'wrong-Secret-Presented', 'dXNlcjpwYXNz']) expect(text).not.toContain(secret);
      expect(text.toLowerCase()).not.toContain('authorization');
      expect(text.toLowerCase()).not.toContain('x-api-key');
    } finally {
      await p.close();
    }
  });

  test('level filtering: at warn there is no access line', async () => {
    const warn = memoryLogger('warn');
    const p = await makeTestApp({}, { logger: warn.logger });
    try {
      await request(p.app).get('/health');
      await request(p.app).get('/api/v1/nope');
      await new Promise((r) => setTimeout(r, 100));
      expect(accessLines(warn.lines())).toEqual([]);
    } finally {
      await p.close();
    }
  });

  test('a TTY gets human-readable lines, a pipe JSON', () => {
    const out = new PassThrough() as PassThrough & { isTTY?: boolean };
    out.isTTY = true;
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    createLogger({ level: 'info', stream: out }).info('request', { route: '/health', status: 200 });
    expect(text).toMatch(/^\S+Z \S*info\S* request route=\/health status=200\n$/);
    expect(() => JSON.parse(text)).toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
describe('--log-level / CLINVK_LOG_LEVEL end to end (clinvk serve)', () => {
  class Capture extends Writable {
    text = '';
    override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
      this.text += chunk.toString();
      cb();
    }
  }

  async function serve(args: string[], env: Record<string, string>) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-obs-cli-'));
    const home = path.join(tmp, 'home');
    fs.mkdirSync(home);
    const stdout = new Capture();
    const stderr = new Capture();
    const signals = new EventEmitter();
    const done = run(['serve', '--port', '0', ...args], {
      stdout,
      stderr,
      signals,
      cwd: tmp,
      env: { CLINVK_HOME: home, HOME: tmp, PATH: '/nonexistent', ...env },
    });
    const url = await waitFor(() => /listening on (http:\/\/\S+)/.exec(stdout.text)?.[1], 10000);
    return {
      url,
      stderr,
      stop: async () => {
        signals.emit('SIGTERM', 'SIGTERM');
        const code = await done;
        fs.rmSync(tmp, { recursive: true, force: true });
        return code;
      },
    };
  }

  const accessOf = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>)
      .filter((l) => l.message === 'request');

  test('default info: JSON access lines on stderr (not a TTY)', async () => {
    const s = await serve([], {});
    await fetch(`${s.url}/health`, { headers: { 'X-Request-Id': 'cli-1' } });
    await waitFor(() => accessOf(s.stderr.text).some((l) => l.request_id === 'cli-1'));
    expect(await s.stop()).toBe(0);
  });

  test('CLINVK_LOG_LEVEL=warn silences the access line; --log-level info overrides it', async () => {
    const quiet = await serve([], { CLINVK_LOG_LEVEL: 'warn' });
    await fetch(`${quiet.url}/health`, { headers: { 'X-Request-Id': 'cli-2' } });
    await new Promise((r) => setTimeout(r, 200));
    expect(await quiet.stop()).toBe(0);
    expect(accessOf(quiet.stderr.text)).toEqual([]);

    const loud = await serve(['--log-level', 'info'], { CLINVK_LOG_LEVEL: 'warn' });
    await fetch(`${loud.url}/health`, { headers: { 'X-Request-Id': 'cli-3' } });
    await waitFor(() => accessOf(loud.stderr.text).some((l) => l.request_id === 'cli-3'));
    expect(await loud.stop()).toBe(0);

    const flagQuiet = await serve(['--log-level', 'error'], {});
    await fetch(`${flagQuiet.url}/health`);
    await new Promise((r) => setTimeout(r, 200));
    expect(await flagQuiet.stop()).toBe(0);
    expect(accessOf(flagQuiet.stderr.text)).toEqual([]);
  });

  test('--log-format text / CLINVK_LOG_FORMAT pick the line format; the flag wins', async () => {
    const textLine =
      /^\d{4}-\d\d-\d\dT[\d:.]+Z info request request_id=cli-4 trace_id=[0-9a-f]{32} .*route=\/health status=200 /m;
    const text = await serve(['--log-format', 'text'], {});
    await fetch(`${text.url}/health`, { headers: { 'X-Request-Id': 'cli-4' } });
    await waitFor(() => textLine.test(text.stderr.text));
    expect(await text.stop()).toBe(0);
    expect(text.stderr.text).not.toContain('{"timestamp"');
    // Not a terminal: no colour codes in text lines.
    expect(text.stderr.text).not.toContain('\u001b[');

    const env = await serve([], { CLINVK_LOG_FORMAT: 'text' });
    await fetch(`${env.url}/health`, { headers: { 'X-Request-Id': 'cli-4' } });
    await waitFor(() => textLine.test(env.stderr.text));
    expect(await env.stop()).toBe(0);

    const flag = await serve(['--log-format', 'json'], { CLINVK_LOG_FORMAT: 'text' });
    await fetch(`${flag.url}/health`, { headers: { 'X-Request-Id': 'cli-5' } });
    await waitFor(() => accessOf(flag.stderr.text).some((l) => l.request_id === 'cli-5'));
    expect(await flag.stop()).toBe(0);
    // The shutdown line states the drain time and that a second signal forces.
    const shutdown = flag.stderr.text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => String(l.message).startsWith('shutting down'));
    expect(shutdown).toMatchObject({
      message:
        'shutting down: running requests get up to 30 s to finish; send the signal again (Ctrl+C) to stop at once',
      drain_secs: 30,
      signal: 'SIGTERM',
    });
  });
});

// ---------------------------------------------------------------------------------------------
/** Value of one sample in Prometheus text (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const p of (m[2] ?? '').match(/\w+="[^"]*"/g) ?? []) {
      const i = p.indexOf('=');
      got[p.slice(0, i)] = p.slice(i + 2, -1);
    }
    const keys = Object.keys(labels);
    if (keys.length === Object.keys(got).length && keys.every((k) => got[k] === labels[k])) return Number(m[3]);
  }
  return undefined;
}

describe('/metrics (§7.10)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp(
      { server: { metrics_enabled: true, max_concurrent_executions: 1, max_queued_executions: 1 } },
      { apiKeys: KEYS },
    );
  });
  afterAll(() => t.close());
  const metrics = async () => {
    const res = await request(t.app).get('/metrics');
    expect(res.status).toBe(200);
    return res.text;
  };

  test('Prometheus text with the spec names, buckets and default process metrics', async () => {
    const res = await request(t.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = res.text;
    for (const [name, type] of [
      ['clinvk_requests_total', 'counter'],
      ['clinvk_request_duration_seconds', 'histogram'],
      ['clinvk_backend_executions_total', 'counter'],
      ['clinvk_backend_execution_duration_seconds', 'histogram'],
      ['clinvk_backend_tokens_total', 'counter'],
      ['clinvk_executions_running', 'gauge'],
      ['clinvk_executions_queued', 'gauge'],
      ['clinvk_execution_rejections_total', 'counter'],
      ['clinvk_active_sessions', 'gauge'],
      ['clinvk_sessions_created_total', 'counter'],
      ['process_cpu_user_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
    }
    // Buckets 0.001·2^k and 0.1·2^k.
    await request(t.app).get('/health');
    const after = await metrics();
    expect(after).toContain('clinvk_request_duration_seconds_bucket{le="0.001",method="GET",path="/health"}');
    expect(after).toContain('clinvk_request_duration_seconds_bucket{le="16.384",method="GET",path="/health"}');
    expect(after).not.toContain('le="32.768"');
    expect(sample(after, 'clinvk_executions_queued')).toBe(0);
    expect(sample(after, 'clinvk_active_sessions')).toBe(0);
  });

  test('route-template labels, never raw ids; unknown paths are `unmatched`; 401/404 counted', async () => {
    const unknown = `/api/v1/nope-${Date.now()}`;
    await request(t.app).get(`/api/v1/sessions/${SESSION_ID}`).set('X-Api-Key', KEYS[0]!);
    await request(t.app).delete(`/api/v1/sessions/${SESSION_ID}`).set('X-Api-Key', KEYS[0]!);
    await request(t.app).get(unknown).set('X-Api-Key', KEYS[0]!);
    await request(t.app).get('/anthropic/v1/models/some-model-id').set('X-Api-Key', KEYS[0]!);
    await request(t.app).get('/api/v1/sessions');
    await request(t.app).get(`${unknown}-no-key`);
    await request(t.app).get('/openapi.json');
    const text = await metrics();
    expect(sample(text, 'clinvk_requests_total', { method: 'GET', path: '/api/v1/sessions/{id}', status: '404' })).toBe(
      1,
    );
    expect(
      sample(text, 'clinvk_requests_total', { method: 'DELETE', path: '/api/v1/sessions/{id}', status: '404' }),
    ).toBe(1);
    expect(
      sample(text, 'clinvk_requests_total', { method: 'GET', path: 'unmatched', status: '404' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'clinvk_requests_total', { method: 'GET', path: '/anthropic/v1/models/{model_id}', status: '404' }),
    ).toBe(1);
    // A 401 on a known path carries its route template; on an unknown path it stays `unmatched`.
    expect(sample(text, 'clinvk_requests_total', { method: 'GET', path: '/api/v1/sessions', status: '401' })).toBe(1);
    expect(
      sample(text, 'clinvk_requests_total', { method: 'GET', path: 'unmatched', status: '401' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'clinvk_requests_total', { method: 'GET', path: '/openapi.json', status: '200' })).toBe(1);
    expect(
      sample(text, 'clinvk_requests_total', { method: 'GET', path: '/metrics', status: '200' }),
    ).toBeGreaterThanOrEqual(1);
    for (const raw of [SESSION_ID, unknown, 'some-model-id']) expect(text).not.toContain(raw);
  });

  test('live gauges while runs are in flight; counters after; queue_full rejections', async () => {
    const post = (body: Record<string, unknown>) =>
      request(t.app)
        .post('/api/v1/prompt')
        .set('X-Api-Key', KEYS[0]!)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(body));
    const before = t.starts().length;
    const a = post({ backend: 'claude', prompt: 'first [SLEEP:6000]' }).then((r) => r);
    await waitFor(() => t.starts().length > before, 10000);
    const b = post({ backend: 'codex', prompt: 'second', ephemeral: true }).then((r) => r);
    const during = await waitFor(async () => {
      const text = await metrics();
      return sample(text, 'clinvk_executions_queued') === 1 ? text : undefined;
    }, 10000);
    expect(sample(during, 'clinvk_executions_running', { backend: 'claude' })).toBe(1);
    expect(sample(during, 'clinvk_active_sessions')).toBe(1);
    // Queue (1) full: rejected at admission.
    const c = await post({ backend: 'gemini', prompt: 'third', ephemeral: true });
    expect(c.status).toBe(429);
    expect(c.body.code).toBe('queue_full');
    const [ra, rb] = await Promise.all([a, b]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    const text = await waitFor(async () => {
      const m = await metrics();
      return sample(m, 'clinvk_executions_running', { backend: 'codex' }) === 0 ? m : undefined;
    });
    expect(sample(text, 'clinvk_executions_running', { backend: 'claude' })).toBe(0);
    expect(sample(text, 'clinvk_executions_queued')).toBe(0);
    expect(sample(text, 'clinvk_active_sessions')).toBe(0);
    expect(sample(text, 'clinvk_backend_executions_total', { backend: 'claude', status: 'success' })).toBe(1);
    expect(sample(text, 'clinvk_backend_executions_total', { backend: 'codex', status: 'success' })).toBe(1);
    expect(sample(text, 'clinvk_backend_execution_duration_seconds_count', { backend: 'claude' })).toBe(1);
    expect(sample(text, 'clinvk_backend_execution_duration_seconds_sum', { backend: 'claude' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(sample(text, 'clinvk_backend_tokens_total', { backend: 'claude', direction: 'input' })).toBeGreaterThan(0);
    expect(sample(text, 'clinvk_backend_tokens_total', { backend: 'claude', direction: 'output' })).toBeGreaterThan(0);
    expect(sample(text, 'clinvk_sessions_created_total')).toBe(1);
    expect(sample(text, 'clinvk_execution_rejections_total', { reason: 'queue_full' })).toBe(1);
    expect(sample(text, 'clinvk_requests_total', { method: 'POST', path: '/api/v1/prompt', status: '429' })).toBe(1);
  });

  test('failed runs count as error', async () => {
    const res = await request(t.app)
      .post('/api/v1/prompt')
      .set('X-Api-Key', KEYS[0]!)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ backend: 'gemini', prompt: 'boom [E500]', ephemeral: true }));
    expect(res.status).toBe(502);
    const text = await metrics();
    expect(sample(text, 'clinvk_backend_executions_total', { backend: 'gemini', status: 'error' })).toBe(1);
  });

  test('metrics disabled → /metrics is 404 not_found (native) and nothing is exposed', async () => {
    const p = await makeTestApp();
    try {
      const res = await request(p.app).get('/metrics');
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ success: false, code: 'not_found' });
    } finally {
      await p.close();
    }
  });

  test('a fresh registry per app instance', async () => {
    const p = await makeTestApp({ server: { metrics_enabled: true } });
    try {
      const text = (await request(p.app).get('/metrics')).text;
      expect(sample(text, 'clinvk_backend_executions_total', { backend: 'claude', status: 'success' })).toBeUndefined();
    } finally {
      await p.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('streaming with metrics on (§4.1, §7.10)', () => {
  test('a [SLOW:400] stream still delivers its events separately, and is measured until its end', async () => {
    const log = memoryLogger('info');
    const s = await makeTestServer({ server: { metrics_enabled: true } }, { logger: log.logger });
    try {
      const r = await readStream(
        `${s.url}/api/v1/prompt`,
        { backend: 'claude', prompt: 'paced [SLOW:400]', output_format: 'stream-json', ephemeral: true },
        { headers: { 'X-Request-Id': 'stream-1' } },
      );
      expect(r.status).toBe(200);
      expect(r.headers.get('x-request-id')).toBe('stream-1');
      const events = ndjson(r.body);
      expect(events.at(-1)!.type).toBe('done');
      const arrivals = lineArrivals(r.chunks);
      // Several arrival times, spread over the run: nothing was buffered until the end.
      const times = [...new Set(arrivals.map((a) => a.at))];
      expect(times.length).toBeGreaterThanOrEqual(3);
      expect(arrivals.at(-1)!.at - arrivals[0]!.at).toBeGreaterThanOrEqual(600);
      // The first event arrived well before the end.
      const firstNonInit = arrivals.find((a) => a.line.type !== 'init')!;
      expect(arrivals.at(-1)!.at - firstNonInit.at).toBeGreaterThanOrEqual(300);

      const text = await (await fetch(`${s.url}/metrics`)).text();
      expect(sample(text, 'clinvk_requests_total', { method: 'POST', path: '/api/v1/prompt', status: '200' })).toBe(1);
      expect(
        sample(text, 'clinvk_request_duration_seconds_sum', { method: 'POST', path: '/api/v1/prompt' }),
      ).toBeGreaterThanOrEqual(0.6);
      expect(sample(text, 'clinvk_backend_executions_total', { backend: 'claude', status: 'success' })).toBe(1);
      const line = await waitFor(() => accessLines(log.lines(), 'stream-1')[0]);
      expect(line).toMatchObject({ route: '/api/v1/prompt', status: 200, backend: 'claude' });
      expect(line.duration_ms).toBeGreaterThanOrEqual(600);
    } finally {
      await s.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('logs that say why', () => {
  test('401, 403 and 429 answered before routing name the route template of a known path', async () => {
    const log = memoryLogger('info');
    const open = await makeTestApp({}, { apiKeys: KEYS, logger: log.logger });
    const limited = await makeTestApp(
      { server: { rate_limit_enabled: true, rate_limit_rps: 0.01, rate_limit_burst: 1 } },
      { apiKeys: KEYS, logger: log.logger },
    );
    try {
      const send = (app: TestApp['app'], url: string, rid: string, headers: Record<string, string> = {}) => {
        const req = request(app).get(url).set('X-Request-Id', rid);
        for (const [k, v] of Object.entries(headers)) req.set(k, v);
        return req;
      };
      expect((await request(open.app).post('/api/v1/prompt').set('X-Request-Id', 'why-401')).status).toBe(401);
      expect((await send(open.app, '/api/v1/sessions/abc123', 'why-403', { Host: 'evil.example' })).status).toBe(403);
      expect((await send(open.app, '/api/v1/no-such-route', 'why-unknown-401')).status).toBe(401);
      await send(limited.app, '/health', 'why-first');
      expect((await send(limited.app, '/api/v1/sessions/abc123', 'why-429')).status).toBe(429);
      expect((await send(limited.app, '/api/v1/no-such-route', 'why-unknown-429')).status).toBe(429);
      await waitFor(() => accessLines(log.lines()).length >= 6);
      const routeOf = (rid: string) => accessLines(log.lines(), rid).map((l) => [l.status, l.route]);
      expect(routeOf('why-401')).toEqual([[401, '/api/v1/prompt']]);
      expect(routeOf('why-403')).toEqual([[403, '/api/v1/sessions/{id}']]);
      expect(routeOf('why-429')).toEqual([[429, '/api/v1/sessions/{id}']]);
      expect(routeOf('why-unknown-401')).toEqual([[401, 'unmatched']]);
      expect(routeOf('why-unknown-429')).toEqual([[429, 'unmatched']]);
    } finally {
      await open.close();
      await limited.close();
    }
  });

  test('a failed run logs at warn: error code, exit code, the CLI error text and the request id', async () => {
    const log = memoryLogger('info');
    const p = await makeTestApp({}, { logger: log.logger });
    try {
      const res = await request(p.app)
        .post('/api/v1/prompt')
        .set('Content-Type', 'application/json')
        .set('X-Request-Id', 'why-run-1')
        .send(JSON.stringify({ backend: 'claude', prompt: 'hi [E401]', ephemeral: true }));
      expect(res.status).toBe(502);
      const failed = await waitFor(() => log.lines().find((l) => l.message === 'run failed'));
      expect(failed).toEqual({
        timestamp: expect.any(String),
        level: 'warn',
        message: 'run failed',
        request_id: 'why-run-1',
        backend: 'claude',
        exit_code: 1,
        duration_ms: expect.any(Number),
        error_code: 'backend_failed',
        error: res.body.data.error,
      });
      expect(failed.error).toContain('Failed to authenticate');

      // gemini prints stack traces: the logged text is cut at 500 characters.
      await request(p.app)
        .post('/openai/v1/chat/completions')
        .set('Content-Type', 'application/json')
        .set('X-Request-Id', 'why-run-2')
        .send(JSON.stringify({ model: 'gemini', messages: [{ role: 'user', content: 'hi [E500]' }] }));
      const second = await waitFor(() =>
        log.lines().find((l) => l.message === 'run failed' && l.request_id === 'why-run-2'),
      );
      expect(second).toMatchObject({ level: 'warn', backend: 'gemini', error_code: 'backend_failed', exit_code: 244 });
      expect(second.error.length).toBeGreaterThan(0);
      expect(second.error.length).toBeLessThanOrEqual(500);
    } finally {
      await p.close();
    }
  });

  test('a timed-out run logs backend_timeout at warn', async () => {
    const log = memoryLogger('info');
    const p = await makeTestApp({ server: { request_timeout_secs: 1 } }, { logger: log.logger });
    try {
      const res = await request(p.app)
        .post('/api/v1/prompt')
        .set('Content-Type', 'application/json')
        .set('X-Request-Id', 'why-run-3')
        .send(JSON.stringify({ backend: 'codex', prompt: 'slow [SLEEP:5000]', ephemeral: true }));
      expect(res.status).toBe(504);
      const line = await waitFor(() => log.lines().find((l) => l.message === 'run failed'));
      expect(line).toMatchObject({
        level: 'warn',
        request_id: 'why-run-3',
        backend: 'codex',
        error_code: 'backend_timeout',
        exit_code: -1,
        error: 'timed out after 1 s',
      });
    } finally {
      await p.close();
    }
  });
});
