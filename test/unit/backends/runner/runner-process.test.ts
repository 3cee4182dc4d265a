/**
 * SupervisedRunner: spawning, process groups, exit status, killing (SIGTERM → SIGKILL),
 * grandchildren, spawn errors, killAll, environment.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { SupervisedRunner } from '../../../../src/backends/runner';
import type { RunHandle } from '../../../../src/backends/runner-types';
import {
  closeRunners,
  isAlive,
  killQuietly,
  makeTempDir,
  newRunner,
  procStat,
  removeDir,
  script,
  sleep,
  spec,
  waitFor,
} from './util';

let dir: string;
const leftovers: number[] = [];

beforeAll(() => {
  dir = makeTempDir();
});

afterAll(async () => {
  await closeRunners();
  for (const pid of leftovers) killQuietly(pid);
  removeDir(dir);
});

/** Starts a lines-mode run and resolves the first line matching `re` together with the handle. */
async function startAndWaitForLine(
  runner: SupervisedRunner,
  command: string,
  re: RegExp,
  killGraceMs: number,
): Promise<{ handle: RunHandle; match: RegExpMatchArray; lines: string[] }> {
  const lines: string[] = [];
  let resolveLine!: (m: RegExpMatchArray) => void;
  const seen = new Promise<RegExpMatchArray>((r) => (resolveLine = r));
  const handle = await runner.start(
    spec(dir, command, {
      mode: 'lines',
      killGraceMs,
      onLine: (l) => {
        lines.push(l);
        const m = l.match(re);
        if (m) resolveLine(m);
      },
    }),
  );
  const match = await Promise.race([
    seen,
    handle.done.then(() => {
      throw new Error(`child exited before printing ${re}; lines: ${JSON.stringify(lines)}`);
    }),
  ]);
  return { handle, match, lines };
}

describe('spawning', () => {
  test('stdin is /dev/null', async () => {
    const cmd = script(dir, 'stdin.sh', 'readlink /proc/self/fd/0');
    const h = await newRunner().start(spec(dir, cmd));
    const out = await h.done;
    expect(out.stdout.trim()).toBe('/dev/null');
    expect(out.exit).toEqual({ code: 0, signal: null });
  });

  test('the child is its own process group and session leader', async () => {
    const cmd = script(dir, 'pgid.sh', 'echo ready; exec sleep 30');
    const runner = newRunner();
    const { handle } = await startAndWaitForLine(runner, cmd, /^ready$/, 3000);
    leftovers.push(handle.pid);
    const st = procStat(handle.pid);
    expect(st).toBeDefined();
    // Spawned by the supervisor, a child of this process: never by this process itself.
    expect(runner.supervisorPid).toBeDefined();
    expect(Number(st![1])).toBe(runner.supervisorPid); // ppid
    expect(procStat(runner.supervisorPid!)![1]).toBe(String(process.pid));
    expect(Number(st![2])).toBe(handle.pid); // pgrp
    expect(Number(st![3])).toBe(handle.pid); // session
    handle.kill('test');
    const out = await handle.done;
    expect(out.exit.signal).toBe('SIGTERM');
  });

  test('the process runs in the requested working directory', async () => {
    const cmd = script(dir, 'pwd.sh', 'pwd -P');
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub, { recursive: true });
    const out = await (await newRunner().start(spec(sub, cmd))).done;
    expect(out.stdout.trim()).toBe(fs.realpathSync(sub));
  });

  test('arguments are passed verbatim, never through a shell', async () => {
    const cmd = script(dir, 'args.sh', 'for a in "$@"; do printf "<%s>\\n" "$a"; done');
    const args = ['--', '$(touch pwned)', 'a b', '*', '; echo hi', '"q"', ''];
    const out = await (await newRunner().start(spec(dir, cmd, { args }))).done;
    expect(out.stdout).toBe(args.map((a) => `<${a}>\n`).join(''));
    expect(fs.existsSync(path.join(dir, 'pwned'))).toBe(false);
  });

  test('the environment is exactly the one given', async () => {
    const cmd = script(dir, 'env.sh', 'echo "foo=$FOO"; echo "home=${HOME-unset}"');
    const out = await (
      await newRunner().start(spec(dir, cmd, { env: { PATH: '/usr/bin:/bin', FOO: 'bar baz' } }))
    ).done;
    expect(out.stdout).toBe('foo=bar baz\nhome=unset\n');
  });

  test('ENOENT: start() rejects with the spawn error', async () => {
    const runner = newRunner();
    await expect(runner.start(spec(dir, path.join(dir, 'does-not-exist')))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(runner.running.size).toBe(0);
  });

  test('EACCES: start() rejects for a file without execute permission', async () => {
    const cmd = script(dir, 'noexec.sh', 'echo hi', 0o644);
    const runner = newRunner();
    await expect(runner.start(spec(dir, cmd))).rejects.toMatchObject({ code: 'EACCES' });
    expect(runner.running.size).toBe(0);
  });

  test('a missing working directory rejects instead of throwing', async () => {
    const cmd = script(dir, 'ok.sh', 'true');
    const runner = newRunner();
    await expect(runner.start(spec(path.join(dir, 'no-such-dir'), cmd))).rejects.toHaveProperty('code');
    expect(runner.running.size).toBe(0);
  });
});

describe('exit status', () => {
  test('exit code', async () => {
    const cmd = script(dir, 'exit7.sh', 'echo out; echo err >&2; exit 7');
    const out = await (await newRunner().start(spec(dir, cmd))).done;
    expect(out).toEqual({
      exit: { code: 7, signal: null },
      stdout: 'out\n',
      stderr: 'err\n',
      outputTooLarge: false,
      lineTooLong: false,
    });
  });

  test('death by signal', async () => {
    const cmd = script(dir, 'selfkill.sh', 'kill -KILL $$');
    const out = await (await newRunner().start(spec(dir, cmd))).done;
    expect(out.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(out.killReason).toBeUndefined();
  });
});

describe('killing', () => {
  test('kill() sends SIGTERM to the group and records the reason; idempotent', async () => {
    const cmd = script(dir, 'sleeper.sh', 'echo ready; exec sleep 30');
    const runner = newRunner();
    const { handle } = await startAndWaitForLine(runner, cmd, /^ready$/, 10_000);
    leftovers.push(handle.pid);
    handle.kill('first');
    handle.kill('second');
    const out = await handle.done;
    expect(out.exit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(out.killReason).toBe('first');
    handle.kill('after exit'); // no-op, must not throw
    expect(runner.running.size).toBe(0);
  });

  test('SIGKILL follows after the grace period when SIGTERM is ignored', async () => {
    const cmd = script(dir, 'stubborn.sh', "trap '' TERM; echo ready; while :; do sleep 1; done");
    const runner = newRunner();
    const grace = 700;
    const { handle } = await startAndWaitForLine(runner, cmd, /^ready$/, grace);
    leftovers.push(handle.pid);
    const t0 = Date.now();
    handle.kill('deadline');
    // Still alive shortly after SIGTERM.
    await sleep(150);
    expect(isAlive(handle.pid)).toBe(true);
    const out = await handle.done;
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(grace - 50);
    expect(elapsed).toBeLessThan(grace + 10_000);
    expect(out.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(out.killReason).toBe('deadline');
    expect(isAlive(handle.pid)).toBe(false);
  });

  test('a grandchild is killed after the child exits normally (even one holding stdout open)', async () => {
    // The grandchild inherits stdout: `done` can only resolve once it is gone.
    const cmd = script(dir, 'orphan.sh', 'sleep 30 &\necho "gc $!"\nexit 0');
    const runner = newRunner();
    const h = await runner.start(spec(dir, cmd, { killGraceMs: 30_000 }));
    const out = await h.done;
    expect(out.exit).toEqual({ code: 0, signal: null });
    const gc = Number(/^gc (\d+)$/m.exec(out.stdout)![1]);
    leftovers.push(gc);
    expect(await waitFor(() => !isAlive(gc), 2000)).toBe(true);
  });

  test('a grandchild not holding the pipes is killed after a normal exit', async () => {
    const cmd = script(dir, 'orphan2.sh', 'sleep 30 >/dev/null 2>&1 </dev/null &\necho "gc $!"\nexit 3');
    const out = await (await newRunner().start(spec(dir, cmd))).done;
    expect(out.exit.code).toBe(3);
    const gc = Number(/^gc (\d+)$/m.exec(out.stdout)![1]);
    leftovers.push(gc);
    expect(await waitFor(() => !isAlive(gc), 2000)).toBe(true);
  });

  test('after kill(), a grandchild ignoring SIGTERM is SIGKILLed as soon as the child exits', async () => {
    const cmd = script(
      dir,
      'family.sh',
      `sh -c 'trap "" TERM; echo "gc $$"; while :; do sleep 1; done' &\nexec sleep 30`,
    );
    const runner = newRunner();
    const grace = 20_000;
    const { handle, match } = await startAndWaitForLine(runner, cmd, /^gc (\d+)$/, grace);
    const gc = Number(match[1]);
    leftovers.push(handle.pid, gc);
    expect(isAlive(gc)).toBe(true);
    const t0 = Date.now();
    handle.kill('canceled: client disconnected');
    const out = await handle.done;
    expect(Date.now() - t0).toBeLessThan(grace / 2);
    expect(out.exit.signal).toBe('SIGTERM');
    expect(out.killReason).toBe('canceled: client disconnected');
    expect(await waitFor(() => !isAlive(gc), 2000)).toBe(true);
  });

  const hasSetsid = ['/usr/bin/setsid', '/bin/setsid'].some((p) => fs.existsSync(p));
  (hasSetsid ? test : test.skip)(
    'a process that left the group and holds stdout does not keep done pending forever',
    async () => {
      const cmd = script(dir, 'escape.sh', `setsid sh -c 'echo "esc $$"; exec sleep 30' &\nsleep 0.3\nexit 0`);
      const runner = newRunner({ drainTimeoutMs: 300 });
      const lines: string[] = [];
      const h = await runner.start(spec(dir, cmd, { mode: 'lines', onLine: (l) => lines.push(l) }));
      const out = await h.done;
      const esc = Number(/^esc (\d+)$/.exec(lines[0] ?? '')?.[1]);
      if (esc) leftovers.push(esc);
      killQuietly(esc);
      expect(out.exit).toEqual({ code: 0, signal: null });
      expect(lines).toEqual([`esc ${esc}`]);
      expect(runner.running.size).toBe(0);
    },
  );

  test('killAll kills every live group and resolves when all are done', async () => {
    const cmd = script(dir, 'many.sh', 'exec sleep 30');
    const runner = newRunner();
    const handles = await Promise.all([1, 2, 3].map(() => runner.start(spec(dir, cmd))));
    for (const h of handles) leftovers.push(h.pid);
    expect(runner.running.size).toBe(3);
    await runner.killAll('shutdown');
    expect(runner.running.size).toBe(0);
    for (const h of handles) {
      const out = await h.done;
      expect(out.killReason).toBe('shutdown');
      expect(out.exit.signal).toBe('SIGTERM');
      expect(isAlive(h.pid)).toBe(false);
    }
    await runner.killAll('again'); // nothing left: resolves at once
  });

  test('running tracks live handles', async () => {
    const cmd = script(dir, 'quick.sh', 'echo hi');
    const runner = newRunner();
    const h = await runner.start(spec(dir, cmd));
    expect(runner.running.has(h)).toBe(true);
    await h.done;
    expect(runner.running.has(h)).toBe(false);
  });
});

describe('user switch (agent user)', () => {
  const asRoot = process.getuid?.() === 0;
  const idCmd = { command: '/bin/sh', args: ['-c', 'id -u; id -g; id -G'] };
  (asRoot ? test : test.skip)('uid/gid without groups: the CLI keeps only its primary group', async () => {
    const out = await (
      await newRunner().start({ ...spec('/', idCmd.command, { args: idCmd.args }), uid: 65534, gid: 65534 })
    ).done;
    expect(out.stdout).toBe('65534\n65534\n65534\n');
  });

  (asRoot ? test : test.skip)('uid/gid with supplementary groups', async () => {
    const h = await newRunner().start({
      ...spec('/', idCmd.command, { args: idCmd.args }),
      uid: 65534,
      gid: 65534,
      groups: [65534, 100, 4242],
    });
    const out = await h.done;
    expect(out.exit).toEqual({ code: 0, signal: null });
    expect(out.stdout.split('\n').slice(0, 2)).toEqual(['65534', '65534']);
    expect(
      out.stdout
        .split('\n')[2]!
        .split(' ')
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([100, 4242, 65534]);
  });
});
