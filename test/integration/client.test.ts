/**
 * The official client (`clinvk/client`, src/client) against a real server with the fake CLIs:
 * typed JSON calls, typed error bodies by status, streams as async iterators of typed events,
 * retries only where nothing can run twice. The type-level expectations are checked by `tsc`
 * (`npm run typecheck`): this file compiles under `strict` without casts.
 */
import { createClient, isClinvkError, ClinvkError, type ClinvkClient, type Schemas } from '../../src/client';
import { reply } from '../helpers/compat';
import { expectMatchesSpec, expectValidSchema, streamEventSchemaFor } from '../helpers/contract';
import { isAlive, makeTestServer, waitFor, type TestServer } from '../helpers/server';

/** Compile-time only: `expectType<T>(value)` fails `tsc` when value is not a T. */
function expectType<T>(value: T): T {
  return value;
}

let t: TestServer;
let client: ClinvkClient;
beforeAll(async () => {
  t = await makeTestServer({ server: { max_concurrent_executions: 1, max_queued_executions: 0 } });
  client = createClient({ baseUrl: t.url, retryDelayMs: 50 });
});
afterAll(() => t.close());

test('JSON operation: the envelope data, typed', async () => {
  const result = await client.executePrompt({ backend: 'claude', prompt: 'client json' });
  expectType<Schemas['ExecutionResult']>(result);
  expect(result.output).toBe(reply('client json'));
  expect(result.exit_code).toBe(0);
  expect(result.session_id).toMatch(/^[0-9a-f]{32}$/);

  const session = await client.getSession({ id: result.session_id! });
  expectType<Schemas['SessionInfo']>(session);
  expect(session).toMatchObject({ id: result.session_id, backend: 'claude', turn_count: 1 });
  const page = await client.listSessions({ limit: 1 });
  expect(page.sessions).toHaveLength(1);
  expect(page.limit).toBe(1);
  const backends = await client.listBackends();
  expect(backends.backends.map((b) => b.name)).toEqual(['claude', 'codex', 'gemini']);
  const health = await client.healthCheck();
  expect(health.status).toBe('ok');
  expect(await client.deleteSession({ id: result.session_id! })).toEqual({ id: result.session_id, deleted: true });
});

test('streamPrompt: for await yields typed events, each valid against the contract', async () => {
  const stream = client.streamPrompt({ backend: 'claude', prompt: 'client stream', ephemeral: true });
  let text = '';
  const types: string[] = [];
  for await (const ev of stream) {
    expectValidSchema(streamEventSchemaFor('streamPrompt', 200, 'application/x-ndjson'), ev);
    types.push(ev.type);
    if (ev.type === 'message') text += ev.content.text; // narrowed by the discriminator
    if (ev.type === 'done') expectType<number>(ev.content.duration_ms);
  }
  expect(text).toBe(reply('client stream'));
  expect(types.at(-1)).toBe('done');
  const head = await stream.response;
  expect(head.status).toBe(200);
  expect(head.headers.get('content-type')).toBe('application/x-ndjson');
});

test('errors are typed by status: 400 details, 502 with the ExecutionResult, 404', async () => {
  const bad = await client.executePrompt({ backend: 'claude', prompt: ' ' }).catch((e: unknown) => e);
  expect(isClinvkError(bad, 'executePrompt')).toBe(true);
  if (!isClinvkError(bad, 'executePrompt')) return;
  expect(bad.status).toBe(400);
  expect(bad.code).toBe('validation_error');
  expect(bad.requestId).toBeTruthy();
  if (bad.response.status === 400) expect(bad.response.body.details?.[0]?.path).toBe('body.prompt');
  expectMatchesSpec('executePrompt', bad.status, bad.response.body);

  const failed = await client.executePrompt({ backend: 'codex', prompt: 'x [E401]', ephemeral: true }).catch((e) => e);
  if (!isClinvkError(failed, 'executePrompt') || failed.response.status !== 502) throw failed;
  // the failed run's result, typed as ExecutionResult (no cast, no `in` check)
  expectType<Schemas['ExecutionResult'] | undefined>(failed.response.body.data);
  expect(failed.response.body.data?.exit_code).toBe(1);
  expect(failed.code).toBe('backend_failed');

  const missing = await client.getSession({ id: 'abcdef' }).catch((e: unknown) => e);
  expect(missing).toBeInstanceOf(ClinvkError);
  expect((missing as ClinvkError).status).toBe(404);

  // before the first event a stream fails like a JSON call
  const it = client.streamPrompt({ session_id: 'abcdef', prompt: 'x' })[Symbol.asyncIterator]();
  const streamErr = await it.next().catch((e: unknown) => e);
  expect(isClinvkError(streamErr, 'streamPrompt') && streamErr.response.status).toBe(404);
});

test('call(): the same operation without throwing', async () => {
  const ok = await client.call('listBackends');
  expect(ok.ok && ok.data.backends).toHaveLength(3);
  const bad = await client.call('getSession', { id: 'abcdef' });
  expect(bad.ok).toBe(false);
  if (!bad.ok && bad.status === 404) expect(bad.body.code).toBe('session_not_found');
});

test('a failed run (x-should-retry: false) is never retried; 429 queue_full is retried after Retry-After', async () => {
  const before = t.starts().length;
  const c = createClient({ baseUrl: t.url, maxRetries: 3, retryDelayMs: 10 });
  const err = await c.executePrompt({ backend: 'claude', prompt: 'y [E500]', ephemeral: true }).catch((e) => e);
  expect(err).toBeInstanceOf(ClinvkError);
  expect((err as ClinvkError).status).toBe(502);
  expect(t.starts().length - before).toBe(1);

  // one slot, no queue: while a slow run holds the slot, the next request gets 429 queue_full
  const slow = client.executePrompt({ backend: 'claude', prompt: 'slow [SLOW:1500]', ephemeral: true });
  await waitFor(() => t.starts().some((s) => s.argv?.some((a) => a.includes('[SLOW:1500]'))), 10000);
  const noRetry = await c
    .executePrompt({ backend: 'gemini', prompt: 'q', ephemeral: true }, { maxRetries: 0 })
    .catch((e) => e);
  expect(isClinvkError(noRetry, 'executePrompt') && noRetry.code).toBe('queue_full');
  // with retries the same call waits (Retry-After) until the slot is free, then runs once
  const retried = await c.executePrompt({ backend: 'gemini', prompt: 'q', ephemeral: true }, { maxRetries: 20 });
  expect(retried.output).toBe(reply('q'));
  expect((await slow).exit_code).toBe(0);
  expect(t.starts().filter((s) => s.argv?.includes('q') || s.argv?.some((a) => a.endsWith('q'))).length).toBe(1);
}, 60000);

test('breaking out of the iteration closes the stream and the server cancels the run', async () => {
  const stream = client.streamPrompt({ backend: 'claude', prompt: 'long [SLOW:20000]', ephemeral: true });
  for await (const ev of stream) {
    if (ev.type === 'init' || ev.type === 'progress' || ev.type === 'message') break;
  }
  const run = await waitFor(() => t.starts().find((s) => s.argv?.some((a) => a.includes('[SLOW:20000]'))), 5000);
  await waitFor(() => !isAlive(run.pid), 10000);
}, 30000);

test('compatible APIs: JSON and stream methods', async () => {
  const completion = await client.openaiChatCompletions({
    model: 'claude',
    messages: [{ role: 'user', content: 'oa' }],
  });
  expect(completion.choices[0]!.message.content).toBe(reply('oa'));
  let text = '';
  for await (const chunk of client.openaiChatCompletionsStream({
    model: 'codex',
    messages: [{ role: 'user', content: 'oas' }],
  })) {
    if ('choices' in chunk) text += chunk.choices[0]?.delta.content ?? '';
    else throw new Error(chunk.error.message);
  }
  expect(text).toBe(reply('oas'));
  const types: string[] = [];
  let anthropicText = '';
  for await (const ev of client.anthropicCreateMessageStream({
    model: 'gemini',
    max_tokens: 16,
    messages: [{ role: 'user', content: 'an' }],
  })) {
    types.push(ev.type);
    if (ev.type === 'content_block_delta') anthropicText += ev.delta.text;
  }
  expect(types[0]).toBe('message_start');
  expect(types.at(-1)).toBe('message_stop');
  expect(anthropicText).toBe(reply('an'));
  const models = await client.anthropicListModels();
  expect(models.data.map((m) => m.id)).toContain('claude');
});

test('API keys: 401 without a key, the key as a bearer token', async () => {
  const s = await makeTestServer({}, { apiKeys: ['k-client-test-0123456789'] });
  try {
    const anonymous = createClient({ baseUrl: s.url, maxRetries: 0 });
    const err = await anonymous.listBackends().catch((e: unknown) => e);
    expect(isClinvkError(err, 'listBackends') && err.response.status).toBe(401);
    const keyed = createClient({ baseUrl: s.url, apiKey: 'k-client-test-0123456789' });
    expect((await keyed.listBackends()).backends).toHaveLength(3);
  } finally {
    await s.close();
  }
});

// Compile-time checks (never called): wrong inputs do not compile.
export function typeChecks(c: ClinvkClient): void {
  // @ts-expect-error streamPrompt accepts only output_format stream-json
  void c.streamPrompt({ backend: 'claude', prompt: 'x', output_format: 'json' });
  // @ts-expect-error unknown backend
  void c.executePrompt({ backend: 'gpt', prompt: 'x' });
  // @ts-expect-error getSession needs its id
  void c.getSession();
  // @ts-expect-error the JSON method of a compatible API is not a stream
  void c.openaiChatCompletions({ model: 'claude', messages: [], stream: true });
  // @ts-expect-error deprecated aliases are not offered
  void c.anthropicCreateMessageV1;
}

export function typeChecksOfErrorsAndEvents(e: ClinvkError<'executePrompt'>, ev: Schemas['NativeStreamEvent']): void {
  if (e.response.status === 502) {
    // @ts-expect-error data is an ExecutionResult (not any)
    expectType<string>(e.response.body.data);
    expectType<number | undefined>(e.response.body.data?.exit_code);
  }
  if (e.response.status === 400) {
    // @ts-expect-error a 400 carries no run result
    void e.response.body.data;
  }
  // @ts-expect-error only message/thinking events have text
  void ev.content.text;
  if (ev.type === 'error') expectType<string>(ev.content.code);
}

test('jobEvents resumes after a dropped connection: every event once, in order, without gaps', async () => {
  const job = await client.createJob({
    operation: 'prompt',
    request: { backend: 'claude', prompt: '[TOOL] [SLOW:150] resume me', ephemeral: true },
  });
  // a fetch whose first event stream breaks after two lines, as a dropped connection would
  const afters: (string | null)[] = [];
  const cutting: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const events = url.pathname.endsWith('/events');
    if (events) afters.push(url.searchParams.get('after'));
    const res = await fetch(input, init);
    if (!events || afters.length !== 1 || !res.body) return res;
    const reader = res.body.getReader();
    let lines = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        if (lines >= 2) {
          await reader.cancel();
          ctrl.error(new TypeError('terminated'));
          return;
        }
        const { done, value } = await reader.read();
        if (done) return ctrl.close();
        lines += new TextDecoder().decode(value).split('\n').length - 1;
        ctrl.enqueue(value);
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  const resuming = createClient({ baseUrl: t.url, fetch: cutting });
  const seen: number[] = [];
  let lastType = '';
  for await (const ev of resuming.jobEvents(job.id, { reconnectDelayMs: 10 })) {
    expectValidSchema(streamEventSchemaFor('streamJobEvents', 200, 'application/x-ndjson'), ev);
    seen.push(ev.sequence);
    lastType = ev.type;
  }
  expect(lastType).toBe('done');
  expect(afters.length).toBeGreaterThanOrEqual(2); // it did reconnect …
  expect(afters[0]).toBe('0');
  expect(Number(afters[1])).toBeGreaterThanOrEqual(1); // … from where it was
  const stored: number[] = [];
  for await (const ev of client.streamJobEvents({ id: job.id, follow: false })) stored.push(ev.sequence);
  expect(seen).toEqual(stored);
  expect(seen).toEqual(stored.map((_, i) => i + 1));

  // resuming from a given sequence yields exactly what follows it; an unknown job is a typed 404
  const tail: number[] = [];
  for await (const ev of client.jobEvents(job.id, { after: 2 })) tail.push(ev.sequence);
  expect(tail).toEqual(stored.slice(2));
  await expect(client.jobEvents('0'.repeat(32))[Symbol.asyncIterator]().next()).rejects.toMatchObject({
    status: 404,
  });
});
