/**
 * Anthropic-compatible API over HTTP (SPEC §3.15, §3.17–§3.20, §4.4, §2.5; §9 rows 55–60)
 * against the fake CLIs.
 */
import request from 'supertest';
import { expectMatchesSpec, expectValidSchema, streamEventSchemaFor } from '../helpers/contract';
import { flagValue, lastRun, modelArg, parseSse, reply, runs, withSystem } from '../helpers/compat';
import { makeTestApp, ON_CLUSTER, type TestApp } from '../helpers/server';

const MESSAGES = '/anthropic/v1/messages';
const MESSAGES_V1 = '/anthropic/v1/v1/messages';

async function create(t: TestApp, body: unknown, opts: { path?: string; headers?: Record<string, string> } = {}) {
  const path = opts.path ?? MESSAGES;
  const res = await request(t.app)
    .post(path)
    .set(opts.headers ?? {})
    .send(body as object);
  if (res.headers['content-type']?.startsWith('application/json')) {
    expectMatchesSpec(path === MESSAGES ? 'anthropicCreateMessage' : 'anthropicCreateMessageV1', res.status, res.body);
  }
  return res;
}

/** Parses an Anthropic SSE body: every frame has `event:` = data.type and validates. */
function eventsOf(text: string): Array<Record<string, any>> {
  return parseSse(text).map((f) => {
    expect(f.comment).toBeUndefined();
    const data = JSON.parse(f.data!) as Record<string, any>;
    expect(f.event).toBe(data.type);
    expectValidSchema(streamEventSchemaFor('anthropicCreateMessage', 200, 'text/event-stream'), data);
    return data;
  });
}

const user = (content: unknown) => ({ role: 'user', content });
const msg = (messages: unknown[], extra: Record<string, unknown> = {}) => ({
  model: 'claude',
  max_tokens: 1024,
  messages,
  ...extra,
});

describe('Anthropic-compatible API', () => {
  let t: TestApp;
  let createdAt: string;
  beforeAll(async () => {
    t = await makeTestApp();
    // a model's creation time is its server's start: each API node of a cluster has its own
    createdAt = ON_CLUSTER ? expect.any(String) : new Date(t.bundle.services.status.startedAt).toISOString();
  });
  afterAll(() => t.close());

  describe('models (§3.20)', () => {
    test.each([
      ['/anthropic/v1/models', 'anthropicListModels'],
      ['/anthropic/v1/v1/models', 'anthropicListModelsV1'],
    ])('GET %s lists the enabled backends', async (path, op) => {
      const res = await request(t.app).get(path);
      expect(res.status).toBe(200);
      expectMatchesSpec(op, 200, res.body);
      expect(res.headers['request-id']).toBe(res.headers['x-request-id']);
      expect(res.body).toEqual({
        data: [
          { type: 'model', id: 'claude', display_name: 'Claude Code (claude CLI)', created_at: createdAt },
          { type: 'model', id: 'codex', display_name: 'Codex CLI (codex)', created_at: createdAt },
          { type: 'model', id: 'gemini', display_name: 'Gemini CLI (gemini)', created_at: createdAt },
        ],
        has_more: false,
        first_id: 'claude',
        last_id: 'gemini',
      });
    });

    test.each([
      ['/anthropic/v1/models/gemini', 'anthropicGetModel'],
      ['/anthropic/v1/v1/models/gemini', 'anthropicGetModelV1'],
    ])('GET %s returns one model', async (path, op) => {
      const res = await request(t.app).get(path);
      expect(res.status).toBe(200);
      expectMatchesSpec(op, 200, res.body);
      expect(res.body).toEqual({
        type: 'model',
        id: 'gemini',
        display_name: 'Gemini CLI (gemini)',
        created_at: createdAt,
      });
    });

    test.each([
      ['/anthropic/v1/models/x', 'anthropicGetModel'],
      ['/anthropic/v1/v1/models/claude-opus-4', 'anthropicGetModelV1'],
    ])('row 58: GET %s → 404 not_found_error', async (path, op) => {
      const res = await request(t.app).get(path);
      expect(res.status).toBe(404);
      expectMatchesSpec(op, 404, res.body);
      expect(res.body).toEqual({
        type: 'error',
        error: { type: 'not_found_error', message: `model: ${path.split('/').pop()}` },
      });
      expect(res.headers['request-id']).toBe(res.headers['x-request-id']);
    });
  });

  describe('messages, JSON (§3.18, §3.19)', () => {
    test.each([[MESSAGES], [MESSAGES_V1]])('%s: exact body, one text block, ephemeral run', async (path) => {
      const sessionsBefore = await t.storedSessionIds();
      const res = await create(t, msg([user('What is 2+2?')]), {
        path,
        headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'x' },
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.headers['request-id']).toBe(res.headers['x-request-id']);
      expect(res.headers['x-clinvk-ignored-params']).toBeUndefined();
      expect(res.body).toEqual({
        id: expect.stringMatching(/^msg_[A-Za-z0-9]{24}$/),
        type: 'message',
        role: 'assistant',
        model: 'claude',
        content: [{ type: 'text', text: reply('What is 2+2?') }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 1650, output_tokens: 6 },
      });
      const run = lastRun(t);
      expect(run.argv).toEqual(['-p', '--output-format', 'json', '--no-session-persistence', '--', 'What is 2+2?']);
      expect(run.cwd).toBe(t.workdir);
      expect(await t.storedSessionIds()).toEqual(sessionsBefore);
    });

    test('transcript: system blocks, thinking dropped, tool_use and tool_result rendered (§3.15)', async () => {
      const res = await create(
        t,
        msg(
          [
            user([{ type: 'text', text: 'What is the weather?' }]),
            {
              role: 'assistant',
              content: [
                { type: 'thinking', thinking: 'hmm', signature: 'sig' },
                { type: 'redacted_thinking', data: 'xxx' },
                { type: 'text', text: 'Let me check.' },
                { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
              ],
            },
            user([
              {
                type: 'tool_result',
                tool_use_id: 'toolu_1',
                content: [
                  { type: 'text', text: 'sunny' },
                  { type: 'text', text: '22C' },
                ],
              },
              { type: 'text', text: 'Thanks' },
              { type: 'text', text: 'bye' },
            ]),
          ],
          {
            system: [
              { type: 'text', text: 'S1' },
              { type: 'text', text: 'S2' },
            ],
          },
        ),
      );
      const prompt = [
        'User: What is the weather?',
        'Assistant: Let me check.',
        'Assistant (tool call get_weather): {"city":"Paris"}',
        'Tool result (toolu_1): sunny\n22C',
        'User: Thanks\nbye',
      ].join('\n\n');
      expect(res.status).toBe(200);
      expect(res.body.content).toEqual([{ type: 'text', text: reply(prompt) }]);
      const argv = lastRun(t).argv!;
      expect(flagValue(argv, '--system-prompt')).toBe('S1\n\nS2');
      expect(argv[argv.length - 1]).toBe(prompt);
    });

    test('a system string reaches codex prepended; the model is routed (§3.15)', async () => {
      const res = await create(t, { ...msg([user('hi')], { system: 'be brief' }), model: 'codex:gpt-5.5' });
      expect(res.status).toBe(200);
      expect(res.body.model).toBe('codex:gpt-5.5');
      expect(res.body.content[0].text).toBe(reply(withSystem('be brief', 'hi')));
      expect(res.body.usage).toEqual({ input_tokens: 6895, output_tokens: 6 });
      expect(lastRun(t).cli).toBe('codex');
      expect(modelArg(lastRun(t).argv!)).toBe('gpt-5.5');
    });

    test('a conversation of plain strings', async () => {
      const res = await create(t, msg([user('Hello'), { role: 'assistant', content: 'Hi!' }, user('How are you?')]));
      expect(res.status).toBe(200);
      expect(res.body.content[0].text).toBe(reply('User: Hello\n\nAssistant: Hi!\n\nUser: How are you?'));
    });

    test('row 57: unknown and ignored fields → 200 with X-Clinvk-Ignored-Params', async () => {
      const res = await create(
        t,
        msg([user('hi')], {
          foo: 1,
          tools: [{ name: 't', input_schema: { type: 'object' } }],
          metadata: { user_id: 'u' },
          temperature: null,
          stream: false,
          system: 'x',
        }),
      );
      expect(res.status).toBe(200);
      expect(res.headers['x-clinvk-ignored-params']).toBe('foo,metadata,tools');
    });

    test('the CLI failing → 502 api_error, no retry', async () => {
      const res = await create(t, msg([user('[E400] hi')]));
      expect(res.status).toBe(502);
      expect(res.headers['x-should-retry']).toBe('false');
      expect(res.body).toEqual({
        type: 'error',
        error: { type: 'api_error', message: 'claude failed: API Error: 400 mock injected error 400' },
      });
    });
  });

  describe('bad input, nothing spawned', () => {
    test.each([
      ['row 59: max_tokens missing', { model: 'claude', messages: [user('hi')] }, 'max_tokens: is required'],
      ['row 59: max_tokens 0', msg([user('hi')], { max_tokens: 0 }), 'max_tokens: must be >= 1'],
      [
        'row 56: role system',
        msg([{ role: 'system', content: 'x' }, user('hi')]),
        'messages[0].role: must be one of: user, assistant',
      ],
      [
        'no user text',
        msg([user([{ type: 'tool_result', tool_use_id: 't', content: 'x' }])]),
        'messages: no user message',
      ],
      ['blank user text', msg([user('   ')]), 'messages: no user message'],
      ['messages []', msg([]), 'messages: must have at least 1 items'],
      ['model missing', { max_tokens: 1, messages: [user('hi')] }, 'model: is required'],
      ['model flag injection', msg([user('hi')], { model: '--yolo' }), 'model: invalid model name'],
    ])('%s → 400 invalid_request_error', async (_name, body, message) => {
      const before = runs(t).length;
      const res = await create(t, body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message } });
      expect(runs(t).length).toBe(before);
    });

    test.each([
      ['image', { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }],
      ['document', { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }],
    ])('row 55: an %s block → 400 unsupported_content', async (kind, block) => {
      const before = runs(t).length;
      const res = await create(t, msg([user([{ type: 'text', text: 'look' }, block])]));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message: `messages[0].content[1]: ${kind} content is not supported (text only)`,
        },
      });
      expect(runs(t).length).toBe(before);
    });

    test('an image inside a tool_result → 400 unsupported_content', async () => {
      const res = await create(
        t,
        msg([
          user([
            { type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: {} }] },
            { type: 'text', text: 'hi' },
          ]),
        ]),
      );
      expect(res.status).toBe(400);
      expect(res.body.error.message).toBe(
        'messages[0].content[0].content[0]: image content is not supported (text only)',
      );
    });

    test('other paths under /anthropic/ → 404 not_found_error', async () => {
      const res = await request(t.app)
        .post('/anthropic/v1/messages/count_tokens')
        .send(msg([user('hi')]));
      expect(res.status).toBe(404);
      expect(res.body.type).toBe('error');
      expect(res.body.error.type).toBe('not_found_error');
    });
  });

  describe('streaming (§4.4)', () => {
    test('codex: exact frame order, SSE headers', async () => {
      const res = await create(t, msg([user('hi')], { model: 'codex', stream: true }));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['x-accel-buffering']).toBe('no');
      expect(res.headers.connection).toBe('keep-alive');
      expect(res.headers['request-id']).toBe(res.headers['x-request-id']);
      const events = eventsOf(res.text);
      const id = events[0]!.message.id;
      expect(id).toMatch(/^msg_[A-Za-z0-9]{24}$/);
      expect(events).toEqual([
        {
          type: 'message_start',
          message: {
            id,
            type: 'message',
            role: 'assistant',
            model: 'codex',
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 0, output_tokens: 0 },
          },
        },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'ping' },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: reply('hi') } },
        { type: 'content_block_stop', index: 0 },
        {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { input_tokens: 14962, output_tokens: 6 },
        },
        { type: 'message_stop' },
      ]);
    });

    test('claude (v1 alias): partial deltas in order, thinking/tool events not forwarded', async () => {
      const res = await create(t, msg([user('[TOOL] hi')], { stream: true }), { path: MESSAGES_V1 });
      expect(res.status).toBe(200);
      const events = eventsOf(res.text);
      expect(events.map((e) => e.type).filter((ty) => ty !== 'content_block_delta')).toEqual([
        'message_start',
        'content_block_start',
        'ping',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ]);
      const text = events
        .filter((e) => e.type === 'content_block_delta')
        .map((e) => e.delta.text)
        .join('');
      expect(text).toContain(reply('[TOOL] hi'));
      expect(events.every((e) => e.index === undefined || e.index === 0)).toBe(true);
    });

    test('a failed run ends with one error frame and nothing after it', async () => {
      const res = await create(t, msg([user('[E400] hi')], { model: 'gemini', stream: true }));
      expect(res.status).toBe(200);
      const events = eventsOf(res.text);
      expect(events.map((e) => e.type)).toEqual(['message_start', 'content_block_start', 'ping', 'error']);
      expect(events[3]).toEqual({
        type: 'error',
        error: { type: 'api_error', message: expect.stringMatching(/^gemini failed: .*mock injected error 400/) },
      });
    });

    test('errors before spawn are ordinary HTTP errors', async () => {
      const res = await create(t, msg([user([{ type: 'image', source: {} }])], { stream: true }));
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    });
  });
});

describe('Anthropic-compatible API with special configuration', () => {
  test('disabled backend: not listed, 404 on lookup, 503 api_error on use', async () => {
    const t = await makeTestApp({ backends: { codex: { enabled: false } } });
    try {
      const list = await request(t.app).get('/anthropic/v1/models');
      expect(list.body.data.map((m: { id: string }) => m.id)).toEqual(['claude', 'gemini']);
      expect(list.body).toMatchObject({ first_id: 'claude', last_id: 'gemini', has_more: false });
      expect((await request(t.app).get('/anthropic/v1/models/codex')).status).toBe(404);
      const res = await create(t, msg([user('hi')], { model: 'gpt-5' }));
      expect(res.status).toBe(503);
      expect(res.headers['x-should-retry']).toBe('false');
      expect(res.body.error.type).toBe('api_error');
      expect(t.starts()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  test('no enabled backend: empty list with null ids', async () => {
    const off = { enabled: false };
    const t = await makeTestApp({ backends: { claude: off, codex: off, gemini: off } });
    try {
      const res = await request(t.app).get('/anthropic/v1/models');
      expect(res.status).toBe(200);
      expectMatchesSpec('anthropicListModels', 200, res.body);
      expect(res.body).toEqual({ data: [], has_more: false, first_id: null, last_id: null });
    } finally {
      await t.close();
    }
  });

  test('row 60: the flattened transcript over server.max_prompt_bytes → 400 naming messages', async () => {
    const t = await makeTestApp({ server: { max_prompt_bytes: 1000 } });
    try {
      const expected = {
        type: 'error',
        error: { type: 'invalid_request_error', message: 'messages: exceeds 1000 bytes after flattening' },
      };
      let res = await create(
        t,
        msg([user('a'.repeat(500)), { role: 'assistant', content: 'ok' }, user('b'.repeat(480))]),
      );
      expect(res.status).toBe(400);
      expect(res.body).toEqual(expected);
      res = await create(t, msg([user('c'.repeat(990))], { model: 'gemini', system: 'be brief' }));
      expect(res.status).toBe(400);
      expect(res.body).toEqual(expected);
      expect(t.starts()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  test('heartbeat: extra ping frames; estimated usage in message_delta when the CLI reports none', async () => {
    const t = await makeTestApp({ server: { stream_heartbeat_secs: 1 } });
    try {
      const res = await create(t, msg([user('[SLEEP:1600] hi')], { model: 'codex', stream: true }));
      expect(res.status).toBe(200);
      const events = eventsOf(res.text);
      expect(events.filter((e) => e.type === 'ping').length).toBeGreaterThanOrEqual(2);
      expect(events[events.length - 1]).toEqual({ type: 'message_stop' });
    } finally {
      await t.close();
    }
    const d = await makeTestApp({ unified_flags: { dry_run: true } });
    try {
      const res = await create(d, msg([user('héllo')], { model: 'gemini', stream: true }));
      const events = eventsOf(res.text);
      const text = events
        .filter((e) => e.type === 'content_block_delta')
        .map((e) => e.delta.text)
        .join('');
      expect(text).toMatch(/^Would execute: /);
      const delta = events.find((e) => e.type === 'message_delta')!;
      expect(delta.usage).toEqual({
        input_tokens: Math.ceil(Buffer.byteLength('héllo') / 4),
        output_tokens: Math.ceil(Buffer.byteLength(text) / 4),
      });
      expect(runs(d)).toEqual([]);
    } finally {
      await d.close();
    }
  });
});
