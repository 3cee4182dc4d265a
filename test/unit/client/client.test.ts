/**
 * The official client's request building, retry rules and stream readers, with an injected fetch
 * (the behaviour against the real server is in test/integration/client.test.ts).
 */
import { createClient, ClinvkConnectionError, ClinvkError, ClinvkHttpError } from '../../../src/client';
import { readNdjson, readSse } from '../../../src/client/streams';

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

function fakeFetch(answers: Array<Response | Error>): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const impl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    seen.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string>) },
      body: init?.body as string | undefined,
    });
    const next = answers.shift();
    if (!next) throw new Error('no more answers');
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch: impl as typeof fetch, seen };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const nativeError = (status: number, code: string, headers: Record<string, string> = {}) =>
  json(status, { success: false, error: `some ${code}`, code }, headers);
const refused = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
const reset = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });

const RESULT = { backend: 'claude', exit_code: 0, duration_ms: 1, output: 'hi' };

describe('requests', () => {
  it('builds paths, queries, headers and bodies from the operation table', async () => {
    const f = fakeFetch([
      json(200, { success: true, data: RESULT }),
      json(200, { success: true, data: { sessions: [], total: 0, limit: 5, offset: 0 } }),
      json(200, { success: true, data: { id: 'ab', deleted: true } }),
    ]);
    const c = createClient({ baseUrl: 'http://h:1/prefix/', apiKey: 'k', headers: { 'x-a': '1' }, fetch: f.fetch });
    expect(await c.executePrompt({ backend: 'claude', prompt: 'hi' }, { headers: { 'X-Request-Id': 'r1' } })).toEqual(
      RESULT,
    );
    await c.listSessions({ backend: 'codex', limit: 5 });
    await c.deleteSession({ id: 'a/b' });
    expect(f.seen).toEqual([
      {
        url: 'http://h:1/prefix/api/v1/prompt',
        method: 'POST',
        headers: {
          accept: 'application/json',
          authorization: 'Bearer k',
          'x-a': '1',
          'X-Request-Id': 'r1',
          'content-type': 'application/json',
        },
        body: JSON.stringify({ backend: 'claude', prompt: 'hi' }),
      },
      expect.objectContaining({ url: 'http://h:1/prefix/api/v1/sessions?backend=codex&limit=5', method: 'GET' }),
      expect.objectContaining({ url: 'http://h:1/prefix/api/v1/sessions/a%2Fb', method: 'DELETE' }),
    ]);
  });

  it('compatible APIs: the JSON method sends stream false, the Stream method stream true and accepts SSE', async () => {
    const f = fakeFetch([
      json(200, { id: 'x' }),
      new Response('data: {"a":1}\n\ndata: [DONE]\n\n', { headers: { 'content-type': 'text/event-stream' } }),
    ]);
    const c = createClient({ baseUrl: 'http://h', fetch: f.fetch });
    await c.openaiChatCompletions({ model: 'claude', messages: [{ role: 'user', content: 'x' }] });
    const events: unknown[] = [];
    for await (const ev of c.openaiChatCompletionsStream({ model: 'claude', messages: [] })) events.push(ev);
    expect(events).toEqual([{ a: 1 }]);
    expect(JSON.parse(f.seen[0]!.body!).stream).toBe(false);
    expect(JSON.parse(f.seen[1]!.body!).stream).toBe(true);
    expect(f.seen[1]!.headers.accept).toBe('text/event-stream');
  });

  it('error bodies become typed ClinvkErrors; other bodies ClinvkHttpError', async () => {
    const f = fakeFetch([
      json(
        400,
        {
          error: {
            message: 'messages: is required',
            type: 'invalid_request_error',
            param: 'messages',
            code: 'validation_error',
          },
        },
        { 'x-request-id': 'req-1' },
      ),
      new Response('<html>bad gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }),
    ]);
    const c = createClient({ baseUrl: 'http://h', fetch: f.fetch, maxRetries: 0 });
    const e1 = await c.openaiChatCompletions({ model: 'claude', messages: [] }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ClinvkError);
    expect(e1).toMatchObject({ status: 400, code: 'validation_error', requestId: 'req-1' });
    const e2 = await c.listBackends().catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(ClinvkHttpError);
    expect(e2).toMatchObject({ status: 502, body: '<html>bad gateway</html>' });
  });
});

describe('retry rules', () => {
  const client = (answers: Array<Response | Error>, maxRetries = 2) => {
    const f = fakeFetch(answers);
    return { c: createClient({ baseUrl: 'http://h', fetch: f.fetch, maxRetries, retryDelayMs: 1 }), seen: f.seen };
  };

  it('never retries an answer with x-should-retry: false, even a GET', async () => {
    const { c, seen } = client([nativeError(503, 'backend_unavailable', { 'x-should-retry': 'false' })]);
    await expect(c.listBackends()).rejects.toMatchObject({ status: 503 });
    expect(seen).toHaveLength(1);
  });

  it('never retries a failed run (502) nor a 5xx of a POST', async () => {
    const { c, seen } = client([nativeError(502, 'backend_failed', { 'x-should-retry': 'false' })]);
    await expect(c.executePrompt({ backend: 'claude', prompt: 'x' })).rejects.toMatchObject({ status: 502 });
    const other = client([nativeError(500, 'internal_error')]);
    await expect(other.c.executeParallel({ tasks: [{ backend: 'claude', prompt: 'x' }] })).rejects.toMatchObject({
      status: 500,
    });
    expect(seen.length + other.seen.length).toBe(2);
  });

  it('retries 429 and 408 of any operation, waiting Retry-After', async () => {
    const { c, seen } = client([
      nativeError(429, 'queue_full', { 'retry-after': '0' }),
      nativeError(408, 'request_timeout'),
      json(200, { success: true, data: RESULT }),
    ]);
    expect(await c.executePrompt({ backend: 'claude', prompt: 'x' })).toEqual(RESULT);
    expect(seen).toHaveLength(3);
    expect(seen[2]!.body).toBe(seen[0]!.body);
  });

  it('retries 5xx and network errors of GET requests up to maxRetries', async () => {
    const { c, seen } = client([
      reset(),
      nativeError(503, 'session_store_unavailable'),
      nativeError(500, 'internal_error'),
    ]);
    const err = await c.listSessions().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 500 });
    expect(seen).toHaveLength(3);
  });

  it('a POST is retried after a refused connection only (it never reached the server)', async () => {
    const a = client([refused(), json(200, { success: true, data: RESULT })]);
    expect(await a.c.executePrompt({ backend: 'claude', prompt: 'x' })).toEqual(RESULT);
    const b = client([reset()]);
    await expect(b.c.executePrompt({ backend: 'claude', prompt: 'x' })).rejects.toBeInstanceOf(ClinvkConnectionError);
    expect([a.seen.length, b.seen.length]).toEqual([2, 1]);
  });

  it('x-should-retry: true is honoured', async () => {
    const { c, seen } = client([nativeError(503, 'shutting_down', { 'x-should-retry': 'true' }), json(200, { ok: 1 })]);
    await c.executeCompare({ backends: ['claude'], prompt: 'x' });
    expect(seen).toHaveLength(2);
  });
});

describe('stream readers', () => {
  const body = (parts: string[]) =>
    new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (const p of parts) ctrl.enqueue(new TextEncoder().encode(p));
        ctrl.close();
      },
    });
  const all = async <T>(it: AsyncIterable<T>) => {
    const out: T[] = [];
    for await (const x of it) out.push(x);
    return out;
  };

  it('NDJSON: lines split across chunks, multi-byte characters split across chunks', async () => {
    const text = '{"a":"é"}\n\n{"b":2}\n{"c":3}';
    const bytes = new TextEncoder().encode(text);
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (const b of bytes) ctrl.enqueue(new Uint8Array([b]));
        ctrl.close();
      },
    });
    expect((await all(readNdjson(stream))).map((e) => e.data)).toEqual([{ a: 'é' }, { b: 2 }, { c: 3 }]);
  });

  it('SSE: comments skipped, ids kept, multi-line data joined, [DONE] ends', async () => {
    const events = await all(
      readSse(
        body([
          ': keep-alive\n\nid: 3\nevent: message\nda',
          'ta: {"x":\ndata: 1}\n\ndata: [DONE]\n\ndata: {"late":1}\n\n',
        ]),
      ),
    );
    expect(events).toEqual([{ id: '3', data: { x: 1 } }]);
  });
});
