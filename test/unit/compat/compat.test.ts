/** Pure parts of the compatible APIs: model routing, transcripts, ids, usage, SSE encoders. */
import type { SchemaOpenAiChatMessage as OpenAIChatMessage } from '../../../generated/types';
import { AnthropicStreamEncoder } from '../../../src/compat/anthropic/stream-encoder';
import {
  anthropicMessageId,
  chatCompletionId,
  compatUsage,
  estimateTokens,
  ignoredParams,
  ignoredParamsHeaderValue,
  randomBase62,
  resolveCompatModel,
} from '../../../src/compat/models';
import { OpenAIStreamEncoder } from '../../../src/compat/openai/stream-encoder';
import { anthropicTranscript, openaiTranscript } from '../../../src/compat/transcript';
import { ApiError } from '../../../src/errors';
import type { NativeEvent } from '../../../src/execution/types';
import { expectValidSchema } from '../../helpers/contract';

function ev(type: NativeEvent['type'], content: Record<string, unknown> = {}): NativeEvent {
  return { type, backend: 'claude', timestamp: '2026-11-26T19:21:46.308Z', sequence: 1, content };
}

function thrown(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    return e as ApiError;
  }
  throw new Error('did not throw');
}

describe('resolveCompatModel', () => {
  test.each([
    ['claude', { backend: 'claude' }],
    ['gemini/pro', { backend: 'gemini', model: 'pro' }],
    ['codex:o3', { backend: 'codex', model: 'o3' }],
    ['anthropic/claude-3-opus', { backend: 'claude', model: 'anthropic/claude-3-opus' }],
    ['GPT-4.1', { backend: 'codex', model: 'GPT-4.1' }],
    ['o1', { backend: 'codex', model: 'o1' }],
    ['o10', { backend: 'gemini' }],
    ['claudegemini', { backend: 'claude', model: 'claudegemini' }],
    ['Claude', { backend: 'claude', model: 'Claude' }],
  ])('%s', (m, route) => {
    expect(resolveCompatModel(m, 'gemini')).toEqual(route);
  });

  test.each([
    ['claude/', 'claude/'],
    ['codex:-x', 'codex:-x'],
    ['gemini/a b', 'gemini/a b'],
    ['a 204-character gpt name', `gpt-${'x'.repeat(200)}`],
    ['a 201-character model after claude/', `claude/${'x'.repeat(201)}`],
  ])('%s → validation_error on body.model', (_label, m) => {
    const err = thrown(() => resolveCompatModel(m, 'claude'));
    expect(err.code).toBe('validation_error');
    expect(err.details).toEqual([{ path: 'body.model', message: 'invalid model name' }]);
  });
});

describe('ignoredParams', () => {
  test('OpenAI keeps model, messages, stream, stream_options, n', () => {
    expect(
      ignoredParams(
        { model: 'm', messages: [], stream: true, stream_options: {}, n: 1, zeta: 1, alpha: 0, nul: null, seed: 3 },
        'openai',
      ),
    ).toEqual(['alpha', 'seed', 'zeta']);
  });
  test('Anthropic keeps model, max_tokens, messages, system, stream', () => {
    expect(
      ignoredParams(
        { model: 'm', max_tokens: 1, messages: [], system: 's', stream: false, top_k: 2, n: 1 },
        'anthropic',
      ),
    ).toEqual(['n', 'top_k']);
  });
});

describe('ids and usage', () => {
  test('ids have the documented shapes and are unique', () => {
    const ids = new Set(Array.from({ length: 200 }, () => chatCompletionId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^chatcmpl-[A-Za-z0-9]{24}$/);
    expect(anthropicMessageId()).toMatch(/^msg_[A-Za-z0-9]{24}$/);
    const sample = randomBase62(20000);
    expect(new Set(sample).size).toBe(62);
  });

  test('estimates: ceil(utf8 bytes / 4); reported usage wins', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcde')).toBe(2);
    expect(estimateTokens('é')).toBe(1);
    expect(compatUsage(undefined, 'abcd', 'abcdefghi')).toEqual({ input_tokens: 1, output_tokens: 3 });
    expect(compatUsage({ input_tokens: 5, output_tokens: 0, cached_tokens: 2 }, 'x', 'y')).toEqual({
      input_tokens: 5,
      output_tokens: 0,
      cached_tokens: 2,
    });
  });
});

describe('openaiTranscript', () => {
  const u = (content: OpenAIChatMessage['content']): OpenAIChatMessage => ({ role: 'user', content });

  test('one user message is verbatim; system-only text does not count as a turn', () => {
    expect(openaiTranscript([{ role: 'developer', content: 'D' }, u('  hi  ')])).toEqual({
      systemPrompt: 'D',
      prompt: '  hi  ',
    });
    expect(openaiTranscript([u('hi')])).toEqual({ prompt: 'hi' });
  });

  test('legacy function role and function_call, assistant with only tool calls', () => {
    const t = openaiTranscript([
      u('q'),
      { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } },
      { role: 'function', name: 'f', content: 'r' },
      {
        role: 'assistant',
        content: [{ type: 'text', text: 'a' }],
        tool_calls: [{ function: { name: 'g', arguments: '[1]' } }],
      },
    ]);
    expect(t.prompt).toBe(
      'User: q\n\nAssistant (tool call f): {}\n\nTool result (f): r\n\nAssistant: a\n\nAssistant (tool call g): [1]',
    );
  });

  test('empty system messages are skipped when joining', () => {
    expect(
      openaiTranscript([
        { role: 'system', content: '' },
        { role: 'system', content: 'A' },
        { role: 'system', content: 'B' },
        u('x'),
      ]).systemPrompt,
    ).toBe('A\n\nB');
  });

  test('a lone surrogate anywhere → validation_error naming messages', () => {
    const err = thrown(() => openaiTranscript([u('a\ud800')]));
    expect(err.code).toBe('validation_error');
    expect(err.details![0]!.path).toBe('body.messages');
  });
});

describe('anthropicTranscript', () => {
  test('a single user message with a tool_result is not verbatim', () => {
    const t = anthropicTranscript({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: 'out' },
            { type: 'text', text: 'go on' },
          ],
        },
      ],
    });
    expect(t.prompt).toBe('Tool result (t1): out\n\nUser: go on');
  });

  test('system string, empty system → none', () => {
    expect(anthropicTranscript({ system: '', messages: [{ role: 'user', content: 'hi' }] })).toEqual({ prompt: 'hi' });
    expect(anthropicTranscript({ system: 'S', messages: [{ role: 'user', content: 'hi' }] })).toEqual({
      systemPrompt: 'S',
      prompt: 'hi',
    });
  });

  test('role system → validation_error; unknown block → unsupported_content', () => {
    const bad = thrown(() => anthropicTranscript({ messages: [{ role: 'system' as 'user', content: 'x' }] }));
    expect(bad.code).toBe('validation_error');
    expect(bad.details![0]!.path).toBe('body.messages[0].role');
    const unknown = thrown(() =>
      anthropicTranscript({ messages: [{ role: 'user', content: [{ type: 'search_result' }] }] }),
    );
    expect(unknown.code).toBe('unsupported_content');
  });
});

describe('OpenAIStreamEncoder', () => {
  const opts = {
    id: 'chatcmpl-AAAAAAAAAAAAAAAAAAAAAAAA',
    created: 1,
    model: 'm',
    includeUsage: false,
    promptText: 'abcd',
  };
  const payload = (frame: string) => JSON.parse(frame.slice('data: '.length)) as Record<string, any>;

  test('ignores non-text events and empty messages; heartbeat is a comment', () => {
    const e = new OpenAIStreamEncoder(opts);
    expectValidSchema('OpenAIChatCompletionChunk', payload(e.start()));
    expect(e.encode(ev('init'))).toBeNull();
    expect(e.encode(ev('thinking', { text: 't' }))).toBeNull();
    expect(e.encode(ev('tool_use', { tool_name: 'x' }))).toBeNull();
    expect(e.encode(ev('token_usage', { input_tokens: 1, output_tokens: 1 }))).toBeNull();
    expect(e.encode(ev('progress', { stage: 'requesting' }))).toBeNull();
    expect(e.encode(ev('message', { text: '', role: 'assistant' }))).toBeNull();
    expect(e.encode(ev('progress', { stage: 'heartbeat' }))).toBe(': keep-alive\n\n');
  });

  test('nothing after the terminal event; stream codes map to server_error', () => {
    const e = new OpenAIStreamEncoder(opts);
    const frame = e.encode(
      ev('error', { message: 'backend output line exceeded 10 bytes', code: 'stream_line_too_long', exit_code: -1 }),
    )!;
    expect(payload(frame)).toEqual({
      error: {
        message: 'backend output line exceeded 10 bytes',
        type: 'server_error',
        param: null,
        code: 'stream_line_too_long',
      },
    });
    expectValidSchema('OpenAIErrorResponse', payload(frame));
    expect(e.encode(ev('message', { text: 'late', role: 'assistant' }))).toBeNull();
    expect(e.encode(ev('done', { exit_code: 0 }))).toBeNull();
  });

  test('usage chunk estimated from the streamed text', () => {
    const e = new OpenAIStreamEncoder({ ...opts, includeUsage: true });
    e.start();
    e.encode(ev('message', { text: 'abcdefgh', role: 'assistant' }));
    const frames = e
      .encode(ev('done', { exit_code: 0, duration_ms: 1 }))!
      .split('\n\n')
      .filter(Boolean);
    expect(frames).toHaveLength(3);
    expect(payload(frames[1]!).usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
    expect(frames[2]).toBe('data: [DONE]');
  });
});

describe('AnthropicStreamEncoder', () => {
  const opts = { id: 'msg_AAAAAAAAAAAAAAAAAAAAAAAA', model: 'm', promptText: 'abcdefgh' };

  test('heartbeat → ping; shutting_down → overloaded_error; nothing after the terminal event', () => {
    const e = new AnthropicStreamEncoder(opts);
    expect(e.encode(ev('progress', { stage: 'heartbeat' }))).toBe('event: ping\ndata: {"type":"ping"}\n\n');
    expect(e.encode(ev('thinking', { text: 'x' }))).toBeNull();
    const frame = e.encode(ev('error', { message: 'server shutting down', code: 'shutting_down', exit_code: -1 }))!;
    expect(frame).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"server shutting down"}}\n\n',
    );
    expect(e.encode(ev('done', { exit_code: 0 }))).toBeNull();
  });

  test('done without CLI usage → estimated usage', () => {
    const e = new AnthropicStreamEncoder(opts);
    e.encode(ev('message', { text: 'abc', role: 'assistant' }));
    const frames = e.encode(ev('done', { exit_code: 0 }))!;
    expect(frames).toContain('"usage":{"input_tokens":2,"output_tokens":1}');
  });
});

describe('ignoredParamsHeaderValue', () => {
  it('lists token names and counts the others', () => {
    expect(ignoredParamsHeaderValue([])).toBeUndefined();
    expect(ignoredParamsHeaderValue(['a', 'b\r\nX: y', 'ü', 'c'])).toBe('a,c,(2 not shown)');
    expect(ignoredParamsHeaderValue(['x y'])).toBe('(1 not shown)');
  });
});
