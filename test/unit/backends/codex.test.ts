import { codexAdapter } from '../../../src/backends/codex';
import type { ParsedResult, ProcessExit } from '../../../src/backends/types';
import { exitCode, feed, OK, pair, sample } from './fixtures';

const THREAD = '01a2194d-61d6-79b3-92bd-bd79400f084a';
const usage = (input: number, output: number) => ({
  input_tokens: input,
  output_tokens: output,
  cached_tokens: 0,
  reasoning_tokens: 0,
});

function parse(name: string, exit: ProcessExit): ParsedResult {
  const { stdout, stderr } = pair('codex', name);
  return codexAdapter.parseResult(stdout, stderr, exit);
}

const ERR400 =
  '{"error":{"message":"mock injected error 400","type":"invalid_request_error","param":null,"code":"400"}}';
const ERR401 = 'unexpected status 401 Unauthorized: mock injected error 401, url: http://127.0.0.1:18555/v1/responses';
const ERR500 = 'We’re currently experiencing high demand, which may cause temporary errors.';

describe('codex parseResult (SPEC §5.5)', () => {
  it.each<[string, string, string, number, number]>([
    ['json', 'MOCK-REPLY: 8f434346648f', THREAD, 14962, 6],
    ['resume-json', 'MOCK-REPLY: 7af6b839ac78', THREAD, 30000, 12],
    ['resume-last-json', 'MOCK-REPLY: 0f6dd62d8252', THREAD, 45115, 18],
    ['ephemeral-json', 'MOCK-REPLY: 8341425cafed', '01a2194d-9c9f-76d1-8792-2546c0effbed', 6895, 6],
  ])('%s: success; cumulative usage is reported as is', (name, output, backendSessionId, input, out) => {
    expect(parse(name, OK)).toEqual({ success: true, output, backendSessionId, usage: usage(input, out) });
  });

  it.each<[string, string, string]>([
    ['error400-json', ERR400, '01a2194d-b58c-7ec3-a3f5-9423faa18896'],
    ['error401-json', ERR401, '01a2194d-b210-7611-96ba-c80581abb3f3'],
    ['error500-json', ERR500, '01a2194d-b91e-7ab1-b6b5-a3366d32e120'],
  ])('%s: turn.failed message verbatim', (name, error, backendSessionId) => {
    expect(parse(name, exitCode(1))).toEqual({ success: false, output: '', error, backendSessionId });
  });

  it('resume-unknown-json: the stderr Error: block', () => {
    expect(parse('resume-unknown-json', exitCode(1))).toEqual({
      success: false,
      output: '',
      error:
        'Error: thread/resume: thread/resume failed: no rollout found for thread id 00000000-0000-4000-8000-000000000000 (code -32600)',
    });
  });

  it('go-style -a after exec: the clap error: line', () => {
    const combined = sample('codex', 'go-style-ask-for-approval-after-exec.combined');
    expect(codexAdapter.parseResult('', combined, exitCode(2))).toEqual({
      success: false,
      output: '',
      error: "error: unexpected argument '--ask-for-approval' found",
    });
  });

  it('no --skip-git-repo-check: the last non-noise stderr line', () => {
    const combined = sample('codex', 'no-skip-git-repo-check.combined');
    expect(codexAdapter.parseResult('', combined, exitCode(1))).toEqual({
      success: false,
      output: '',
      error: 'Not inside a trusted directory and --skip-git-repo-check was not specified.',
    });
  });

  it('stderr noise alone is never the error: falls back to the exit code', () => {
    const { stdout, stderr } = pair('codex', 'json');
    expect(codexAdapter.parseResult(stdout, stderr, exitCode(1))).toEqual({
      success: false,
      output: 'MOCK-REPLY: 8f434346648f',
      error: 'codex exited with code 1',
      backendSessionId: THREAD,
      usage: usage(14962, 6),
    });
  });

  it('exit 0 without turn.completed is a failure', () => {
    const { stdout, stderr } = pair('codex', 'json');
    const cut = stdout.split('\n').slice(0, 3).join('\n');
    expect(codexAdapter.parseResult(cut, stderr, OK)).toEqual({
      success: false,
      output: 'MOCK-REPLY: 8f434346648f',
      error: 'codex ended without completing the turn',
      backendSessionId: THREAD,
    });
  });

  it('turn.failed wins even with exit 0 and a turn.completed', () => {
    const stdout = [
      '{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}',
      '{"type":"turn.failed","error":{"message":"boom"}}',
    ].join('\n');
    expect(codexAdapter.parseResult(stdout, '', OK)).toMatchObject({ success: false, error: 'boom' });
  });

  it('the last error line is the error when there is no turn.failed', () => {
    const stdout = '{"type":"error","message":"first"}\n{"type":"error","message":"second"}';
    expect(codexAdapter.parseResult(stdout, 'Error: ignored', exitCode(1)).error).toBe('second');
  });

  it('a killed process without output', () => {
    expect(codexAdapter.parseResult('', '', { code: null, signal: 'SIGKILL' }).error).toBe(
      'codex was terminated by SIGKILL',
    );
  });

  it('handmade tool items: agent messages joined with \\n, warnings do not fail the run', () => {
    const stdout = sample('handmade', 'codex-tool-items.stdout');
    expect(codexAdapter.parseResult(stdout, '', OK)).toEqual({
      success: true,
      output: 'first\nsecond',
      backendSessionId: '01a2194d-0000-7000-8000-00000000c0de',
      usage: { input_tokens: 100, output_tokens: 20, cached_tokens: 40, reasoning_tokens: 5 },
    });
  });
});

describe('codex stream parser', () => {
  function run(stdout: string, stderr: string, exit: ProcessExit) {
    const parser = codexAdapter.createStreamParser();
    const events = feed(parser, stdout);
    return { events, finish: parser.finish(exit, stderr) };
  }

  it.each<[string, string, number, number]>([
    ['json', 'MOCK-REPLY: 8f434346648f', 14962, 6],
    ['resume-json', 'MOCK-REPLY: 7af6b839ac78', 30000, 12],
    ['resume-last-json', 'MOCK-REPLY: 0f6dd62d8252', 45115, 18],
  ])('%s', (name, text, input, out) => {
    const { stdout, stderr } = pair('codex', name);
    const { events, finish } = run(stdout, stderr, OK);
    expect(events).toEqual([
      { type: 'init', content: { backend_session_id: THREAD } },
      { type: 'progress', content: { stage: 'turn_started' } },
      { type: 'message', content: { text, role: 'assistant' } },
    ]);
    expect(finish).toEqual({ success: true, usage: usage(input, out), backendSessionId: THREAD });
  });

  it('ephemeral-json', () => {
    const { stdout, stderr } = pair('codex', 'ephemeral-json');
    const { events, finish } = run(stdout, stderr, OK);
    expect(events).toEqual([
      { type: 'init', content: { backend_session_id: '01a2194d-9c9f-76d1-8792-2546c0effbed' } },
      { type: 'progress', content: { stage: 'turn_started' } },
      { type: 'message', content: { text: 'MOCK-REPLY: 8341425cafed', role: 'assistant' } },
    ]);
    expect(finish).toEqual({
      success: true,
      usage: usage(6895, 6),
      backendSessionId: '01a2194d-9c9f-76d1-8792-2546c0effbed',
    });
  });

  it.each<[string, string, string]>([
    ['error400-json', ERR400, '01a2194d-b58c-7ec3-a3f5-9423faa18896'],
    ['error401-json', ERR401, '01a2194d-b210-7611-96ba-c80581abb3f3'],
    ['error500-json', ERR500, '01a2194d-b91e-7ab1-b6b5-a3366d32e120'],
  ])('%s: error line → warning progress; turn.failed → failure', (name, message, backendSessionId) => {
    const { stdout, stderr } = pair('codex', name);
    const { events, finish } = run(stdout, stderr, exitCode(1));
    expect(events).toEqual([
      { type: 'init', content: { backend_session_id: backendSessionId } },
      { type: 'progress', content: { stage: 'turn_started' } },
      { type: 'progress', content: { stage: 'warning', message } },
    ]);
    expect(finish).toEqual({ success: false, error: message, backendSessionId });
  });

  it('resume-unknown-json: no events, stderr error', () => {
    const { stdout, stderr } = pair('codex', 'resume-unknown-json');
    const { events, finish } = run(stdout, stderr, exitCode(1));
    expect(events).toEqual([]);
    expect(finish).toEqual({
      success: false,
      error:
        'Error: thread/resume: thread/resume failed: no rollout found for thread id 00000000-0000-4000-8000-000000000000 (code -32600)',
    });
  });

  it('handmade tool items: the full event mapping', () => {
    const { events, finish } = run(sample('handmade', 'codex-tool-items.stdout'), '', OK);
    expect(events).toEqual([
      { type: 'init', content: { backend_session_id: '01a2194d-0000-7000-8000-00000000c0de' } },
      { type: 'progress', content: { stage: 'turn_started' } },
      { type: 'thinking', content: { text: '**Planning** run a command' } },
      {
        type: 'tool_use',
        content: {
          tool_id: 'item_1',
          tool_name: 'command_execution',
          input: { command: "bash -lc 'echo hi'", aggregated_output: '', exit_code: null },
        },
      },
      {
        type: 'tool_result',
        content: { tool_id: 'item_1', tool_name: 'command_execution', output: 'hi\n', is_error: false },
      },
      {
        type: 'tool_use',
        content: {
          tool_id: 'item_2',
          tool_name: 'command_execution',
          input: { command: 'false', aggregated_output: '', exit_code: null },
        },
      },
      {
        type: 'tool_result',
        content: { tool_id: 'item_2', tool_name: 'command_execution', output: '', is_error: true },
      },
      {
        type: 'tool_use',
        content: { tool_id: 'item_3', tool_name: 'file_change', input: { changes: [{ path: 'a.txt', kind: 'add' }] } },
      },
      {
        type: 'tool_result',
        content: {
          tool_id: 'item_3',
          tool_name: 'file_change',
          output: '{"changes":[{"path":"a.txt","kind":"add"}]}',
          is_error: false,
        },
      },
      {
        type: 'tool_use',
        content: {
          tool_id: 'item_4',
          tool_name: 'docs/search',
          input: { server: 'docs', tool: 'search', arguments: { q: 'x' } },
        },
      },
      {
        type: 'tool_result',
        content: {
          tool_id: 'item_4',
          tool_name: 'docs/search',
          output: '{"server":"docs","tool":"search","arguments":{"q":"x"},"result":{"content":[]}}',
          is_error: false,
        },
      },
      { type: 'progress', content: { stage: 'warning', message: 'Model metadata for `mock-model` not found.' } },
      {
        type: 'progress',
        content: { stage: 'warning', message: 'Reconnecting... 1/5 (stream disconnected before completion)' },
      },
      { type: 'message', content: { text: 'first', role: 'assistant' } },
      { type: 'message', content: { text: 'second', role: 'assistant' } },
    ]);
    expect(finish).toEqual({
      success: true,
      usage: { input_tokens: 100, output_tokens: 20, cached_tokens: 40, reasoning_tokens: 5 },
      backendSessionId: '01a2194d-0000-7000-8000-00000000c0de',
    });
  });

  it('a non-zero exit_code alone marks a tool result as an error', () => {
    const parser = codexAdapter.createStreamParser();
    const events = parser.push(
      '{"type":"item.completed","item":{"id":"i","type":"command_execution","command":"x","aggregated_output":"o","exit_code":2,"status":"completed"}}',
    );
    expect(events[1]).toEqual({
      type: 'tool_result',
      content: { tool_id: 'i', tool_name: 'command_execution', output: 'o', is_error: true },
    });
  });

  it('an error notice followed by success is a success', () => {
    const stdout = [
      '{"type":"thread.started","thread_id":"t"}',
      '{"type":"error","message":"Reconnecting... 1/5"}',
      '{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"ok"}}',
      '{"type":"turn.completed","usage":{"input_tokens":3,"output_tokens":1}}',
    ].join('\n');
    const { finish } = run(stdout, '', OK);
    expect(finish).toEqual({ success: true, usage: { input_tokens: 3, output_tokens: 1 }, backendSessionId: 't' });
  });

  it('adapter declares cumulative usage', () => {
    expect(codexAdapter.cumulativeUsage).toBe(true);
  });
});
