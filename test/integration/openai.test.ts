/**
 * OpenAI-compatible API over HTTP (SPEC §3.13–§3.16, §4.3, §2.4; §9 rows 54–58, 60) against the
 * fake CLIs.
 */
import request from 'supertest';
import { expectMatchesSpec, expectValidSchema, streamEventSchemaFor } from '../helpers/contract';
import { flagValue, lastRun, modelArg, parseSse, reply, runs, withSystem } from '../helpers/compat';
import { makeTestApp, ON_CLUSTER, type TestApp } from '../helpers/server';

const CHAT = '/openai/v1/chat/completions';

async function chat(t: TestApp, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(t.app)
    .post(CHAT)
    .set(headers)
    .send(body as object);
  if (res.headers['content-type']?.startsWith('application/json'))
    expectMatchesSpec('openaiChatCompletions', res.status, res.body);
  return res;
}

/** Parses an OpenAI SSE body: every `data:` payload but `[DONE]` validated as a chunk (or error). */
function chunksOf(text: string): { frames: ReturnType<typeof parseSse>; payloads: Array<Record<string, any>> } {
  const frames = parseSse(text);
  const payloads: Array<Record<string, any>> = [];
  for (const f of frames) {
    expect(f.event).toBeUndefined();
    if (f.comment !== undefined) continue;
    if (f.data === '[DONE]') continue;
    const payload = JSON.parse(f.data!) as Record<string, any>;
    expectValidSchema(streamEventSchemaFor('openaiChatCompletions', 200, 'text/event-stream'), payload);
    if (payload.error) expectValidSchema('OpenAIErrorResponse', payload);
    else expectValidSchema('OpenAIChatCompletionChunk', payload);
    payloads.push(payload);
  }
  return { frames, payloads };
}

const user = (content: unknown) => ({ role: 'user', content });

describe('OpenAI-compatible API', () => {
  let t: TestApp;
  let created: number;
  beforeAll(async () => {
    t = await makeTestApp();
    // a model's creation time is its server's start: each API node of a cluster has its own
    created = ON_CLUSTER ? expect.any(Number) : Math.floor(t.bundle.services.status.startedAt / 1000);
  });
  afterAll(() => t.close());

  describe('models (§3.13)', () => {
    test('GET /openai/v1/models lists the enabled backends in fixed order', async () => {
      const res = await request(t.app).get('/openai/v1/models');
      expect(res.status).toBe(200);
      expectMatchesSpec('openaiListModels', 200, res.body);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.body).toEqual({
        object: 'list',
        data: [
          { id: 'claude', object: 'model', created, owned_by: 'anthropic' },
          { id: 'codex', object: 'model', created, owned_by: 'openai' },
          { id: 'gemini', object: 'model', created, owned_by: 'google' },
        ],
      });
    });

    test('GET /openai/v1/models/{model} returns one listed model', async () => {
      const res = await request(t.app).get('/openai/v1/models/codex');
      expect(res.status).toBe(200);
      expectMatchesSpec('openaiGetModel', 200, res.body);
      expect(res.body).toEqual({ id: 'codex', object: 'model', created, owned_by: 'openai' });
    });

    test('row 58: an unknown model id → 404 model_not_found in OpenAI shape', async () => {
      const res = await request(t.app).get('/openai/v1/models/gpt-unknown');
      expect(res.status).toBe(404);
      expectMatchesSpec('openaiGetModel', 404, res.body);
      expect(res.body).toEqual({
        error: {
          message: "The model 'gpt-unknown' does not exist",
          type: 'invalid_request_error',
          param: null,
          code: 'model_not_found',
        },
      });
    });

    test('HEAD /openai/v1/models answers 200 without a body', async () => {
      const res = await request(t.app).head('/openai/v1/models');
      expect(res.status).toBe(200);
      expect(res.text ?? '').toBe('');
    });
  });

  describe('chat completions, JSON (§3.14–§3.16)', () => {
    test('one user message: exact body, ephemeral run in the default workdir, no session', async () => {
      const before = runs(t).length;
      const sessionsBefore = await t.storedSessionIds();
      const res = await chat(t, { model: 'claude', messages: [user('What is 2+2?')] });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.headers['x-clinvk-ignored-params']).toBeUndefined();
      expect(res.body).toEqual({
        id: expect.stringMatching(/^chatcmpl-[A-Za-z0-9]{24}$/),
        object: 'chat.completion',
        created: expect.any(Number),
        model: 'claude',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: reply('What is 2+2?'), refusal: null },
            logprobs: null,
            finish_reason: 'stop',
          },
        ],
        usage: {
          prompt_tokens: 1650,
          completion_tokens: 6,
          total_tokens: 1656,
          prompt_tokens_details: { cached_tokens: 0 },
        },
      });
      expect(Math.abs(res.body.created - Date.now() / 1000)).toBeLessThan(5);
      expect(runs(t).length).toBe(before + 1);
      const run = lastRun(t);
      expect(run.cli).toBe('claude');
      expect(run.cwd).toBe(t.workdir);
      expect(run.argv).toEqual(['-p', '--output-format', 'json', '--no-session-persistence', '--', 'What is 2+2?']);
      expect(await t.storedSessionIds()).toEqual(sessionsBefore);
    });

    test('ids are random per response', async () => {
      const a = await chat(t, { model: 'claude', messages: [user('hi')] });
      const b = await chat(t, { model: 'claude', messages: [user('hi')] });
      expect(a.body.id).not.toBe(b.body.id);
    });

    test('codex: reasoning and cached details when the CLI reports them', async () => {
      const res = await chat(t, { model: 'gpt-5', messages: [user('hi')] });
      expect(res.status).toBe(200);
      expect(res.body.model).toBe('gpt-5');
      expect(res.body.choices[0].message.content).toBe(reply('hi'));
      expect(res.body.usage).toEqual({
        prompt_tokens: 14962,
        completion_tokens: 6,
        total_tokens: 14968,
        prompt_tokens_details: { cached_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 },
      });
      expect(modelArg(lastRun(t).argv!)).toBe('gpt-5');
    });

    test.each([
      // rule 1: a backend name → its configured default model (none here)
      ['claude', 'claude', undefined],
      ['codex', 'codex', undefined],
      ['gemini', 'gemini', undefined],
      // rule 2: <backend>/<model> and <backend>:<model> through the alias table
      ['claude/fast', 'claude', 'haiku'],
      ['claude:sonnet', 'claude', 'sonnet'],
      ['codex/gpt-5.5', 'codex', 'gpt-5.5'],
      ['gemini:gemini-2.5-flash', 'gemini', 'gemini-2.5-flash'],
      // rule 3: vendor names passed as they are
      ['claude-sonnet-4-5', 'claude', 'claude-sonnet-4-5'],
      ['Gemini-2.5-Pro', 'gemini', 'Gemini-2.5-Pro'],
      ['gpt-4o', 'codex', 'gpt-4o'],
      ['my-codex-model', 'codex', 'my-codex-model'],
      ['o3', 'codex', 'o3'],
      ['o4-mini', 'codex', 'o4-mini'],
      ['O1-preview', 'codex', 'O1-preview'],
      // rule 4: anything else → default backend, name not passed
      ['llama-3.1-70b', 'claude', undefined],
      ['o2', 'claude', undefined],
      ['openrouter/auto', 'claude', undefined],
    ])('model %j → %s with --model %j (§3.15)', async (model, backend, cliModel) => {
      const res = await chat(t, { model, messages: [user('route me')] });
      expect(res.status).toBe(200);
      expect(res.body.model).toBe(model);
      const run = lastRun(t);
      expect(run.cli).toBe(backend);
      expect(modelArg(run.argv!)).toBe(cliModel);
    });

    test('an invalid model after a backend prefix → 400 naming model, nothing spawned', async () => {
      const before = runs(t).length;
      const res = await chat(t, { model: 'claude/-x', messages: [user('hi')] });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: {
          message: 'model: invalid model name',
          type: 'invalid_request_error',
          param: 'model',
          code: 'validation_error',
        },
      });
      expect(runs(t).length).toBe(before);
    });

    test('transcript: system/developer text, tool calls and results, text parts (§3.15)', async () => {
      const messages = [
        { role: 'system', content: 'S1' },
        {
          role: 'developer',
          content: [
            { type: 'text', text: 'D1' },
            { type: 'text', text: 'D2' },
          ],
        },
        user('What is the weather?'),
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        { role: 'assistant', content: 'It is sunny.' },
        user([
          { type: 'text', text: 'Thanks' },
          { type: 'text', text: 'bye' },
        ]),
      ];
      const prompt = [
        'User: What is the weather?',
        'Assistant (tool call get_weather): {"city":"Paris"}',
        'Tool result (call_1): sunny',
        'Assistant: It is sunny.',
        'User: Thanks\nbye',
      ].join('\n\n');
      const res = await chat(t, { model: 'claude', messages });
      expect(res.status).toBe(200);
      expect(res.body.choices[0].message.content).toBe(reply(prompt));
      const argv = lastRun(t).argv!;
      expect(flagValue(argv, '--system-prompt')).toBe('S1\n\nD1\nD2');
      expect(argv[argv.length - 1]).toBe(prompt);
    });

    test('text parts of a single user message are joined with \\n and sent verbatim', async () => {
      const res = await chat(t, {
        model: 'claude',
        messages: [
          user([
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ]),
        ],
      });
      expect(res.status).toBe(200);
      expect(res.body.choices[0].message.content).toBe(reply('a\nb'));
    });

    test('codex and gemini get the system text prepended to the prompt', async () => {
      const messages = [{ role: 'system', content: 'be brief' }, user('hi')];
      for (const model of ['codex', 'gemini']) {
        const res = await chat(t, { model, messages });
        expect(res.status).toBe(200);
        expect(res.body.choices[0].message.content).toBe(reply(withSystem('be brief', 'hi')));
      }
    });

    test('row 57: unknown and ignored fields are accepted and listed in X-Clinvk-Ignored-Params', async () => {
      const res = await chat(t, {
        model: 'claude',
        messages: [user('hi')],
        foo: 1,
        tools: [{ type: 'function', function: { name: 'f' } }],
        user: 'u1',
        temperature: null,
        stream: false,
        n: 1,
        stream_options: null,
      });
      expect(res.status).toBe(200);
      expect(res.headers['x-clinvk-ignored-params']).toBe('foo,tools,user');
    });

    test('the CLI failing → 502 backend_failed in OpenAI shape, no retry', async () => {
      const res = await chat(t, { model: 'claude', messages: [user('[E400] hi')] });
      expect(res.status).toBe(502);
      expect(res.headers['x-should-retry']).toBe('false');
      expect(res.body).toEqual({
        error: {
          message: 'claude failed: API Error: 400 mock injected error 400',
          type: 'server_error',
          param: null,
          code: 'backend_failed',
        },
      });
    });
  });

  describe('bad input (§9 rows 54–56), nothing spawned', () => {
    test.each([
      ['messages: []', { model: 'claude', messages: [] }, 'messages', 'messages: must have at least 1 items'],
      ['no model', { messages: [user('hi')] }, 'model', 'model: is required'],
      ['model ""', { model: '', messages: [user('hi')] }, 'model', undefined],
      ['n: 2', { model: 'claude', messages: [user('hi')], n: 2 }, 'n', 'n: must be <= 1'],
      [
        'stream: "true"',
        { model: 'claude', messages: [user('hi')], stream: 'true' },
        'stream',
        'stream: must be boolean',
      ],
      ['role: robot', { model: 'claude', messages: [{ role: 'robot', content: 'hi' }] }, 'messages[0].role', undefined],
      [
        'only system messages',
        { model: 'claude', messages: [{ role: 'system', content: 'x' }] },
        'messages',
        'messages: no user message',
      ],
      [
        'only blank user text',
        { model: 'claude', messages: [user('  \n\t'), { role: 'assistant', content: 'x' }] },
        'messages',
        'messages: no user message',
      ],
      [
        'blank text parts',
        { model: 'claude', messages: [user([{ type: 'text', text: ' ' }])] },
        'messages',
        'messages: no user message',
      ],
      [
        'NUL in a message',
        { model: 'claude', messages: [user('a\u0000b')] },
        'messages',
        'messages: must not contain NUL characters',
      ],
    ])('row 54/56 %s → 400 validation_error', async (_name, body, param, message) => {
      const before = runs(t).length;
      const res = await chat(t, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param, code: 'validation_error' });
      if (message) expect(res.body.error.message).toBe(message);
      else expect(res.body.error.message).toMatch(new RegExp(`^${param.replace(/[[\]]/g, '\\$&')}: `));
      expect(runs(t).length).toBe(before);
    });

    test.each([
      ['image_url', { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }],
      ['input_audio', { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }],
      ['file', { type: 'file', file: { file_id: 'f1' } }],
    ])('row 55: a %s content part → 400 unsupported_content', async (kind, part) => {
      const before = runs(t).length;
      const res = await chat(t, { model: 'claude', messages: [user([{ type: 'text', text: 'look' }, part])] });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: {
          message: `messages[0].content[1]: ${kind} content is not supported (text only)`,
          type: 'invalid_request_error',
          param: 'messages[0].content[1]',
          code: 'unsupported_content',
        },
      });
      expect(runs(t).length).toBe(before);
    });
  });

  describe('streaming (§4.3)', () => {
    test('codex: role chunk, content chunk, finish chunk, [DONE]; SSE headers', async () => {
      const res = await chat(t, { model: 'codex', messages: [user('hi')], stream: true });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['x-accel-buffering']).toBe('no');
      expect(res.headers.connection).toBe('keep-alive');
      expect(res.headers['content-length']).toBeUndefined();
      expect(res.headers['x-request-id']).toBeDefined();
      const { frames, payloads } = chunksOf(res.text);
      expect(frames[frames.length - 1]).toEqual({ data: '[DONE]' });
      const [first] = payloads;
      const common = { id: first!.id, object: 'chat.completion.chunk', created: first!.created, model: 'codex' };
      expect(first!.id).toMatch(/^chatcmpl-[A-Za-z0-9]{24}$/);
      expect(payloads).toEqual([
        {
          ...common,
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
        },
        { ...common, choices: [{ index: 0, delta: { content: reply('hi') }, logprobs: null, finish_reason: null }] },
        { ...common, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] },
      ]);
      expect(frames).toHaveLength(4);
    });

    test('claude partial deltas are forwarded in order; include_usage adds usage null and a usage chunk', async () => {
      const res = await chat(t, {
        model: 'claude/sonnet',
        messages: [user('hi')],
        stream: true,
        stream_options: { include_usage: true },
      });
      expect(res.status).toBe(200);
      const { payloads } = chunksOf(res.text);
      for (const p of payloads.slice(0, -1)) expect(p.usage).toBeNull();
      const text = payloads.map((p) => p.choices[0]?.delta?.content ?? '').join('');
      expect(text).toBe(reply('hi'));
      expect(payloads.filter((p) => p.choices[0]?.delta?.content).length).toBeGreaterThanOrEqual(2);
      const finish = payloads[payloads.length - 2]!;
      expect(finish.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
      expect(payloads[payloads.length - 1]).toEqual({
        id: payloads[0]!.id,
        object: 'chat.completion.chunk',
        created: payloads[0]!.created,
        model: 'claude/sonnet',
        choices: [],
        usage: { prompt_tokens: 1651, completion_tokens: 6, total_tokens: 1657 },
      });
      expect(res.text.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(modelArg(lastRun(t).argv!)).toBe('sonnet');
    });

    test('a failed run ends with one error frame, no finish chunk and no [DONE]', async () => {
      const res = await chat(t, { model: 'codex', messages: [user('[E401] hi')], stream: true });
      expect(res.status).toBe(200);
      const { frames, payloads } = chunksOf(res.text);
      expect(frames.some((f) => f.data === '[DONE]')).toBe(false);
      const last = payloads[payloads.length - 1]!;
      expect(last).toEqual({
        error: {
          message: expect.stringMatching(/^codex failed: .*401/),
          type: 'server_error',
          param: null,
          code: 'backend_failed',
        },
      });
      expect(payloads.filter((p) => p.error)).toHaveLength(1);
      expect(payloads.some((p) => p.choices?.[0]?.finish_reason === 'stop')).toBe(false);
    });

    test('validation errors before spawn are ordinary HTTP errors', async () => {
      const res = await chat(t, { model: 'claude', messages: [{ role: 'system', content: 'x' }], stream: true });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.body.error.code).toBe('validation_error');
    });
  });
});

describe('OpenAI-compatible API with special configuration', () => {
  test('disabled backend: not listed, 404 on lookup, 503 backend_unavailable on use', async () => {
    const t = await makeTestApp({ backends: { gemini: { enabled: false } } });
    try {
      const list = await request(t.app).get('/openai/v1/models');
      expect(list.body.data.map((m: { id: string }) => m.id)).toEqual(['claude', 'codex']);
      const one = await request(t.app).get('/openai/v1/models/gemini');
      expect(one.status).toBe(404);
      expect(one.body.error.code).toBe('model_not_found');
      const res = await chat(t, { model: 'gemini-2.5-pro', messages: [user('hi')] });
      expect(res.status).toBe(503);
      expect(res.headers['x-should-retry']).toBe('false');
      expect(res.body.error).toMatchObject({ type: 'server_error', param: null, code: 'backend_unavailable' });
      expect(t.starts()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  test('default_backend decides rule 4', async () => {
    const t = await makeTestApp({ default_backend: 'codex' });
    try {
      const res = await chat(t, { model: 'mistral-large', messages: [user('hi')] });
      expect(res.status).toBe(200);
      expect(lastRun(t).cli).toBe('codex');
      expect(modelArg(lastRun(t).argv!)).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  test('row 60: the flattened transcript over server.max_prompt_bytes → 400 naming messages', async () => {
    const t = await makeTestApp({ server: { max_prompt_bytes: 1000 } });
    try {
      const expected = {
        error: {
          message: 'messages: exceeds 1000 bytes after flattening',
          type: 'invalid_request_error',
          param: 'messages',
          code: 'validation_error',
        },
      };
      // two messages that fit alone but not flattened
      let res = await chat(t, {
        model: 'claude',
        messages: [user('a'.repeat(600)), { role: 'assistant', content: 'ok' }, user('b'.repeat(380))],
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(expected);
      // codex: the prepended system text counts
      res = await chat(t, {
        model: 'codex',
        messages: [{ role: 'system', content: 'be brief' }, user('c'.repeat(990))],
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(expected);
      // exactly at the limit is fine
      res = await chat(t, { model: 'claude', messages: [user('d'.repeat(1000))] });
      expect(res.status).toBe(200);
      expect(runs(t)).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  test('usage is estimated as ceil(bytes/4) when the CLI reports none (dry-run configuration)', async () => {
    const t = await makeTestApp({ unified_flags: { dry_run: true } });
    try {
      const res = await chat(t, { model: 'codex', messages: [user('héllo wörld')] });
      expect(res.status).toBe(200);
      const output: string = res.body.choices[0].message.content;
      expect(output).toMatch(/^Would execute: /);
      const prompt = Math.ceil(Buffer.byteLength('héllo wörld') / 4);
      const completion = Math.ceil(Buffer.byteLength(output) / 4);
      expect(res.body.usage).toEqual({
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
      });

      const stream = await chat(t, {
        model: 'codex',
        messages: [user('héllo wörld')],
        stream: true,
        stream_options: { include_usage: true },
      });
      const { payloads } = chunksOf(stream.text);
      expect(payloads[payloads.length - 1]!.usage).toEqual({
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
      });
    } finally {
      await t.close();
    }
  });

  test('heartbeat: `: keep-alive` comment frames while the CLI is quiet', async () => {
    const t = await makeTestApp({ server: { stream_heartbeat_secs: 1 } });
    try {
      const res = await chat(t, { model: 'codex', messages: [user('[SLEEP:1600] hi')], stream: true });
      expect(res.status).toBe(200);
      const { frames } = chunksOf(res.text);
      expect(frames.filter((f) => f.comment === 'keep-alive').length).toBeGreaterThanOrEqual(1);
      expect(res.text).toContain('\n\n: keep-alive\n\n');
      expect(frames[frames.length - 1]).toEqual({ data: '[DONE]' });
    } finally {
      await t.close();
    }
  });

  test('timeout: 504 backend_timeout (JSON) and a backend_timeout error frame (stream)', async () => {
    const t = await makeTestApp({ server: { request_timeout_secs: 1 } });
    try {
      const res = await chat(t, { model: 'codex', messages: [user('[SLEEP:5000] hi')] });
      expect(res.status).toBe(504);
      expect(res.body.error).toMatchObject({ type: 'server_error', code: 'backend_timeout', param: null });
      const stream = await chat(t, { model: 'codex', messages: [user('[SLEEP:5000] hi')], stream: true });
      expect(stream.status).toBe(200);
      const { payloads } = chunksOf(stream.text);
      expect(payloads[payloads.length - 1]!.error).toMatchObject({
        type: 'server_error',
        code: 'backend_timeout',
        param: null,
      });
    } finally {
      await t.close();
    }
  });
});
