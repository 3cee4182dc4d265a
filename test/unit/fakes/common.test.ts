/** Behaviour shared by the three fakes: invocation log, markers, signals. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, collect, isAlive, makeSandbox, run, sleep, start, waitForEvent, type Cli, type Sandbox } from './helpers';

let sb: Sandbox;
let work: string;

beforeAll(() => {
  sb = makeSandbox();
  work = sb.dir('work1');
});
afterAll(() => sb.cleanup());

const ARGS: Record<Cli, (prompt: string) => string[]> = {
  claude: (p) => ['-p', '--output-format', 'stream-json', '--verbose', '--include-partial-messages', '--', p],
  codex: (p) => ['exec', '--json', '--skip-git-repo-check', '--', p],
  gemini: (p) => ['--output-format=stream-json', '--skip-trust', `--prompt=${p}`],
};
const CLIS: Cli[] = ['claude', 'codex', 'gemini'];

describe('invocation log', () => {
  test('start and end lines with argv, cwd, pid, pgid, stdin kind and TRACEPARENT', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    for (const cli of CLIS) {
      const r = run(sb, cli, ARGS[cli]('hi'), {
        cwd: work,
        env: { TRACEPARENT: tp, FAKE_CLI_LOG_ENV: 'MY_VAR', MY_VAR: 'v' },
      });
      expect(r.status).toBe(0);
      const lines = sb.logLines().filter((l) => l.pid === r.pid);
      expect(lines.map((l) => l.event)).toEqual(['start', 'run', 'end']);
      const [s, runEv, e] = lines;
      expect(runEv).toMatchObject({ cli, prompt: 'hi', markers: {} });
      expect(typeof runEv.session_id).toBe('string');
      expect(s).toMatchObject({
        cli,
        argv: ARGS[cli]('hi'),
        cwd: work,
        pid: r.pid,
        stdin: 'null',
        env: { TRACEPARENT: tp, MY_VAR: 'v' },
      });
      expect(typeof s.pgid).toBe('number');
      expect(s.envKeys).toEqual(expect.arrayContaining(['HOME', 'PATH', 'TRACEPARENT']));
      expect(typeof s.time).toBe('number');
      expect(e).toMatchObject({ cli, pid: r.pid, code: 0 });
      expect(lines).toHaveLength(3);
    }
  });
  test('stdin kinds: pipe, file; detached child gets its own process group', () => {
    const file = path.join(sb.root, 'in.txt');
    fs.writeFileSync(file, '');
    const fd = fs.openSync(file, 'r');
    const r1 = spawnSync(path.join(BIN, 'gemini'), ['-o', 'json', '-p', 'hi'], {
      cwd: work,
      env: sb.env(),
      stdio: [fd, 'pipe', 'pipe'],
    });
    fs.closeSync(fd);
    const r2 = spawnSync(path.join(BIN, 'gemini'), ['-o', 'json', '-p', 'hi'], { cwd: work, env: sb.env(), input: '' });
    const byPid = (pid: number) => sb.logLines().find((l) => l.event === 'start' && l.pid === pid)!;
    expect(byPid(r1.pid).stdin).toBe('file');
    expect(byPid(r2.pid).stdin).toBe('pipe');
  });
  test('process group of a detached spawn equals its pid', async () => {
    const child = require('child_process').spawn(path.join(BIN, 'claude'), ['-p', '--', 'hi'], {
      cwd: work,
      env: sb.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const res = await collect(child);
    expect(res.code).toBe(0);
    const s = sb.logLines().find((l) => l.event === 'start' && l.pid === child.pid)!;
    expect(s.pgid).toBe(child.pid);
  });
  test('rejected invocations are logged too', () => {
    const r = run(sb, 'gemini', ['--color', '-p', 'x'], { cwd: work });
    expect(r.status).toBe(1);
    const lines = sb.logLines().filter((l) => l.pid === r.pid);
    expect(lines.map((l) => l.event)).toEqual(['start', 'end']);
    expect(lines[1].code).toBe(1);
  });
});

describe('markers', () => {
  test.each(CLIS)('%s: [LONGLINE:n] prints one n-byte line first; [BIGOUT:n] about n bytes', (cli) => {
    const a = run(sb, cli, ARGS[cli]('[LONGLINE:200000]'), { cwd: work });
    expect(a.status).toBe(0);
    const lines = a.stdout.split('\n');
    expect(lines[0]).toBe('x'.repeat(200000));
    expect(() => JSON.parse(lines[1])).not.toThrow();
    const b = run(sb, cli, ARGS[cli]('[BIGOUT:300000]'), { cwd: work });
    expect(b.status).toBe(0);
    expect(b.stdout.length).toBeGreaterThanOrEqual(300000);
    expect(b.stdout.length).toBeLessThan(320000);
    expect(Math.max(...b.stdout.split('\n').map((l) => l.length))).toBeLessThanOrEqual(64 * 1024);
  });
  test.each(CLIS)('%s: [SLEEP:ms] delays all output; [SLOW:ms] paces the lines', async (cli) => {
    const a = await collect(start(sb, cli, ARGS[cli]('[SLEEP:400]'), { cwd: work }));
    expect(a.code).toBe(0);
    expect(a.chunks[0].t).toBeGreaterThanOrEqual(380);
    const b = await collect(start(sb, cli, ARGS[cli]('[SLOW:80]'), { cwd: work }));
    expect(b.code).toBe(0);
    const lines = b.stdout.trim().split('\n').length;
    expect(b.chunks.length).toBeGreaterThanOrEqual(Math.min(lines, 3));
    const last = b.chunks[b.chunks.length - 1].t;
    expect(last).toBeGreaterThanOrEqual(80 * lines - 40);
  });
  test.each(CLIS)('%s: [GRANDCHILD] leaves a logged sleep in the same process group', async (cli) => {
    const child = require('child_process').spawn(path.join(BIN, cli), ARGS[cli]('[GRANDCHILD]'), {
      cwd: work,
      env: sb.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const res = await collect(child);
    expect(res.code).toBe(0);
    const ev = sb.logLines().find((l) => l.event === 'grandchild' && l.parent === child.pid)!;
    expect(ev).toBeDefined();
    const gpid = ev.pid as number;
    try {
      expect(isAlive(gpid)).toBe(true);
      const stat = fs.readFileSync(`/proc/${gpid}/stat`, 'utf8');
      expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])).toBe(child.pid);
    } finally {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
  test.each(CLIS)('%s: [IGNORE_TERM] survives SIGTERM, dies on SIGKILL', async (cli) => {
    const child = start(sb, cli, ARGS[cli]('[IGNORE_TERM] [SLEEP:1500]'), { cwd: work });
    const done = collect(child);
    const runEv = await waitForEvent(sb, child.pid!, 'run');
    expect(runEv.markers).toMatchObject({ ignoreTerm: true, sleepMs: 1500 });
    child.kill('SIGTERM');
    await sleep(300);
    expect(isAlive(child.pid!)).toBe(true);
    child.kill('SIGKILL');
    const res = await done;
    expect(res.signal).toBe('SIGKILL');
    expect(sb.logLines().some((l) => l.event === 'signal' && l.pid === child.pid && l.ignored === true)).toBe(true);
  });
  test.each(CLIS)('%s: [NOISE] adds one non-JSON stdout line', (cli) => {
    const r = run(sb, cli, ARGS[cli]('[NOISE]'), { cwd: work });
    expect(r.status).toBe(0);
    const bad = r.stdout
      .trim()
      .split('\n')
      .filter((l) => {
        try {
          JSON.parse(l);
          return false;
        } catch {
          return true;
        }
      });
    expect(bad).toEqual(['fake-cli: this stdout line is not JSON']);
  });
  test.each(CLIS)('%s: [EXIT:7] drops the success marker and exits 7', (cli) => {
    const r = run(sb, cli, ARGS[cli]('[EXIT:7]'), { cwd: work });
    expect(r.status).toBe(7);
    const types = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).type);
    expect(types).not.toContain('result');
    expect(types).not.toContain('turn.completed');
    expect(types.length).toBeGreaterThan(1);
  });
});

describe('signals', () => {
  test('SIGTERM: claude/codex die by the signal (end line records it), gemini exits 0', async () => {
    for (const cli of CLIS) {
      const child = start(sb, cli, ARGS[cli]('[SLEEP:3000]'), { cwd: work });
      const done = collect(child);
      await waitForEvent(sb, child.pid!, 'run');
      child.kill('SIGTERM');
      const res = await done;
      const end = sb.logLines().find((l) => l.event === 'end' && l.pid === child.pid)!;
      if (cli === 'gemini') {
        expect(res.code).toBe(0);
        expect(end.code).toBe(0);
      } else {
        expect(res.signal).toBe('SIGTERM');
        expect(end).toMatchObject({ code: null, signal: 'SIGTERM' });
      }
      expect(res.stdout).toBe('');
    }
  });
});
