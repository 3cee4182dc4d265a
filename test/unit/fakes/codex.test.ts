/** The fake `codex` (test/fixtures/bin/codex) against the real samples. */
import * as fs from 'fs';
import * as path from 'path';
import {
  collect,
  hash12,
  insideGit,
  makeSandbox,
  run,
  sample,
  sleep,
  start,
  subst,
  waitForEvent,
  type Sandbox,
} from './helpers';

let sb: Sandbox;
let work: string;

beforeAll(() => {
  sb = makeSandbox();
  work = sb.dir('work1');
  if (insideGit(work)) throw new Error(`the temp dir ${work} is inside a git repository; codex tests need one outside`);
});
afterAll(() => sb.cleanup());

const first = (re: RegExp, text: string): string | undefined => re.exec(text)?.[1];

function normalize(actual: string, sampleText: string, cwd = work): string {
  const pairs: Array<[string, string]> = [];
  const aId = first(/"thread_id":"([0-9a-f-]{36})"/, actual) ?? first(/session id: ([0-9a-f-]{36})/, actual);
  const sId = first(/"thread_id":"([0-9a-f-]{36})"/, sampleText) ?? first(/session id: ([0-9a-f-]{36})/, sampleText);
  if (aId && sId) pairs.push([aId, sId]);
  const aHash = first(/MOCK-REPLY: ([0-9a-f]{12})/, actual);
  const sHash = first(/MOCK-REPLY: ([0-9a-f]{12})/, sampleText);
  if (aHash && sHash) pairs.push([aHash, sHash]);
  pairs.push([sb.home, '<home>'], [cwd, '<workdir>']);
  return subst(actual, pairs);
}

function expectSample(args: string[], file: string, opts: { code?: number; cwd?: string; stderrFile?: string } = {}) {
  const cwd = opts.cwd ?? work;
  const r = run(sb, 'codex', args, { cwd });
  const want = sample('codex', `${file}.stdout`);
  expect(normalize(r.stderr, sample('codex', opts.stderrFile ?? `${file}.stderr`), cwd)).toBe(
    sample('codex', opts.stderrFile ?? `${file}.stderr`),
  );
  expect(normalize(r.stdout, want, cwd)).toBe(want);
  expect(r.status).toBe(opts.code ?? 0);
  return r;
}

const threadOf = (stdout: string) => JSON.parse(stdout.split('\n')[0]).thread_id as string;

describe('exec --json', () => {
  test('hi → json.stdout / json.stderr', () => {
    const r = expectSample(['exec', '--json', '--skip-git-repo-check', 'hi'], 'json');
    expect(threadOf(r.stdout)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  test('the spec argv (top-level -a, -m, -s, --ephemeral, --) is accepted', () => {
    const r = run(
      sb,
      'codex',
      [
        '-a',
        'never',
        'exec',
        '--json',
        '--skip-git-repo-check',
        '-m',
        'gpt-6.2-sol',
        '-s',
        'workspace-write',
        '--ephemeral',
        '--',
        '--looks-like-a-flag',
      ],
      { cwd: work },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`"text":"MOCK-REPLY: ${hash12('--looks-like-a-flag')}"`);
  });
  test('the codex extra flags of the allow-list (§5.8) are accepted, also before `resume`', () => {
    const extras = ['--profile', 'work', '--color', 'never', '--strict-config'];
    const r = run(
      sb,
      'codex',
      [
        '-a',
        'on-request',
        'exec',
        '--json',
        '--skip-git-repo-check',
        '-m',
        'gpt-5.5',
        '-s',
        'read-only',
        ...extras,
        '--',
        'x',
      ],
      { cwd: work },
    );
    expect(r.status).toBe(0);
    const id = threadOf(r.stdout);
    const r2 = run(
      sb,
      'codex',
      [
        '-a',
        'never',
        'exec',
        '--json',
        '--skip-git-repo-check',
        '--strict-config',
        '--color',
        'auto',
        'resume',
        '-c',
        'sandbox_mode="read-only"',
        id,
        '--',
        'y',
      ],
      { cwd: work },
    );
    expect(r2.status).toBe(0);
    expect(threadOf(r2.stdout)).toBe(id);
    // --profile and -p are one option: giving both is a clap "used multiple times" error.
    const r3 = run(sb, 'codex', ['exec', '--json', '--skip-git-repo-check', '--profile', 'a', '-p', 'b', '--', 'z'], {
      cwd: work,
    });
    expect(r3.status).toBe(2);
    expect(r3.stderr).toContain("error: the argument '--profile <CONFIG_PROFILE_V2>' cannot be used multiple times");
  });
  test('--ephemeral with -m gpt-5.5 → ephemeral-json.stdout (usage 6895); nothing to resume', () => {
    const out = path.join(sb.root, 'last.txt');
    const r = expectSample(
      [
        'exec',
        '--json',
        '--skip-git-repo-check',
        '-m',
        'gpt-5.5',
        '-s',
        'danger-full-access',
        '--ephemeral',
        '-o',
        out,
        'eph',
      ],
      'ephemeral-json',
    );
    expect(fs.readFileSync(out, 'utf8')).toBe(`MOCK-REPLY: ${hash12('eph')}`);
    const again = run(sb, 'codex', ['exec', '--json', '--skip-git-repo-check', 'resume', threadOf(r.stdout), 'x'], {
      cwd: work,
    });
    expect(again.status).toBe(1);
  });
  test('text mode → text.stdout; banner like text.stderr', () => {
    const r = run(sb, 'codex', ['exec', '--skip-git-repo-check', 'human text mode'], { cwd: work });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(sample('codex', 'text.stdout'));
    const norm = (t: string) =>
      t.replace(/tokens used\n[\d,]+\n/, 'tokens used\nN\n').replace(/provider: .*\n/, 'provider: P\n');
    expect(norm(normalize(r.stderr, sample('codex', 'text.stderr')))).toBe(norm(sample('codex', 'text.stderr')));
  });
});

describe('threads', () => {
  test('cumulative usage: 14962 → 30000 → 45115 (json, resume-json, resume-last-json); resume works from any dir', () => {
    const dir = sb.dir('threads-a');
    const other = sb.dir('threads-b');
    const r1 = expectSample(['exec', '--json', '--skip-git-repo-check', 'hi'], 'json', { cwd: dir });
    const id = threadOf(r1.stdout);
    const r2 = expectSample(
      ['-a', 'never', 'exec', '--json', '--skip-git-repo-check', 'resume', id, '--', 'again'],
      'resume-json',
      { cwd: other },
    );
    expect(threadOf(r2.stdout)).toBe(id);
    const r3 = expectSample(
      ['exec', '--json', '--skip-git-repo-check', 'resume', '--last', 'third'],
      'resume-last-json',
      { cwd: dir },
    );
    expect(threadOf(r3.stdout)).toBe(id);
    const usage = JSON.parse(r3.stdout.trim().split('\n').pop()!).usage;
    expect(usage).toEqual({
      input_tokens: 45115,
      cached_input_tokens: 0,
      cache_write_input_tokens: 0,
      output_tokens: 18,
      reasoning_output_tokens: 0,
    });
  });
  test('resume flags after `resume` (-m, -c sandbox_mode) are accepted', () => {
    const id = threadOf(run(sb, 'codex', ['exec', '--json', '--skip-git-repo-check', 'hi'], { cwd: work }).stdout);
    const r = run(
      sb,
      'codex',
      [
        'exec',
        '--json',
        '--skip-git-repo-check',
        'resume',
        '-m',
        'gpt-5.5',
        '-c',
        'sandbox_mode="workspace-write"',
        id,
        '--',
        'next',
      ],
      { cwd: work },
    );
    expect(r.status).toBe(0);
    expect(threadOf(r.stdout)).toBe(id);
  });
  test('unknown thread → resume-unknown-json.stderr, exit 1', () => {
    expectSample(
      ['exec', '--json', '--skip-git-repo-check', 'resume', '00000000-0000-4000-8000-000000000000', 'hi'],
      'resume-unknown-json',
      { code: 1 },
    );
  });
});

describe('markers', () => {
  test.each([400, 401, 500])('[E%s] → the errorNNN-json sample, exit 1', (status) => {
    expectSample(['exec', '--json', '--skip-git-repo-check', `fail [E${status}]`], `error${status}-json`, { code: 1 });
  });
  test('failed turns add no usage', () => {
    const id = threadOf(run(sb, 'codex', ['exec', '--json', '--skip-git-repo-check', '[E400]'], { cwd: work }).stdout);
    const r = run(sb, 'codex', ['exec', '--json', '--skip-git-repo-check', 'resume', id, 'ok'], { cwd: work });
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!).usage.input_tokens).toBe(14962);
  });
  test('[TOOL] → command_execution item pair before the agent message', () => {
    const r = run(sb, 'codex', ['exec', '--json', '--skip-git-repo-check', '[TOOL]'], { cwd: work });
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual([
      'thread.started',
      'turn.started',
      'item.started',
      'item.completed',
      'item.completed',
      'turn.completed',
    ]);
    expect(lines[2].item).toMatchObject({
      id: 'item_0',
      type: 'command_execution',
      exit_code: null,
      status: 'in_progress',
    });
    expect(lines[3].item).toMatchObject({
      id: 'item_0',
      type: 'command_execution',
      aggregated_output: 'mock-tool-ran\n',
      exit_code: 0,
      status: 'completed',
    });
    expect(lines[4].item).toMatchObject({ id: 'item_1', type: 'agent_message' });
  });
  test('[NOISE] and [EXIT:5]', () => {
    const r = run(sb, 'codex', ['exec', '--json', '--skip-git-repo-check', '[NOISE] [EXIT:5]'], { cwd: work });
    expect(r.status).toBe(5);
    const lines = r.stdout.trim().split('\n');
    expect(lines[1]).toBe('fake-cli: this stdout line is not JSON');
    expect(r.stdout).not.toContain('turn.completed');
  });
});

describe('argv rejections', () => {
  test('--ask-for-approval after exec → go-style-ask-for-approval-after-exec.combined, exit 2', () => {
    const r = run(sb, 'codex', ['exec', '--json', '--ask-for-approval', 'never', 'hi'], { cwd: work });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(normalize(r.stderr, '')).toBe(sample('codex', 'go-style-ask-for-approval-after-exec.combined'));
  });
  test('no --skip-git-repo-check outside a git repo → no-skip-git-repo-check.combined, exit 1; inside one it runs', () => {
    const r = run(sb, 'codex', ['exec', '--json', 'hi'], { cwd: work });
    expect(r.status).toBe(1);
    expect(normalize(r.stdout + r.stderr, '')).toBe(sample('codex', 'no-skip-git-repo-check.combined'));
    const repo = sb.dir('repo');
    fs.mkdirSync(path.join(repo, '.git'));
    const sub = sb.dir('repo/sub');
    expect(run(sb, 'codex', ['exec', '--json', 'hi'], { cwd: sub }).status).toBe(0);
  });
  test('clap errors: -s after resume, invalid values, repeated flags, extra positionals', () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['exec', '--json', '--skip-git-repo-check', 'resume', '-s', 'read-only', 'id', 'p'],
        /^error: unexpected argument '-s' found\n\n {2}tip: to pass '-s' as a value, use '-- -s'\n\nUsage: codex exec resume \[OPTIONS\] \[SESSION_ID\] \[PROMPT\]\n/,
      ],
      [
        ['exec', '--json', '--skip-git-repo-check', '-s', 'bogus', 'p'],
        /^error: invalid value 'bogus' for '--sandbox <SANDBOX_MODE>'\n {2}\[possible values: read-only, workspace-write, danger-full-access\]\n/,
      ],
      [
        ['-a', 'untrusted', 'exec', 'p'],
        /^error: invalid value 'untrusted' for '--ask-for-approval <APPROVAL_POLICY>'/,
      ],
      [
        ['exec', '--json', '--skip-git-repo-check', '--skip-git-repo-check', 'p'],
        /^error: the argument '--skip-git-repo-check' cannot be used multiple times\n/,
      ],
      [['exec', '--json', '--skip-git-repo-check', 'p', 'q'], /^error: unexpected argument 'q' found\n/],
      [['exec', '--json', '-m'], /^error: a value is required for '--model <MODEL>' but none was supplied\n/],
    ];
    for (const [args, re] of cases) {
      const r = run(sb, 'codex', args, { cwd: work });
      expect(r.status).toBe(2);
      expect(r.stderr.split('\n').slice(1).join('\n')).toMatch(re);
    }
  });
});

describe('stdin and signals', () => {
  test('an open stdin pipe blocks until EOF; the data is appended to the prompt', async () => {
    const child = start(sb, 'codex', ['exec', '--json', '--skip-git-repo-check', '--', 'p'], {
      cwd: work,
      stdin: 'pipe',
    });
    const done = collect(child);
    await sleep(800);
    expect(child.exitCode).toBeNull();
    child.stdin!.end('extra');
    const res = await done;
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('Reading additional input from stdin...\n');
    expect(res.stdout).toContain(`MOCK-REPLY: ${hash12('p\n\n<stdin>\nextra\n</stdin>')}`);
  });
  test('SIGTERM kills it by the signal', async () => {
    const child = start(sb, 'codex', ['exec', '--json', '--skip-git-repo-check', '--', '[SLEEP:5000] x'], {
      cwd: work,
    });
    const done = collect(child);
    await waitForEvent(sb, child.pid!, 'run');
    child.kill('SIGTERM');
    const res = await done;
    expect(res.signal).toBe('SIGTERM');
    expect(res.stdout).toBe('');
  });
});
