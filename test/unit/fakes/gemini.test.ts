/** The fake `gemini` (test/fixtures/bin/gemini) against the real samples. */
import * as os from 'os';
import * as path from 'path';
import { BIN, collect, hash12, makeSandbox, run, sample, start, subst, waitForLines, type Sandbox } from './helpers';

let sb: Sandbox;
let work: string;

beforeAll(() => {
  sb = makeSandbox();
  work = sb.dir('work1');
});
afterAll(() => sb.cleanup());

const first = (re: RegExp, text: string): string | undefined => re.exec(text)?.[1];

function normalize(actual: string, sampleText: string, cwd = work): string {
  const pairs: Array<[string, string]> = [];
  const aSid = first(/"session_id": ?"([0-9a-f-]{36})"/, actual);
  const sSid = first(/"session_id": ?"([0-9a-f-]{36})"/, sampleText);
  if (aSid && sSid) pairs.push([aSid, sSid]);
  const aHash = first(/MOCK-REPLY: ([0-9a-f]{12})/, actual) ?? first(/"content":"([0-9a-f]{12})"/, actual);
  const sHash = first(/MOCK-REPLY: ([0-9a-f]{12})/, sampleText) ?? first(/"content":"([0-9a-f]{12})"/, sampleText);
  if (aHash && sHash) pairs.push([aHash, sHash]);
  pairs.push(
    [`${sb.home}/.gemini/tmp/${path.basename(cwd)}/chats`, '<home>/.gemini<workdir>/chats'],
    [path.resolve(BIN, 'install'), '<install>'],
    [os.tmpdir(), '<tmp>'],
  );
  return subst(actual, pairs)
    .replace(/"timestamp":"[^"]+"/g, '"timestamp":"<ts>"')
    .replace(/"role":"user","content":"[^"]*"/g, '"role":"user","content":"<prompt>"')
    .replace(/run_shell_command_\d+_0/g, 'run_shell_command_<ms>_0')
    .replace(/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z/g, '<stamp>');
}

function expectSample(args: string[], file: string, opts: { code?: number; cwd?: string; stderrFile?: string } = {}) {
  const cwd = opts.cwd ?? work;
  const r = run(sb, 'gemini', args, { cwd });
  const want = sample('gemini', `${file}.stdout`);
  const wantErr = sample('gemini', opts.stderrFile ?? `${file}.stderr`);
  expect(normalize(r.stderr, wantErr, cwd)).toBe(normalize(wantErr, wantErr, cwd));
  expect(normalize(r.stdout, want, cwd)).toBe(normalize(want, want, cwd));
  expect(r.status).toBe(opts.code ?? 0);
  return r;
}

const sidOf = (stdout: string) => JSON.parse(stdout).session_id as string;

describe('output formats', () => {
  test.each([
    [['--output-format=json', '--skip-trust', '--prompt=hi']],
    [['-p', 'hi', '-o', 'json']],
    [['--prompt', 'hi', '--output-format', 'json']],
  ])('%j → json.stdout / json.stderr byte for byte', (args) => {
    const r = expectSample(args, 'json');
    expect(r.stdout.endsWith('}')).toBe(true);
    expect(JSON.parse(r.stdout).response).toBe('MOCK-REPLY: 8f434346648f');
  });
  test('stream-json → stream-json.stdout', () => {
    const r = expectSample(['--output-format=stream-json', '--skip-trust', '--prompt=hello stream'], 'stream-json');
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[1]).toMatchObject({ type: 'message', role: 'user', content: 'hello stream' });
    expect(lines[3].content).toBe(hash12('hello stream'));
  });
  test('text → text.stdout; positional prompt → positional-json.stdout', () => {
    expectSample(['-p', 'plain text please', '-o', 'text'], 'text');
    expectSample(['-o', 'json', 'positional', 'words'], 'positional-json');
  });
  test('--model replaces the router + main entries by the given model', () => {
    const r = run(sb, 'gemini', ['--output-format=json', '--skip-trust', '--model=gemini-3.8-flash', '--prompt=hi'], {
      cwd: work,
    });
    expect(Object.keys(JSON.parse(r.stdout).stats.models)).toEqual(['gemini-3.8-flash']);
  });
});

describe('sessions', () => {
  test('resume in the same dir keeps the id (resume-json, resume-stream-json, resume latest); other dir → exit 42', () => {
    const dir = sb.dir('sess-a');
    const other = sb.dir('sess-b');
    const sid = sidOf(run(sb, 'gemini', ['--output-format=json', '--skip-trust', '--prompt=hi'], { cwd: dir }).stdout);
    const r1 = expectSample(
      ['--output-format=json', '--skip-trust', `--resume=${sid}`, '--prompt=again'],
      'resume-json',
      { cwd: dir },
    );
    expect(sidOf(r1.stdout)).toBe(sid);
    const r2 = expectSample(
      ['--output-format=stream-json', '--skip-trust', `--resume=${sid}`, '--prompt=third turn'],
      'resume-stream-json',
      { cwd: dir },
    );
    expect(JSON.parse(r2.stdout.split('\n')[0]).session_id).toBe(sid);
    const r3 = run(sb, 'gemini', ['-o', 'json', '--resume', 'latest', '-p', 'latest'], { cwd: dir });
    expect(sidOf(r3.stdout)).toBe(sid);
    const r4 = run(sb, 'gemini', ['--output-format=json', '--skip-trust', `--resume=${sid}`, '--prompt=x'], {
      cwd: other,
    });
    expect(r4.status).toBe(42);
    expect(r4.stdout).toBe('');
    expect(r4.stderr).toBe(
      sample('gemini', 'resume-unknown-json.stderr')
        .replace('00000000-0000-4000-8000-000000000000', sid)
        .replace('<home>/.gemini<workdir>', `${sb.home}/.gemini/tmp/sess-b`),
    );
  });
  test('unknown id → resume-unknown-json, exit 42', () => {
    expectSample(
      ['-p', 'hi', '-o', 'json', '--resume', '00000000-0000-4000-8000-000000000000'],
      'resume-unknown-json',
      { code: 42 },
    );
  });
  test('--session-id, --list-sessions, --delete-session', () => {
    const dir = sb.dir('sess-list');
    const id = '1f268632-98e7-4ad0-be04-63d737b7bc00';
    const r = expectSample(['-p', 'with id', '-o', 'json', '--session-id', id], 'session-id-json', { cwd: dir });
    expect(sidOf(r.stdout)).toBe(id);
    const second = sidOf(run(sb, 'gemini', ['-o', 'json', '-p', 'hello   stream'], { cwd: dir }).stdout);
    const list = run(sb, 'gemini', ['--list-sessions'], { cwd: dir });
    expect(list.stderr).toBe('');
    expect(list.stdout).toBe(
      `\nAvailable sessions for this project (2):\n  1. with id (Just now) [${id}]\n  2. hello stream (Just now) [${second}]\n`,
    );
    const del = run(sb, 'gemini', ['--delete-session', id, '--skip-trust'], { cwd: dir });
    expect(del.status).toBe(0);
    expect(del.stdout).toBe('Deleted session 1: with id (Just now)\n');
    expect(run(sb, 'gemini', ['-o', 'json', '--resume', id, '-p', 'x'], { cwd: dir }).status).toBe(42);
  });
});

describe('markers', () => {
  test('[E400] json → exit 144, stderr like error400-json.stderr; [E401] → 145', () => {
    const r = expectSample(['-p', 'fail MOCK_STATUS=400', '-o', 'json'], 'error400-json', { code: 144 });
    const tail = r.stderr.slice(r.stderr.lastIndexOf('\n{\n') + 1);
    expect(JSON.parse(tail).error.code).toBe(400);
    expectSample(['-p', 'fail [E401]', '-o', 'json'], 'error401-json', { code: 145 });
  });
  test('[E400] stream-json → error400-stream-json', () => {
    expectSample(['-p', 'fail [E400]', '-o', 'stream-json'], 'error400-stream-json', { code: 144 });
  });
  test('[TOOL] with yolo → tool-json / tool-stream-json; without → tool-not-offered', () => {
    expectSample(['-p', 'use a tool [TOOL]', '-o', 'json', '--yolo'], 'tool-json');
    expectSample(
      ['--output-format=stream-json', '--skip-trust', '--approval-mode=yolo', '--prompt=use a tool [TOOL]'],
      'tool-stream-json',
    );
    expectSample(['-p', 'use a tool [TOOL]', '-o', 'stream-json'], 'tool-not-offered-without-yolo-stream-json');
  });
  test('[SLOW:n] spaces the stream lines; SIGTERM then exits 0 without a result', async () => {
    const child = start(sb, 'gemini', ['--output-format=stream-json', '--skip-trust', '--prompt=[SLOW:300] x'], {
      cwd: work,
    });
    const done = collect(child);
    await waitForLines(child, 2);
    child.kill('SIGTERM');
    const res = await done;
    expect(res.code).toBe(0);
    expect(res.signal).toBeNull();
    expect(res.stdout).not.toContain('"type":"result"');
    expect(res.chunks.length).toBeGreaterThanOrEqual(2);
    expect(res.chunks[1].t - res.chunks[0].t).toBeGreaterThanOrEqual(250);
  });
});

describe('argv rejections', () => {
  test('--color → Unknown argument: color, exit 1', () => {
    const r = run(sb, 'gemini', ['--output-format=json', '--color', '--prompt=hi'], { cwd: work });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe('Unknown argument: color');
  });
  test('-p with a missing value → Not enough arguments following: p', () => {
    for (const args of [
      ['-o', 'json', '-p', '-x'],
      ['-o', 'json', '-p'],
    ]) {
      const r = run(sb, 'gemini', args, { cwd: work });
      expect(r.status).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe('Not enough arguments following: p');
    }
    const ok = run(sb, 'gemini', ['-o', 'json', '--prompt=-x'], { cwd: work });
    expect(JSON.parse(ok.stdout).response).toBe(`MOCK-REPLY: ${hash12('-x')}`);
  });
  test('bad choice, -p with a positional, --yolo with --approval-mode', () => {
    const a = run(sb, 'gemini', ['-o', 'xml', '-p', 'hi'], { cwd: work });
    expect(a.status).toBe(1);
    expect(a.stderr).toMatch(
      /^Invalid values:\n {2}Argument: output-format, Given: "xml", Choices: "text", "json", "stream-json"\n/,
    );
    const b = run(sb, 'gemini', ['-p', 'hi', 'extra'], { cwd: work });
    expect(b.stderr.split('\n')[0]).toBe('Cannot use both a positional prompt and the --prompt (-p) flag together');
    const c = run(sb, 'gemini', ['-p', 'hi', '--yolo', '--approval-mode=yolo'], { cwd: work });
    expect(c.status).toBe(1);
  });
  test('the spec argv with every mapped option and allowed extras runs', () => {
    const r = run(
      sb,
      'gemini',
      [
        '--output-format=json',
        '--skip-trust',
        '--model=gemini-3.8-flash',
        '--approval-mode=auto_edit',
        '--debug',
        '--allowed-mcp-server-names',
        'a,b',
        '-e',
        'ext',
        '--allowed-tools',
        'read_file',
        '--prompt=all flags',
      ],
      { cwd: work },
    );
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).response).toBe(`MOCK-REPLY: ${hash12('all flags')}`);
  });
});

describe('stdin', () => {
  test('piped stdin is prepended to the prompt', () => {
    const r = run(sb, 'gemini', ['-o', 'json', '--prompt=question'], { cwd: work, input: 'context' });
    expect(JSON.parse(r.stdout).response).toBe(`MOCK-REPLY: ${hash12('context\n\nquestion')}`);
  });
  test('an open but silent pipe is given up after about 500 ms', async () => {
    const child = start(sb, 'gemini', ['-o', 'json', '--prompt=hi'], { cwd: work, stdin: 'pipe' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const res = await collect(child);
    clearTimeout(timer);
    child.stdin?.destroy();
    expect(res.code).toBe(0);
  });
});
