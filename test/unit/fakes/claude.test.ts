/** The fake `claude` (test/fixtures/bin/claude) against the real samples. */
import * as path from 'path';
import { collect, hash12, makeSandbox, normUuids, run, sample, start, subst, type Sandbox } from './helpers';

const claudeLib = require('../../fixtures/bin/lib/claude.js') as {
  partialize: (objs: unknown[]) => Array<Record<string, unknown>>;
};

let sb: Sandbox;
let work: string;

beforeAll(() => {
  sb = makeSandbox();
  work = sb.dir('work1');
});
afterAll(() => sb.cleanup());

const first = (re: RegExp, text: string): string | undefined => re.exec(text)?.[1];

/** Maps the run's dynamic values onto the sample's so that the texts can be compared exactly. */
function normalize(actual: string, sampleText: string, cwd = work): string {
  const pairs: Array<[string, string]> = [];
  const aSid = first(/"session_id":"([0-9a-f-]{36})"/, actual);
  const sSid = first(/"session_id":"([0-9a-f-]{36})"/, sampleText);
  if (aSid && sSid) pairs.push([aSid, sSid]);
  const aHash = first(/MOCK-REPLY: ([0-9a-f]{12})/, actual);
  const sHash = first(/MOCK-REPLY: ([0-9a-f]{12})/, sampleText);
  if (aHash && sHash) pairs.push([aHash, sHash]);
  pairs.push([sb.home, '<home>'], [cwd, '<workdir>'], [cwd.replace(/[^A-Za-z0-9]/g, '-'), '-tmp-work1']);
  const norm = (t: string) =>
    normUuids(t)
      .replace(/"timestamp":"[^"]+"/g, '"timestamp":"<ts>"')
      .replace(/"id":"[0-9a-f]{8}-[0-9a-f-]{27}"/g, '"id":"<id>"');
  return norm(subst(actual, pairs));
}

function expectSample(args: string[], file: string, opts: { code?: number; cwd?: string } = {}) {
  const cwd = opts.cwd ?? work;
  const r = run(sb, 'claude', args, { cwd });
  const want = sample('claude', `${file}.stdout`);
  expect(r.stderr).toBe(sample('claude', `${file}.stderr`));
  expect(r.status).toBe(opts.code ?? 0);
  expect(normalize(r.stdout, want, cwd)).toBe(normalize(want, want, cwd));
  return r;
}

describe('output formats (byte for byte modulo ids)', () => {
  test('json: hi → json.stdout', () => {
    const r = expectSample(['-p', '--output-format', 'json', '--', 'hi'], 'json');
    expect(JSON.parse(r.stdout).result).toBe('MOCK-REPLY: 8f434346648f');
  });
  test('json --verbose → array like json-verbose.stdout', () => {
    expectSample(['-p', '--output-format', 'json', '--verbose', '--', 'verbose please'], 'json-verbose');
  });
  test('stream-json --verbose → stream-json.stdout', () => {
    const r = expectSample(['-p', '--output-format', 'stream-json', '--verbose', '--', 'hello stream'], 'stream-json');
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['system', 'assistant', 'result']);
    expect(lines[0].cwd).toBe(work);
    expect(lines[2].result).toBe(`MOCK-REPLY: ${hash12('hello stream')}`);
  });
  test('stream-json --include-partial-messages → stream-json-partial.stdout', () => {
    expectSample(
      ['-p', '--output-format', 'stream-json', '--verbose', '--include-partial-messages', '--', 'partial'],
      'stream-json-partial',
    );
  });
  test('text (default format) → text.stdout', () => {
    const r = expectSample(['-p', '--', 'plain text please'], 'text');
    expect(r.stdout).toBe(`MOCK-REPLY: ${hash12('plain text please')}\n`);
  });
  test('prompt without -- and options after the prompt', () => {
    const r = run(sb, 'claude', ['-p', 'hi', '--output-format', 'json'], { cwd: work });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).result).toBe('MOCK-REPLY: 8f434346648f');
  });
  test('the flags of flags-json (model sonnet, …) are accepted; modelUsage key claude-sonnet-5', () => {
    const r = run(
      sb,
      'claude',
      [
        '-p',
        '--output-format',
        'json',
        '--model',
        'sonnet',
        '--permission-mode',
        'dontAsk',
        '--max-turns',
        '3',
        '--system-prompt',
        'Be brief',
        '--allowedTools',
        'Bash,Read',
        '--add-dir',
        work,
        '--no-session-persistence',
        '--',
        'flags',
      ],
      { cwd: work },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const obj = JSON.parse(r.stdout);
    expect(Object.keys(obj)).toEqual(Object.keys(JSON.parse(sample('claude', 'flags-json.stdout'))));
    expect(Object.keys(obj.modelUsage)).toEqual(['claude-sonnet-5']);
    expect(obj.modelUsage['claude-sonnet-5'].contextWindow).toBe(200000);
  });
});

describe('every extra flag of the spec allow-list (§5.8) is accepted', () => {
  test('claude extras before -- and the prompt', () => {
    const extras = [
      '--append-system-prompt',
      'more',
      '--allowedTools',
      'Read',
      '--allowed-tools',
      'Edit',
      '--disallowedTools',
      'Bash',
      '--disallowed-tools',
      'Write',
      '--tools',
      'default',
      '--fallback-model',
      'sonnet',
      '--effort',
      'high',
      '--max-budget-usd',
      '0.5',
      '--json-schema',
      '{"type":"object"}',
      '--betas',
      'b1,b2',
      '--strict-mcp-config',
      '--disable-slash-commands',
      '--bare',
      '--safe-mode',
      '--exclude-dynamic-system-prompt-sections',
    ];
    const r = run(
      sb,
      'claude',
      [
        '-p',
        '--output-format',
        'json',
        '--model',
        'haiku',
        '--permission-mode',
        'acceptEdits',
        ...extras,
        '--',
        'extras',
      ],
      { cwd: work },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const obj = JSON.parse(r.stdout);
    expect(obj.result).toBe(`MOCK-REPLY: ${hash12('extras')}`);
    expect(Object.keys(obj.modelUsage)).toEqual(['claude-haiku-4-5-20251001']);
  });
});

describe('markers', () => {
  test.each([
    [400, 'error400-json'],
    [401, 'error401-json'],
    [500, 'error500-json'],
  ])('[E%s] json → %s, exit 1', (status, file) => {
    expectSample(['-p', '--output-format', 'json', '--', `fail [E${status}]`], file, { code: 1 });
  });
  test('[E400] stream-json → error400-stream-json.stdout', () => {
    expectSample(['-p', '--output-format', 'stream-json', '--verbose', '--', '[E400]'], 'error400-stream-json', {
      code: 1,
    });
  });
  test('[E400] text → error400-text.stdout', () => {
    expectSample(['-p', '--output-format', 'text', '--', '[E400]'], 'error400-text', { code: 1 });
  });
  test('[TOOL] json / stream-json → tool-json / tool-stream-json', () => {
    expectSample(['-p', '--output-format', 'json', '--', 'use a tool [TOOL]'], 'tool-json');
    expectSample(['-p', '--output-format', 'stream-json', '--verbose', '--', 'use a tool [TOOL]'], 'tool-stream-json');
  });
  test('[TOOL] with --max-turns 1 and [MAXTURNS] → max-turns-json.stdout, exit 1', () => {
    expectSample(['-p', '--output-format', 'json', '--max-turns', '1', '--', 'use a tool [TOOL]'], 'max-turns-json', {
      code: 1,
    });
    expectSample(['-p', '--output-format', 'json', '--', '[MAXTURNS]'], 'max-turns-json', { code: 1 });
  });
  test('[TOOL] stream with partial messages: tool_use and text deltas around the full messages', () => {
    const r = run(
      sb,
      'claude',
      ['-p', '--output-format', 'stream-json', '--verbose', '--include-partial-messages', '--', '[TOOL]'],
      { cwd: work },
    );
    expect(r.status).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const kinds = lines.map((l) =>
      l.type === 'stream_event' ? l.event.type : l.type === 'system' ? l.subtype : l.type,
    );
    expect(kinds).toEqual([
      'init',
      'status',
      'message_start',
      'content_block_start',
      'content_block_delta',
      'assistant',
      'content_block_stop',
      'message_delta',
      'message_stop',
      'user',
      'status',
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'assistant',
      'content_block_stop',
      'message_delta',
      'message_stop',
      'result',
    ]);
    expect(lines[4].event.delta.type).toBe('input_json_delta');
    expect(lines[7].event.delta.stop_reason).toBe('tool_use');
    expect(lines[17].event.usage.output_tokens).toBe(6);
  });
  test('[EXIT:3] → no result, exit 3; [EXIT:0] in json mode prints nothing', () => {
    const s = run(sb, 'claude', ['-p', '--output-format', 'stream-json', '--verbose', '--', '[EXIT:3]'], { cwd: work });
    expect(s.status).toBe(3);
    expect(
      s.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).type),
    ).toEqual(['system', 'assistant']);
    const j = run(sb, 'claude', ['-p', '--output-format', 'json', '--', '[EXIT:0]'], { cwd: work });
    expect(j.status).toBe(0);
    expect(j.stdout).toBe('');
  });
});

describe('partialize reproduces the captured partial stream', () => {
  test('stream-json.stdout → the line sequence of stream-json-partial.stdout', () => {
    const parse = (t: string) =>
      t
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const made = claudeLib.partialize(parse(sample('claude', 'stream-json.stdout')));
    const want = parse(sample('claude', 'stream-json-partial.stdout'));
    // Strip what legitimately differs between the two captures (ids, counters, usage, reply).
    const strip = (objs: Array<Record<string, unknown>>) =>
      JSON.stringify(objs)
        .replace(/"uuid":"[^"]+"/g, '"uuid":"U"')
        .replace(/"session_id":"[^"]+"/g, '"session_id":"S"')
        .replace(/msg_mock\d+/g, 'msg')
        .replace(/"(input_tokens|output_tokens)":\d+/g, '"$1":0')
        .replace(/MOCK-REPLY: [0-9a-f]{12}/g, 'R')
        .replace(/"text":"[0-9a-f]{12}"/g, '"text":"H"')
        .replace(/"(duration_ms|duration_api_ms|ttft_ms|ttft_stream_ms|time_to_request_ms)":\d+/g, '"$1":0')
        .replace(/"(total_cost_usd|costUSD)":[\d.e-]+/g, '"$1":0')
        .replace(/"(inputTokens|outputTokens)":\d+/g, '"$1":0');
    expect(strip(made)).toBe(strip(want));
  });
});

describe('sessions', () => {
  test('resume in the same directory keeps the id (resume-json / resume-stream-json); elsewhere fails', () => {
    const dir = sb.dir('resume-a');
    const other = sb.dir('resume-b');
    const sid = JSON.parse(run(sb, 'claude', ['-p', '--output-format', 'json', '--', 'hi'], { cwd: dir }).stdout)
      .session_id as string;
    const r1 = expectSample(['-p', '--output-format', 'json', '--resume', sid, '--', 'second'], 'resume-json', {
      cwd: dir,
    });
    expect(JSON.parse(r1.stdout).session_id).toBe(sid);
    const r2 = expectSample(
      ['--resume', sid, '--print', 'third', '--output-format', 'stream-json', '--verbose'],
      'resume-stream-json',
      { cwd: dir },
    );
    expect(r2.stdout).toContain(`"session_id":"${sid}"`);
    const r3 = run(sb, 'claude', ['-p', '--output-format', 'json', '--resume', sid, '--', 'x'], { cwd: other });
    expect(r3.status).toBe(1);
    expect(r3.stdout).toBe('');
    expect(r3.stderr).toBe(`No conversation found with session ID: ${sid}\n`);
  });
  test('unknown id → resume-unknown-json.stderr exactly', () => {
    const r = run(
      sb,
      'claude',
      ['-p', '--resume', '00000000-0000-4000-8000-000000000000', 'hi', '--output-format', 'json'],
      { cwd: work },
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(sample('claude', 'resume-unknown-json.stdout'));
    expect(r.stderr).toBe(sample('claude', 'resume-unknown-json.stderr'));
  });
  test('--session-id, --continue, --no-session-persistence', () => {
    const dir = sb.dir('sid');
    const id = 'df36e133-ba45-45be-8121-0aa9bde613e7';
    const r = expectSample(['-p', '--output-format', 'json', '--session-id', id, '--', 'with id'], 'session-id-json', {
      cwd: dir,
    });
    expect(JSON.parse(r.stdout).session_id).toBe(id);
    expect(
      run(sb, 'claude', ['-p', '--output-format', 'json', '--session-id', id, '--', 'again'], { cwd: dir }).status,
    ).toBe(1);
    const c = expectSample(['-p', '--continue', 'go on', '--output-format', 'json'], 'continue-json', { cwd: dir });
    expect(JSON.parse(c.stdout).session_id).toBe(id);
    const eph = JSON.parse(
      run(sb, 'claude', ['-p', '--output-format', 'json', '--no-session-persistence', '--', 'x'], { cwd: dir }).stdout,
    );
    expect(
      run(sb, 'claude', ['-p', '--output-format', 'json', '--resume', eph.session_id, '--', 'y'], { cwd: dir }).status,
    ).toBe(1);
  });
  test('state lives under FAKE_CLI_STATE_DIR', () => {
    const sid = JSON.parse(
      run(sb, 'claude', ['-p', '--output-format', 'json', '--', 'stored'], { cwd: work }).stdout,
    ).session_id;
    const rec = require(path.join(sb.state, 'claude', 'sessions', `${sid}.json`));
    expect(rec.cwd).toBe(work);
    expect(rec.turns[0].prompt).toBe('stored');
  });
});

describe('argv rejections', () => {
  test('stream-json without --verbose → stream-json-noverbose', () => {
    expectSample(['-p', '--output-format', 'stream-json', '--', 'x'], 'stream-json-noverbose', { code: 1 });
  });
  test('unknown option → commander error', () => {
    const r = run(sb, 'claude', ['-p', '--x', '--', 'hi'], { cwd: work });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("error: unknown option '--x'\n");
  });
  test('invalid choice and missing argument', () => {
    const a = run(sb, 'claude', ['-p', '--output-format', 'xml', '--', 'hi'], { cwd: work });
    expect(a.status).toBe(1);
    expect(a.stderr).toBe(
      "error: option '--output-format <format>' argument 'xml' is invalid. Allowed choices are text, json, stream-json.\n",
    );
    const b = run(sb, 'claude', ['-p', '--model'], { cwd: work });
    expect(b.status).toBe(1);
    expect(b.stderr).toBe("error: option '--model <model>' argument missing\n");
  });
  test.each([
    ['--allowedTools'],
    ['--allowed-tools'],
    ['--disallowedTools'],
    ['--tools'],
    ['--add-dir'],
    ['--betas'],
    ['--mcp-config'],
    ['--file'],
  ])('%s swallows a following prompt unless -- separates it', (flag) => {
    const eaten = run(sb, 'claude', ['-p', '--output-format', 'json', flag, 'v1', 'hello'], { cwd: work });
    expect(eaten.status).toBe(1);
    expect(eaten.stdout).toBe('');
    expect(eaten.stderr).toBe(
      'Error: Input must be provided either through stdin or as a prompt argument when using --print\n',
    );
    const ok = run(sb, 'claude', ['-p', '--output-format', 'json', flag, 'v1', '--', 'hello'], { cwd: work });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).result).toBe(`MOCK-REPLY: ${hash12('hello')}`);
  });
  test('a prompt that looks like an option is literal after --', () => {
    const r = run(sb, 'claude', ['-p', '--output-format', 'json', '--', '--help'], { cwd: work });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).result).toBe(`MOCK-REPLY: ${hash12('--help')}`);
  });
  test('bypassPermissions as root without IS_SANDBOX → bypass-as-root.stderr', () => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return;
    const r = run(
      sb,
      'claude',
      ['-p', '--output-format', 'json', '--permission-mode', 'bypassPermissions', '--', 'hi'],
      { cwd: work, env: { IS_SANDBOX: '' } },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(sample('claude', 'bypass-as-root.stderr'));
  });
});

describe('stdin and signals', () => {
  test('an open stdin pipe makes claude wait 3 s, warn, then answer', async () => {
    const child = start(sb, 'claude', ['-p', '--output-format', 'json', '--', 'hi'], { cwd: work, stdin: 'pipe' });
    const t0 = Date.now();
    const res = await collect(child);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(2900);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/^Warning: no stdin data received in 3s/);
    expect(JSON.parse(res.stdout).result).toBe('MOCK-REPLY: 8f434346648f');
  });
  test('stdin data without a positional prompt becomes the prompt', () => {
    const r = run(sb, 'claude', ['-p', '--output-format', 'json'], { cwd: work, input: 'from stdin\n' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).result).toBe(`MOCK-REPLY: ${hash12('from stdin')}`);
  });
  test('SIGTERM mid-stream kills it by the signal, without a result line', async () => {
    const child = start(sb, 'claude', ['-p', '--output-format', 'stream-json', '--verbose', '--', '[SLOW:400] x'], {
      cwd: work,
    });
    const done = collect(child);
    await new Promise((r) => setTimeout(r, 600));
    child.kill('SIGTERM');
    const res = await done;
    expect(res.signal).toBe('SIGTERM');
    expect(res.stdout).not.toContain('"type":"result"');
  });
});
