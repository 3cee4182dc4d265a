/**
 * The official SDKs, unmodified, against a real listening server (SPEC §4.3, §4.4, §3.17):
 * `openai` 6.49.0 with base URL `<server>/openai/v1`, `@anthropic-ai/sdk` 1.14.0 with base URLs
 * `<server>/anthropic` and `<server>/anthropic/v1`. Retries are off (`maxRetries: 0`).
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { reply, runs, withSystem } from '../helpers/compat';
import { makeTestServer, type TestServer } from '../helpers/server';

let srv: TestServer;
let openai: OpenAI;

beforeAll(async () => {
  srv = await makeTestServer();
  openai = new OpenAI({ baseURL: `${srv.url}/openai/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => srv.close());

describe('openai SDK', () => {
  test('chat.completions.create (non-stream)', async () => {
    const res = await openai.chat.completions.create({
      model: 'claude',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'What is 2+2?' },
      ],
    });
    expect(res.id).toMatch(/^chatcmpl-[A-Za-z0-9]{24}$/);
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('claude');
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0]!.message).toEqual({ role: 'assistant', content: reply('What is 2+2?'), refusal: null });
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.usage).toMatchObject({ prompt_tokens: 1650, completion_tokens: 6, total_tokens: 1656 });
  });

  test('withResponse exposes X-Clinvk-Ignored-Params', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'codex', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, max_tokens: 50 })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe(reply('hi'));
    expect(response.headers.get('x-clinvk-ignored-params')).toBe('max_tokens,temperature');
  });

  test('models.list and models.retrieve; unknown model → NotFoundError', async () => {
    const ids: string[] = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids).toEqual(['claude', 'codex', 'gemini']);
    const m = await openai.models.retrieve('gemini');
    expect(m).toMatchObject({ id: 'gemini', object: 'model', owned_by: 'google' });
    const err = await openai.models.retrieve('gpt-unknown').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_found');
  });

  test('create({stream: true}) iteration', async () => {
    const stream = await openai.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    const finishes: Array<string | null> = [];
    let role: string | undefined;
    for await (const chunk of stream) {
      expect(chunk.model).toBe('claude-sonnet-4-5');
      const choice = chunk.choices[0]!;
      role ??= choice.delta.role;
      text += choice.delta.content ?? '';
      finishes.push(choice.finish_reason);
    }
    expect(role).toBe('assistant');
    expect(text).toBe(reply('hi'));
    expect(finishes[finishes.length - 1]).toBe('stop');
  });

  test('chat.completions.stream(...).finalChatCompletion()', async () => {
    const stream = openai.chat.completions.stream({ model: 'gemini', messages: [{ role: 'user', content: 'hi' }] });
    const deltas: string[] = [];
    stream.on('content', (delta) => deltas.push(delta));
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe(reply('hi'));
    expect(final.choices[0]!.finish_reason).toBe('stop');
    expect(deltas.join('')).toBe(reply('hi'));
  });

  test('stream_options.include_usage → a final usage chunk with empty choices', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-5',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 14962, completion_tokens: 6, total_tokens: 14968 });
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
  });

  test('a failed run → APIError 502 (non-stream) without retries', async () => {
    const before = runs(srv).length;
    const err = await openai.chat.completions
      .create({ model: 'claude', messages: [{ role: 'user', content: '[E400] hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const apiErr = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.status).toBe(502);
    expect(apiErr.code).toBe('backend_failed');
    expect(apiErr.type).toBe('server_error');
    expect(apiErr.message).toContain('claude failed: API Error: 400 mock injected error 400');
    expect(runs(srv).length).toBe(before + 1);
  });

  test('a failed run while streaming → APIError from the iterator', async () => {
    const stream = await openai.chat.completions.create({
      model: 'codex',
      messages: [{ role: 'user', content: '[E500] hi' }],
      stream: true,
    });
    const err = await (async () => {
      for await (const _chunk of stream) {
        // drain
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('backend_failed');
    const final = await openai.chat.completions
      .stream({ model: 'codex', messages: [{ role: 'user', content: '[E500] hi' }] })
      .finalChatCompletion()
      .catch((e: unknown) => e);
    expect(final).toBeInstanceOf(OpenAI.APIError);
  });

  test('bad requests → BadRequestError with param', async () => {
    const err = await openai.chat.completions
      .create({
        model: 'claude',
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.invalid/x.png' } }] },
        ],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('unsupported_content');
    expect((err as InstanceType<typeof OpenAI.APIError>).param).toBe('messages[0].content[0]');
    const noUser = await openai.chat.completions
      .create({ model: 'claude', messages: [{ role: 'system', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(noUser).toBeInstanceOf(OpenAI.BadRequestError);
    expect((noUser as InstanceType<typeof OpenAI.APIError>).param).toBe('messages');
  });
});

describe.each([
  ['<server>/anthropic', '/anthropic'],
  ['<server>/anthropic/v1', '/anthropic/v1'],
])('@anthropic-ai/sdk with base URL %s', (_label, suffix) => {
  let anthropic: Anthropic;
  beforeAll(() => {
    anthropic = new Anthropic({ baseURL: `${srv.url}${suffix}`, apiKey: 'unused', maxRetries: 0 });
  });

  test('messages.create (non-stream)', async () => {
    const msg = await anthropic.messages.create({
      model: 'codex',
      max_tokens: 1024,
      system: 'be brief',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(msg.id).toMatch(/^msg_[A-Za-z0-9]{24}$/);
    expect(msg.type).toBe('message');
    expect(msg.role).toBe('assistant');
    expect(msg.model).toBe('codex');
    expect(msg.content).toEqual([{ type: 'text', text: reply(withSystem('be brief', 'hi')) }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.stop_sequence).toBeNull();
    expect(msg.usage).toMatchObject({ input_tokens: 14962, output_tokens: 6 });
  });

  test('messages.create({stream: true}) iteration', async () => {
    const stream = await anthropic.messages.create({
      model: 'claude',
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const types: string[] = [];
    let text = '';
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    }
    expect(types[0]).toBe('message_start');
    expect(types[1]).toBe('content_block_start');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(text).toBe(reply('hi'));
  });

  test("messages.stream() with on('text'), finalMessage() and finalText()", async () => {
    const stream = anthropic.messages.stream({
      model: 'gemini',
      max_tokens: 1024,
      messages: [
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Hi!' },
        { role: 'user', content: 'How are you?' },
      ],
    });
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    const final = await stream.finalMessage();
    const expected = reply('User: Hello\n\nAssistant: Hi!\n\nUser: How are you?');
    expect(final.content).toHaveLength(1);
    expect(final.content[0]).toMatchObject({ type: 'text', text: expected });
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(deltas.join('')).toBe(expected);
    expect(await stream.finalText()).toBe(expected);
  });

  test('models.list and models.retrieve', async () => {
    const ids: string[] = [];
    for await (const m of anthropic.models.list()) ids.push(m.id);
    expect(ids).toEqual(['claude', 'codex', 'gemini']);
    const m = await anthropic.models.retrieve('claude');
    expect(m).toMatchObject({ id: 'claude', type: 'model', display_name: 'Claude Code (claude CLI)' });
    const err = await anthropic.models.retrieve('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
  });

  test('a failed run → APIError 502, also from a stream', async () => {
    const err = await anthropic.messages
      .create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: '[E400] hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(502);
    expect((err as InstanceType<typeof Anthropic.APIError>).message).toContain(
      'claude failed: API Error: 400 mock injected error 400',
    );
    const streamErr = await anthropic.messages
      .stream({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: '[E400] hi' }] })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(streamErr).toBeInstanceOf(Anthropic.APIError);
    expect(String((streamErr as Error).message)).toContain('claude failed');
  });

  test('a bad request → BadRequestError', async () => {
    const err = await anthropic.messages
      .create({ model: 'claude', max_tokens: 0, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as InstanceType<typeof Anthropic.APIError>).message).toContain('max_tokens: must be >= 1');
  });
});

describe('streams are flushed as they happen (SPEC §4.1)', () => {
  /** Reads a streamed body with fetch, timestamping every chunk. */
  async function timedChunks(path: string, body: unknown): Promise<Array<{ at: number; text: string }>> {
    const start = Date.now();
    const res = await fetch(`${srv.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    const out: Array<{ at: number; text: string }> = [];
    const decoder = new TextDecoder();
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      out.push({ at: Date.now() - start, text: decoder.decode(value, { stream: true }) });
    }
    return out;
  }

  test('OpenAI: the role chunk arrives right after spawn, long before the answer', async () => {
    const chunks = await timedChunks('/openai/v1/chat/completions', {
      model: 'codex',
      messages: [{ role: 'user', content: '[SLEEP:1500] hi' }],
      stream: true,
    });
    expect(chunks[0]!.text).toContain('"delta":{"role":"assistant","content":""}');
    const last = chunks[chunks.length - 1]!;
    expect(last.text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(last.at - chunks[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  test('Anthropic: message_start, content_block_start and ping arrive right after spawn', async () => {
    const chunks = await timedChunks('/anthropic/v1/messages', {
      model: 'codex',
      max_tokens: 10,
      messages: [{ role: 'user', content: '[SLEEP:1500] hi' }],
      stream: true,
    });
    const early = chunks
      .filter((c) => c.at - chunks[0]!.at < 500)
      .map((c) => c.text)
      .join('');
    expect(early).toMatch(/^event: message_start\n[\s\S]*event: content_block_start\n[\s\S]*event: ping\n/);
    expect(early).not.toContain('content_block_delta');
    const last = chunks[chunks.length - 1]!;
    expect(last.text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n')).toBe(true);
    expect(last.at - chunks[0]!.at).toBeGreaterThanOrEqual(1000);
  });
});
