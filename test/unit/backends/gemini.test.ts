import { geminiAdapter } from '../../../src/backends/gemini';
import type { ParsedResult, ProcessExit } from '../../../src/backends/types';
import { exitCode, feed, OK, pair, sample } from './fixtures';

function parse(name: string, exit: ProcessExit): ParsedResult {
  const { stdout, stderr } = pair('gemini', name);
  return geminiAdapter.parseResult(stdout, stderr, exit);
}

const RESUME_UNKNOWN =
  'Error resuming session: Invalid session identifier "00000000-0000-4000-8000-000000000000".\n' +
  '  Searched for sessions in <home>/.gemini<workdir>/chats.\n' +
  '  Use --list-sessions to see available sessions, then use --resume {number}, --resume {uuid}, or --resume latest.';

describe('gemini parseResult (SPEC §5.6)', () => {
  it.each<[string, string, string, number, number]>([
    ['json', 'MOCK-REPLY: 8f434346648f', 'aa944a01-8b2c-4b30-9868-99d4fab34d98', 254, 19],
    ['positional-json', 'MOCK-REPLY: 8e63fe233e4a', 'b6173617-7482-4149-8ffa-112b1f3e1b36', 263, 19],
    ['resume-json', 'MOCK-REPLY: 7af6b839ac78', 'aa944a01-8b2c-4b30-9868-99d4fab34d98', 304, 19],
    ['resume-latest-json', 'MOCK-REPLY: c8e7d23e82fe', 'b6173617-7482-4149-8ffa-112b1f3e1b36', 312, 19],
    ['session-id-json', 'MOCK-REPLY: c47500ffbf02', '1f268632-98e7-4ad0-be04-63d737b7bc00', 257, 19],
    ['tool-json', 'MOCK-REPLY: 7f564e3d0b87', 'b6e12f0a-854f-4b03-8754-432fd4c8e41c', 391, 29],
  ])('%s: usage summed over router and main model', (name, output, backendSessionId, input, out) => {
    expect(parse(name, OK)).toEqual({
      success: true,
      output,
      backendSessionId,
      usage: { input_tokens: input, output_tokens: out, cached_tokens: 0, reasoning_tokens: 0 },
      model: 'gemini-3.8-flash',
    });
  });

  it('tool-json usage equals the totals of the stream result line (391/29)', () => {
    const last = sample('gemini', 'tool-stream-json.stdout').trim().split('\n').pop() ?? '';
    const stats = (JSON.parse(last) as { stats: { input_tokens: number; output_tokens: number } }).stats;
    expect(parse('tool-json', OK).usage).toMatchObject({
      input_tokens: stats.input_tokens,
      output_tokens: stats.output_tokens,
    });
  });

  it('text before the first line starting with { is ignored', () => {
    const { stdout, stderr } = pair('gemini', 'json');
    const r = geminiAdapter.parseResult(`Loaded cached credentials.\n${stdout}`, stderr, OK);
    expect(r.success).toBe(true);
    expect(r.output).toBe('MOCK-REPLY: 8f434346648f');
  });

  it('error400-json: error.message of the stderr JSON, session id stored', () => {
    expect(parse('error400-json', exitCode(144))).toEqual({
      success: false,
      output: '',
      error: '{"error":{"code":400,"message":"mock injected error 400","status":"INVALID_ARGUMENT"}}',
      backendSessionId: '8c8b4ca1-6357-4858-b300-ded64dd3833e',
    });
  });

  it('error401-json', () => {
    expect(parse('error401-json', exitCode(145))).toEqual({
      success: false,
      output: '',
      error: '{"error":{"code":401,"message":"mock injected error 401","status":"UNAUTHENTICATED"}}',
      backendSessionId: '30edf1d5-8aa8-4df3-a012-abb41e40ddb3',
    });
  });

  it('resume-unknown-json: plain-text stderr (exit 42)', () => {
    expect(parse('resume-unknown-json', exitCode(42))).toEqual({ success: false, output: '', error: RESUME_UNKNOWN });
  });

  it('stderr without JSON: noise and stack-trace lines are dropped', () => {
    const stderr = sample('gemini', 'error400-stream-json.stderr');
    const r = geminiAdapter.parseResult('', stderr, exitCode(144));
    expect(r.success).toBe(false);
    expect(r.error).toMatch(/^Error generating content via API\./);
    expect(r.error).not.toMatch(/256-color|Ripgrep|\n\s+at /);
  });

  it('only noise on stderr → exit code text', () => {
    expect(parse('text', exitCode(1))).toEqual({ success: false, output: '', error: 'gemini exited with code 1' });
  });

  it('exit 0 without a response (e.g. SIGTERM) → gemini produced no result', () => {
    const { stderr } = pair('gemini', 'json');
    expect(geminiAdapter.parseResult('', stderr, OK)).toEqual({
      success: false,
      output: '',
      error: 'gemini produced no result',
    });
    expect(parse('text', OK).error).toBe('gemini produced no result');
  });

  it('a response with a non-zero exit is a failure', () => {
    const r = parse('json', exitCode(1));
    expect(r).toMatchObject({ success: false, output: 'MOCK-REPLY: 8f434346648f', error: 'gemini exited with code 1' });
  });

  it('an object with an error is a failure even with a response', () => {
    const stdout = '{"session_id":"s","response":"x","error":{"message":"bad"}}';
    expect(geminiAdapter.parseResult(stdout, '', OK)).toEqual({
      success: false,
      output: 'x',
      error: 'bad',
      backendSessionId: 's',
    });
  });

  it('usage falls back to tokens.input when tokens.prompt is absent', () => {
    const stdout = JSON.stringify({
      response: 'x',
      stats: {
        models: { a: { tokens: { input: 5, candidates: 2 } }, b: { tokens: { prompt: 7, candidates: 1, cached: 3 } } },
      },
    });
    expect(geminiAdapter.parseResult(stdout, '', OK).usage).toEqual({
      input_tokens: 12,
      output_tokens: 3,
      cached_tokens: 3,
    });
  });
});

describe('gemini stream parser', () => {
  function run(name: string, exit: ProcessExit) {
    const parser = geminiAdapter.createStreamParser();
    const { stdout, stderr } = pair('gemini', name);
    const events = feed(parser, stdout);
    return { events, finish: parser.finish(exit, stderr) };
  }
  const partial = (text: string) => ({ type: 'message', content: { text, role: 'assistant', is_partial: true } });

  it.each<[string, string, string, number, number]>([
    ['stream-json', 'b4994bbd-dac6-4468-9ee8-7ba6052dbc4e', '21711375b9af', 259, 19],
    ['resume-stream-json', 'aa944a01-8b2c-4b30-9868-99d4fab34d98', '250e821d7dc7', 360, 19],
    ['tool-not-offered-without-yolo-stream-json', '4a63f2da-abbd-4af1-81a3-26d896cf87b3', '7f564e3d0b87', 263, 19],
  ])('%s: init, user echo ignored, deltas, result', (name, sid, hex, input, out) => {
    const { events, finish } = run(name, OK);
    expect(events).toEqual([
      { type: 'init', content: { backend_session_id: sid, model: 'auto' } },
      partial('MOCK-REPLY: '),
      partial(hex),
    ]);
    expect(finish).toEqual({
      success: true,
      usage: { input_tokens: input, output_tokens: out, cached_tokens: 0 },
      backendSessionId: sid,
    });
  });

  it('tool-stream-json: tool_use and tool_result with the remembered name', () => {
    const { events, finish } = run('tool-stream-json', OK);
    const toolId = 'run_shell_command__run_shell_command_1795721130193_0';
    expect(events).toEqual([
      { type: 'init', content: { backend_session_id: '49d6211f-bf42-4faf-bb1e-87378a846b36', model: 'auto' } },
      {
        type: 'tool_use',
        content: {
          tool_id: toolId,
          tool_name: 'run_shell_command',
          input: { command: 'echo mock-tool-ran', description: 'Run mock echo' },
        },
      },
      {
        type: 'tool_result',
        content: { tool_id: toolId, tool_name: 'run_shell_command', output: 'mock-tool-ran', is_error: false },
      },
      partial('MOCK-REPLY: '),
      partial('7f564e3d0b87'),
    ]);
    expect(finish).toEqual({
      success: true,
      usage: { input_tokens: 391, output_tokens: 29, cached_tokens: 0 },
      backendSessionId: '49d6211f-bf42-4faf-bb1e-87378a846b36',
    });
  });

  it('error400-stream-json: result error message (exit 144)', () => {
    const { events, finish } = run('error400-stream-json', exitCode(144));
    expect(events).toEqual([
      { type: 'init', content: { backend_session_id: '95be8b86-c2ce-4646-bef9-3a351106ce6c', model: 'auto' } },
    ]);
    expect(finish).toEqual({
      success: false,
      error: '[API Error: {"error":{"code":400,"message":"mock injected error 400","status":"INVALID_ARGUMENT"}}]',
      usage: { input_tokens: 0, output_tokens: 0, cached_tokens: 0 },
      backendSessionId: '95be8b86-c2ce-4646-bef9-3a351106ce6c',
    });
  });

  it('no result line → ended without a result, whatever the exit code', () => {
    const parser = geminiAdapter.createStreamParser();
    const cut = sample('gemini', 'stream-json.stdout').split('\n').slice(0, 4).join('\n');
    expect(feed(parser, cut)).toHaveLength(3);
    expect(parser.finish(OK, '')).toEqual({
      success: false,
      error: 'gemini ended without a result',
      backendSessionId: 'b4994bbd-dac6-4468-9ee8-7ba6052dbc4e',
    });
  });

  it('resume-unknown in stream mode: nothing on stdout', () => {
    const parser = geminiAdapter.createStreamParser();
    expect(parser.finish(exitCode(42), sample('gemini', 'resume-unknown-json.stderr'))).toEqual({
      success: false,
      error: 'gemini ended without a result',
    });
  });

  it('a success result with a non-zero exit is a failure', () => {
    const { finish } = run('stream-json', exitCode(1));
    expect(finish).toMatchObject({ success: false, error: 'gemini exited with code 1' });
  });

  it('handmade: failing tool, unknown tool id, error event, complete message', () => {
    const parser = geminiAdapter.createStreamParser();
    const events = feed(parser, sample('handmade', 'gemini-tool-error-stream.stdout'));
    expect(events).toEqual([
      {
        type: 'init',
        content: { backend_session_id: '22222222-3333-4444-8555-666666666666', model: 'gemini-3.8-flash' },
      },
      {
        type: 'tool_use',
        content: { tool_id: 'read_file_1', tool_name: 'read_file', input: { absolute_path: '/nope' } },
      },
      {
        type: 'tool_result',
        content: { tool_id: 'read_file_1', tool_name: 'read_file', output: 'File not found: /nope', is_error: true },
      },
      { type: 'tool_result', content: { tool_id: 'other_2', tool_name: '', output: 'ok', is_error: false } },
      { type: 'progress', content: { stage: 'warning', message: 'Loop detected, stopping execution' } },
      { type: 'message', content: { text: 'Could not read it.', role: 'assistant' } },
    ]);
    expect(parser.finish(OK, '')).toEqual({
      success: true,
      usage: { input_tokens: 20, output_tokens: 10, cached_tokens: 5 },
      backendSessionId: '22222222-3333-4444-8555-666666666666',
    });
  });
});

describe('gemini parseResult — stdout object without response and an stderr error object', () => {
  it('takes the stderr error and its session id', () => {
    const stderr = 'boom\n{\n  "session_id": "s2",\n  "error": {"type": "Error", "message": "quota", "code": 429}\n}\n';
    expect(geminiAdapter.parseResult('{"stats":{}}', stderr, exitCode(173))).toEqual({
      success: false,
      output: '',
      error: 'quota',
      backendSessionId: 's2',
    });
  });

  it('uses the last line that is exactly "{" (earlier JSON-looking blocks are ignored)', () => {
    const stderr = '{\n  "session_id": "old"\n}\nnoise\n{\n  "session_id": "new",\n  "error": {"message": "latest"}\n}';
    expect(geminiAdapter.parseResult('', stderr, exitCode(1))).toMatchObject({
      error: 'latest',
      backendSessionId: 'new',
    });
  });
});
