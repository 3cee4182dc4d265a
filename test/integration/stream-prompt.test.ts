/**
 * POST /api/v1/prompt/stream (streamPrompt): the documented NDJSON stream operation. Every event is
 * validated against the schema the contract names in `x-clinvk-stream-event`; failures before the
 * spawn are ordinary JSON errors of the operation, failures after it are the terminal event (never a
 * 502). The `output_format: stream-json` case of executePrompt keeps streaming the same events.
 */
import { expectMatchesSpec, expectStreamMatchesSpec } from '../helpers/contract';
import { reply } from '../helpers/compat';
import { makeTestServer, type TestServer } from '../helpers/server';
import { readStream } from '../helpers/stream';

let t: TestServer;
beforeAll(async () => {
  // JSON as the configured default output format: the stream operation streams anyway
  t = await makeTestServer({ output: { format: 'json' } });
});
afterAll(() => t.close());

const STREAM = () => `${t.url}/api/v1/prompt/stream`;

async function post(path: string, body: unknown) {
  return readStream(`${t.url}${path}`, body);
}

test('streams NDJSON without output_format; every line matches the named event schema', async () => {
  const r = await readStream(STREAM(), { backend: 'claude', prompt: 'stream op' });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/x-ndjson');
  expect(r.headers.get('x-request-id')).toBeTruthy();
  const sessionId = r.headers.get('x-clinvk-session-id');
  expect(sessionId).toMatch(/^[0-9a-f]{32}$/);
  const parsed = expectStreamMatchesSpec('streamPrompt', r.status, r.headers.get('content-type')!, r.body);
  expect(parsed.schema).toBe('NativeStreamEvent');
  const events = parsed.events.map((e) => e.data);
  expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
  expect(events.every((e) => e.session_id === sessionId)).toBe(true);
  expect(events.at(-1)).toMatchObject({ type: 'done', content: { exit_code: 0 } });
  const text = events
    .filter((e) => e.type === 'message')
    .map((e) => e.content.text as string)
    .join('');
  expect(text).toBe(reply('stream op'));
});

test('output_format stream-json is accepted; any other output_format is a 400 before anything runs', async () => {
  const ok = await readStream(STREAM(), {
    backend: 'codex',
    prompt: 'x',
    output_format: 'stream-json',
    ephemeral: true,
  });
  expect(ok.status).toBe(200);
  expectStreamMatchesSpec('streamPrompt', 200, ok.headers.get('content-type')!, ok.body);
  const runs = t.starts().length;
  for (const format of ['json', 'text', 'default']) {
    const r = await post('/api/v1/prompt/stream', { backend: 'claude', prompt: 'x', output_format: format });
    expect(r.status).toBe(400);
    const body = JSON.parse(r.body);
    expectMatchesSpec('streamPrompt', 400, body);
    expect(body).toMatchObject({ code: 'validation_error' });
    expect(body.details).toContainEqual({ path: 'body.output_format', message: 'must be one of: stream-json' });
  }
  expect(t.starts().length).toBe(runs);
});

test('errors before the spawn are JSON errors of streamPrompt; a failed run is the terminal error event', async () => {
  const missing = await post('/api/v1/prompt/stream', { session_id: 'abcdef', prompt: 'x' });
  expect(missing.status).toBe(404);
  expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
  expectMatchesSpec('streamPrompt', 404, JSON.parse(missing.body));

  const failed = await readStream(STREAM(), { backend: 'claude', prompt: 'x [E401]', ephemeral: true });
  expect(failed.status).toBe(200);
  const events = expectStreamMatchesSpec('streamPrompt', 200, 'application/x-ndjson', failed.body).events;
  expect(events.at(-1)!.data).toMatchObject({ type: 'error', content: { code: 'backend_failed' } });
});

test('a dry run streams the command as a message and done', async () => {
  const r = await readStream(STREAM(), { backend: 'gemini', prompt: 'x', dry_run: true });
  expect(r.status).toBe(200);
  const events = expectStreamMatchesSpec('streamPrompt', 200, 'application/x-ndjson', r.body).events.map((e) => e.data);
  expect(events.map((e) => e.type)).toEqual(['message', 'done']);
  expect(events[0]!.content.text).toMatch(/^Would execute: /);
});

test('executePrompt with output_format stream-json still streams the same events (compatibility)', async () => {
  const r = await readStream(`${t.url}/api/v1/prompt`, {
    backend: 'gemini',
    prompt: 'compat',
    output_format: 'stream-json',
    ephemeral: true,
  });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/x-ndjson');
  const events = expectStreamMatchesSpec('executePrompt', 200, 'application/x-ndjson', r.body).events;
  expect(events.at(-1)!.data.type).toBe('done');
  // and without it, JSON as configured
  const json = await post('/api/v1/prompt', { backend: 'gemini', prompt: 'compat', ephemeral: true });
  expect(json.status).toBe(200);
  expectMatchesSpec('executePrompt', 200, JSON.parse(json.body));
});
