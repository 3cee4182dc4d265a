import { claudeAdapter } from '../../../src/backends/claude';
import type { ParsedResult, ProcessExit } from '../../../src/backends/types';
import { exitCode, feed, OK, pair, sample } from './fixtures';

const SID_7D = '7d256075-0f66-4df5-85ec-711fe84e3f23';

function parse(name: string, exit: ProcessExit): ParsedResult {
  const { stdout, stderr } = pair('claude', name);
  return claudeAdapter.parseResult(stdout, stderr, exit);
}

describe('claude parseResult — successes (SPEC §5.4)', () => {
  it.each<[string, string, string, number, number, string]>([
    ['json', 'MOCK-REPLY: 8f434346648f', SID_7D, 1650, 6, 'claude-opus-4-8[1m]'],
    ['continue-json', 'MOCK-REPLY: 8f34c97ef7fb', SID_7D, 1755, 6, 'claude-opus-4-8'],
    ['resume-json', 'MOCK-REPLY: 7af6b839ac78', SID_7D, 1687, 6, 'claude-opus-4-8'],
    [
      'session-id-json',
      'MOCK-REPLY: c47500ffbf02',
      'df36e133-ba45-45be-8121-0aa9bde613e7',
      1651,
      6,
      'claude-opus-4-8[1m]',
    ],
    ['flags-json', 'MOCK-REPLY: afa753502992', '22d3fef6-70de-40da-80da-ed2b60c67b4a', 1706, 6, 'claude-sonnet-5'],
    ['tool-json', 'MOCK-REPLY: 7f564e3d0b87', '950684ee-6883-4bdc-bbb9-9ab7bd7d88eb', 1737, 16, 'claude-opus-4-8[1m]'],
    [
      'json-verbose',
      'MOCK-REPLY: d34a026ad0bf',
      'f2d1ed35-0c1d-4561-9166-fc5a26cb9c47',
      1652,
      6,
      'claude-opus-4-8[1m]',
    ],
  ])('%s', (name, output, backendSessionId, input, outputTokens, model) => {
    expect(parse(name, OK)).toEqual({
      success: true,
      output,
      backendSessionId,
      usage: { input_tokens: input, output_tokens: outputTokens, cached_tokens: 0 },
      model,
    });
  });
});

describe('claude parseResult — failures', () => {
  const zero = { input_tokens: 0, output_tokens: 0, cached_tokens: 0 };

  it.each<[string, string, string]>([
    ['error400-json', 'API Error: 400 mock injected error 400', '257678f3-f479-4dcb-8e4f-e6689bcdaf43'],
    [
      'error401-json',
      'Failed to authenticate. API Error: 401 mock injected error 401',
      '3b246710-3c9e-4d31-bd89-223ce9ef2781',
    ],
    [
      'error500-json',
      'API Error: 500 mock injected error 500. This is a server-side issue, usually temporary — try again in a moment. If it persists, check your inference gateway (127.0.0.1:18555).',
      '1b5ebfaf-5b64-453a-be80-0fe5121efdf5',
    ],
  ])('%s: is_error with subtype "success" → result text is the error', (name, text, backendSessionId) => {
    expect(parse(name, exitCode(1))).toEqual({
      success: false,
      output: '',
      error: text,
      backendSessionId,
      usage: zero,
    });
  });

  it('is_error true is a failure even with exit 0', () => {
    const r = parse('error400-json', OK);
    expect(r.success).toBe(false);
    expect(r.error).toBe('API Error: 400 mock injected error 400');
  });

  it('max-turns-json: errors[] joined', () => {
    expect(parse('max-turns-json', exitCode(1))).toEqual({
      success: false,
      output: '',
      error: 'Reached maximum number of turns (1)',
      backendSessionId: '35f9f5fc-8b25-4db8-80fe-bb186b681794',
      usage: { input_tokens: 10, output_tokens: 10, cached_tokens: 0 },
      model: 'claude-opus-4-8[1m]',
    });
  });

  it('several errors are joined with "; ", and subtype is the next fallback', () => {
    const line = (extra: string): string =>
      `{"type":"result","subtype":"error_during_execution","is_error":true,"session_id":"s"${extra}}`;
    expect(claudeAdapter.parseResult(line(',"errors":["a","b"]'), '', exitCode(1)).error).toBe('a; b');
    expect(claudeAdapter.parseResult(line(',"errors":[]'), 'ignored', exitCode(1)).error).toBe(
      'error_during_execution',
    );
  });

  it('resume-unknown-json: stderr text', () => {
    expect(parse('resume-unknown-json', exitCode(1))).toEqual({
      success: false,
      output: '',
      error: 'No conversation found with session ID: 00000000-0000-4000-8000-000000000000',
    });
  });

  it('stream-json-noverbose: stderr text', () => {
    expect(parse('stream-json-noverbose', exitCode(1))).toEqual({
      success: false,
      output: '',
      error: 'Error: When using --print, --output-format=stream-json requires --verbose',
    });
  });

  it('bypass-as-root: stderr text', () => {
    expect(claudeAdapter.parseResult('', sample('claude', 'bypass-as-root.stderr'), exitCode(1))).toEqual({
      success: false,
      output: '',
      error: '--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons',
    });
  });

  it('error400-text: no result, empty stderr → exit code text', () => {
    expect(parse('error400-text', exitCode(1))).toEqual({
      success: false,
      output: '',
      error: 'claude exited with code 1',
    });
  });

  it('text output with exit 0 → claude produced no result', () => {
    expect(parse('text', OK)).toEqual({ success: false, output: '', error: 'claude produced no result' });
  });

  it('empty stdout with exit 0 → claude produced no result', () => {
    expect(claudeAdapter.parseResult('', '', OK)).toEqual({
      success: false,
      output: '',
      error: 'claude produced no result',
    });
  });

  it('a valid success result but killed by a signal is a failure', () => {
    const { stdout } = pair('claude', 'json');
    const r = claudeAdapter.parseResult(stdout, '', { code: null, signal: 'SIGTERM' });
    expect(r.success).toBe(false);
    expect(r.error).toBe('claude was terminated by SIGTERM');
    expect(r.backendSessionId).toBe(SID_7D);
  });

  it('a success result with a non-zero exit uses stderr, then the exit code', () => {
    const { stdout } = pair('claude', 'json');
    expect(claudeAdapter.parseResult(stdout, '  boom  \n', exitCode(3)).error).toBe('boom');
    expect(claudeAdapter.parseResult(stdout, '', exitCode(3)).error).toBe('claude exited with code 3');
  });

  it('accepts stream-json NDJSON (last result line)', () => {
    const { stdout } = pair('claude', 'error400-stream-json');
    expect(claudeAdapter.parseResult(stdout, '', exitCode(1))).toMatchObject({
      success: false,
      error: 'API Error: 400 mock injected error 400',
      backendSessionId: 'ce4fdf40-0a7b-4b98-9544-f012d2af11c5',
    });
  });

  it('usage: input includes cache creation and cache reads; cached = cache reads', () => {
    const stdout =
      '{"type":"result","is_error":false,"result":"x","usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":7}}';
    expect(claudeAdapter.parseResult(stdout, '', OK).usage).toEqual({
      input_tokens: 115,
      output_tokens: 7,
      cached_tokens: 100,
    });
  });

  it('an array without a result element → no result', () => {
    expect(claudeAdapter.parseResult('[{"type":"system"}]', '', OK).error).toBe('claude produced no result');
  });
});

describe('claude stream parser (SPEC §5.4 stream table)', () => {
  function run(name: string, exit: ProcessExit) {
    const parser = claudeAdapter.createStreamParser();
    const { stdout, stderr } = pair('claude', name);
    const events = feed(parser, stdout);
    return { events, finish: parser.finish(exit, stderr) };
  }

  it('stream-json-partial: deltas, no duplicate of the full message', () => {
    const { events, finish } = run('stream-json-partial', OK);
    expect(events).toEqual([
      {
        type: 'init',
        content: {
          backend_session_id: '02e114fa-c8ed-4ce4-ab97-5d27f3fe6cc0',
          model: 'claude-opus-4-8[1m]',
          working_dir: '<workdir>',
        },
      },
      { type: 'progress', content: { stage: 'requesting' } },
      { type: 'message', content: { text: 'MOCK-REPLY: ', role: 'assistant', is_partial: true } },
      { type: 'message', content: { text: 'de3013949017', role: 'assistant', is_partial: true } },
    ]);
    expect(finish).toEqual({
      success: true,
      usage: { input_tokens: 1651, output_tokens: 6, cached_tokens: 0 },
      backendSessionId: '02e114fa-c8ed-4ce4-ab97-5d27f3fe6cc0',
    });
  });

  it('stream-json (no partial messages): one complete message', () => {
    const { events, finish } = run('stream-json', OK);
    expect(events).toEqual([
      {
        type: 'init',
        content: {
          backend_session_id: '8465a738-7fc6-4465-b256-8a6060cd4919',
          model: 'claude-opus-4-8[1m]',
          working_dir: '<workdir>',
        },
      },
      { type: 'message', content: { text: 'MOCK-REPLY: 21711375b9af', role: 'assistant' } },
    ]);
    expect(finish).toEqual({
      success: true,
      usage: { input_tokens: 1652, output_tokens: 6, cached_tokens: 0 },
      backendSessionId: '8465a738-7fc6-4465-b256-8a6060cd4919',
    });
  });

  it('resume-stream-json keeps the session id', () => {
    const { events, finish } = run('resume-stream-json', OK);
    expect(events).toEqual([
      { type: 'init', content: { backend_session_id: SID_7D, model: 'claude-opus-4-8', working_dir: '<workdir>' } },
      { type: 'message', content: { text: 'MOCK-REPLY: 9815955f87d1', role: 'assistant' } },
    ]);
    expect(finish).toEqual({
      success: true,
      usage: { input_tokens: 1723, output_tokens: 6, cached_tokens: 0 },
      backendSessionId: SID_7D,
    });
  });

  it('tool-stream-json: tool_use, tool_result with the remembered name, final text', () => {
    const { events, finish } = run('tool-stream-json', OK);
    expect(events).toEqual([
      {
        type: 'init',
        content: {
          backend_session_id: '506a8f5b-56f1-41cd-bc27-1d6ff6ce7fac',
          model: 'claude-opus-4-8[1m]',
          working_dir: '<workdir>',
        },
      },
      {
        type: 'tool_use',
        content: {
          tool_id: 'toolu_mock000003',
          tool_name: 'Bash',
          input: { command: 'echo mock-tool-ran', description: 'Run mock echo' },
        },
      },
      {
        type: 'tool_result',
        content: { tool_id: 'toolu_mock000003', tool_name: 'Bash', output: 'mock-tool-ran', is_error: false },
      },
      { type: 'message', content: { text: 'MOCK-REPLY: 7f564e3d0b87', role: 'assistant' } },
    ]);
    expect(finish).toEqual({
      success: true,
      usage: { input_tokens: 1737, output_tokens: 16, cached_tokens: 0 },
      backendSessionId: '506a8f5b-56f1-41cd-bc27-1d6ff6ce7fac',
    });
  });

  it('error400-stream-json: synthetic message ignored, error from result', () => {
    const { events, finish } = run('error400-stream-json', exitCode(1));
    expect(events).toEqual([
      {
        type: 'init',
        content: {
          backend_session_id: 'ce4fdf40-0a7b-4b98-9544-f012d2af11c5',
          model: 'claude-opus-4-8[1m]',
          working_dir: '<workdir>',
        },
      },
    ]);
    expect(finish).toEqual({
      success: false,
      error: 'API Error: 400 mock injected error 400',
      usage: { input_tokens: 0, output_tokens: 0, cached_tokens: 0 },
      backendSessionId: 'ce4fdf40-0a7b-4b98-9544-f012d2af11c5',
    });
  });

  it('stream-json-noverbose: no output at all → ended without a result', () => {
    const { events, finish } = run('stream-json-noverbose', exitCode(1));
    expect(events).toEqual([]);
    expect(finish).toEqual({ success: false, error: 'claude ended without a result' });
  });

  it('SIGTERM mid-run (stream cut before the result) → ended without a result', () => {
    const parser = claudeAdapter.createStreamParser();
    const lines = sample('claude', 'stream-json-partial.stdout').split('\n').slice(0, 6);
    expect(feed(parser, lines.join('\n'))).toHaveLength(4);
    expect(parser.finish({ code: 143, signal: null }, '')).toEqual({
      success: false,
      error: 'claude ended without a result',
      backendSessionId: '02e114fa-c8ed-4ce4-ab97-5d27f3fe6cc0',
    });
  });

  it('a success result with a non-zero exit is a failure', () => {
    const { finish } = run('stream-json', exitCode(2));
    expect(finish.success).toBe(false);
    expect(finish.error).toBe('claude exited with code 2');
  });

  it('handmade: thinking deltas, streamed blocks not repeated, tool results, system subtypes', () => {
    const parser = claudeAdapter.createStreamParser();
    const events = feed(parser, sample('handmade', 'claude-thinking-stream.stdout'));
    expect(events).toEqual([
      {
        type: 'init',
        content: {
          backend_session_id: '11111111-2222-4333-8444-555555555555',
          model: 'claude-opus-4-8',
          working_dir: '/home/alice/p',
        },
      },
      { type: 'thinking', content: { text: 'Let me ', is_partial: true } },
      { type: 'thinking', content: { text: 'think.', is_partial: true } },
      { type: 'message', content: { text: 'Checking.', role: 'assistant', is_partial: true } },
      {
        type: 'tool_use',
        content: { tool_id: 'toolu_1', tool_name: 'Read', input: { file_path: '/home/alice/p/a.txt' } },
      },
      {
        type: 'tool_result',
        content: { tool_id: 'toolu_1', tool_name: 'Read', output: 'line 1\nline 2', is_error: true },
      },
      { type: 'tool_result', content: { tool_id: 'toolu_unknown', tool_name: '', output: 'x', is_error: false } },
      { type: 'progress', content: { stage: 'compact_boundary' } },
      { type: 'thinking', content: { text: 'Done thinking.' } },
      { type: 'message', content: { text: 'All good.', role: 'assistant' } },
    ]);
    expect(parser.finish(OK, '')).toEqual({
      success: true,
      usage: { input_tokens: 115, output_tokens: 7, cached_tokens: 100 },
      backendSessionId: '11111111-2222-4333-8444-555555555555',
    });
  });

  it('push never returns token_usage', () => {
    const parser = claudeAdapter.createStreamParser();
    for (const name of ['stream-json-partial', 'stream-json', 'tool-stream-json', 'error400-stream-json']) {
      expect(feed(parser, pair('claude', name).stdout).some((e) => e.type === 'token_usage')).toBe(false);
    }
  });

  it('a trailing \\r is tolerated', () => {
    const parser = claudeAdapter.createStreamParser();
    const events = parser.push('{"type":"system","subtype":"status","status":"requesting"}\r');
    expect(events).toEqual([{ type: 'progress', content: { stage: 'requesting' } }]);
  });
});
