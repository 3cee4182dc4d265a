/**
 * SupervisedRunner: stdout collection and its cap, line splitting and its cap, backpressure,
 * the stderr tail.
 */
import { STDERR_TAIL_BYTES, type SupervisedRunOutcome, type SupervisedRunner } from '../../../../src/backends/runner';
import type { RunSpec } from '../../../../src/backends/runner-types';
import {
  closeRunners,
  isAlive,
  killQuietly,
  makeTempDir,
  newRunner,
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

async function run(command: string, extra: Partial<RunSpec> = {}): Promise<{ out: SupervisedRunOutcome; pid: number }> {
  const h = await newRunner().start(spec(dir, command, extra));
  leftovers.push(h.pid);
  return { out: (await h.done) as SupervisedRunOutcome, pid: h.pid };
}

async function runLines(
  command: string,
  extra: Partial<RunSpec> = {},
): Promise<{ out: SupervisedRunOutcome; lines: string[]; pid: number }> {
  const lines: string[] = [];
  const { out, pid } = await run(command, { mode: 'lines', onLine: (l) => lines.push(l), ...extra });
  return { out, lines, pid };
}

describe('collect mode', () => {
  test('collects stdout; multi-byte characters split across writes are decoded intact', async () => {
    const cmd = script(
      dir,
      'split-utf8.js',
      `#!/usr/bin/env node
const w = (b) => new Promise((r) => process.stdout.write(Buffer.from(b), r));
(async () => {
  await w([0x61, 0xc3]);            // "a" + first byte of "é"
  await new Promise((r) => setTimeout(r, 80));
  await w([0xa9, 0xe2, 0x82]);      // rest of "é" + two bytes of "€"
  await new Promise((r) => setTimeout(r, 80));
  await w([0xac, 0x0a]);            // rest of "€" + newline
})();`,
    );
    const { out } = await run(cmd, { maxOutputBytes: 1000 });
    expect(out.stdout).toBe('aé€\n');
    expect(out.outputTooLarge).toBe(false);
    expect(out.exit.code).toBe(0);
  });

  test('output of exactly maxOutputBytes is fine', async () => {
    const cmd = script(dir, 'exact.sh', 'printf 0123456789');
    const { out } = await run(cmd, { maxOutputBytes: 10 });
    expect(out.stdout).toBe('0123456789');
    expect(out.outputTooLarge).toBe(false);
  });

  test('exceeding maxOutputBytes → outputTooLarge and the child is killed', async () => {
    const cmd = script(dir, 'flood.sh', 'while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done');
    const { out, pid } = await run(cmd, { maxOutputBytes: 10_000 });
    expect(out.outputTooLarge).toBe(true);
    expect(out.lineTooLong).toBe(false);
    expect(out.exit.code).toBeNull();
    expect(out.exit.signal).not.toBeNull();
    expect(Buffer.byteLength(out.stdout)).toBeLessThanOrEqual(10_000);
    expect(out.killReason).toBeUndefined();
    expect(isAlive(pid)).toBe(false);
  });

  test('collect mode never calls onLine', async () => {
    const cmd = script(dir, 'two.sh', 'echo a; echo b');
    const onLine = jest.fn();
    const { out } = await run(cmd, { onLine });
    expect(out.stdout).toBe('a\nb\n');
    expect(onLine).not.toHaveBeenCalled();
  });
});

describe('lines mode', () => {
  test('splits on \\n, strips a trailing \\r, keeps empty lines, delivers the final partial line', async () => {
    const cmd = script(dir, 'crlf.sh', "printf 'a\\r\\nb\\n\\nc\\r\\n\\r\\nmid\\rdle\\nlast'");
    const { out, lines } = await runLines(cmd);
    expect(lines).toEqual(['a', 'b', '', 'c', '', 'mid\rdle', 'last']);
    expect(out.stdout).toBe('');
    expect(out.exit.code).toBe(0);
  });

  test('lines arrive in order, across many chunks', async () => {
    const cmd = script(dir, 'seq.sh', 'i=1; while [ $i -le 20000 ]; do echo "line $i"; i=$((i+1)); done');
    const { lines } = await runLines(cmd);
    expect(lines).toHaveLength(20000);
    lines.forEach((l, i) => expect(l).toBe(`line ${i + 1}`));
  });

  test('a line split across writes (and inside a multi-byte character) is joined', async () => {
    const cmd = script(
      dir,
      'split-line.js',
      `#!/usr/bin/env node
const w = (b) => new Promise((r) => process.stdout.write(Buffer.from(b), r));
const pause = () => new Promise((r) => setTimeout(r, 60));
(async () => {
  await w('{"a":"h'); await pause();
  await w([0xc3]); await pause();
  await w([0xa9]); await pause();
  await w('llo"}\\r'); await pause();
  await w('\\nnext');
})();`,
    );
    const { lines } = await runLines(cmd);
    expect(lines).toEqual(['{"a":"héllo"}', 'next']);
  });

  test('onLine is called synchronously, one call per line', async () => {
    const cmd = script(dir, 'burst.sh', "printf 'one\\ntwo\\nthree\\n'");
    const order: string[] = [];
    await runLines(cmd, {
      onLine: (l) => {
        order.push(`start ${l}`);
        order.push(`end ${l}`);
      },
    });
    expect(order).toEqual(['start one', 'end one', 'start two', 'end two', 'start three', 'end three']);
  });

  test('a line of exactly maxLineBytes (plus \\r) is delivered', async () => {
    const cmd = script(dir, 'exact-line.sh', "printf '0123456789\\r\\n0123456789\\nabc'");
    const { out, lines } = await runLines(cmd, { maxLineBytes: 10 });
    expect(lines).toEqual(['0123456789', '0123456789', 'abc']);
    expect(out.lineTooLong).toBe(false);
  });

  test('a line longer than maxLineBytes → lineTooLong, killed, not delivered, nothing after it', async () => {
    const cmd = script(
      dir,
      'longline.sh',
      "echo short\nhead -c 5000 /dev/zero | tr '\\0' a\necho\necho after\nexec sleep 30",
    );
    const { out, lines, pid } = await runLines(cmd, { maxLineBytes: 1000, killGraceMs: 30_000 });
    expect(lines).toEqual(['short']);
    expect(out.lineTooLong).toBe(true);
    expect(out.outputTooLarge).toBe(false);
    expect(out.exit.signal).toBe('SIGTERM');
    expect(out.killReason).toBeUndefined();
    expect(isAlive(pid)).toBe(false);
  });

  test('an endless unterminated line is cut off (memory stays bounded)', async () => {
    const cmd = script(dir, 'endless.sh', 'while :; do printf aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; done');
    const { out, lines } = await runLines(cmd, { maxLineBytes: 4096 });
    expect(lines).toEqual([]);
    expect(out.lineTooLong).toBe(true);
    expect(out.exit.code).toBeNull();
  });

  test('a final unterminated line over the limit is not delivered', async () => {
    const cmd = script(dir, 'long-tail.sh', "echo ok\nprintf '%s' 0123456789012");
    const { out, lines } = await runLines(cmd, { maxLineBytes: 10 });
    expect(lines).toEqual(['ok']);
    expect(out.lineTooLong).toBe(true);
  });

  test('an exception in onLine kills the run and stops delivery', async () => {
    const cmd = script(dir, 'thrower.sh', 'echo one; echo boom; echo three; exec sleep 30');
    const lines: string[] = [];
    const { out } = await run(cmd, {
      mode: 'lines',
      onLine: (l) => {
        lines.push(l);
        if (l === 'boom') throw new Error('parser failed');
      },
    });
    expect(lines).toEqual(['one', 'boom']);
    expect((out.lineCallbackError as Error).message).toBe('parser failed');
    expect(out.exit.signal).toBe('SIGTERM');
  });

  test('pause() stops reading stdout and resume() continues; exit while paused loses nothing', async () => {
    const cmd = script(dir, 'slow.sh', 'echo one; sleep 0.3; echo two; echo three; printf four');
    const runner = newRunner({ drainTimeoutMs: 100 });
    const lines: string[] = [];
    let handle: { pause(): void } | undefined;
    const h = await runner.start(
      spec(dir, cmd, {
        mode: 'lines',
        onLine: (l) => {
          lines.push(l);
          if (l === 'one') handle!.pause();
        },
      }),
    );
    handle = h;
    leftovers.push(h.pid);
    let finished = false;
    void h.done.then(() => (finished = true));
    expect(await waitFor(() => lines.length === 1)).toBe(true);
    // The child exits after ~0.3 s; while paused nothing more is read and done stays pending
    // (well past the drain timeout, which must not fire while the consumer is pausing).
    await sleep(1200);
    expect(lines).toEqual(['one']);
    expect(finished).toBe(false);
    h.resume();
    const out = await h.done;
    expect(lines).toEqual(['one', 'two', 'three', 'four']);
    expect(out.exit.code).toBe(0);
  });

  test('kill() while paused still lets done resolve (stdout is drained and dropped)', async () => {
    const cmd = script(
      dir,
      'paused-kill.sh',
      'echo one; i=0; while [ $i -lt 2000 ]; do echo "x $i"; i=$((i+1)); done; exec sleep 30',
    );
    const runner = newRunner();
    let h!: Awaited<ReturnType<SupervisedRunner['start']>>;
    const lines: string[] = [];
    // eslint-disable-next-line prefer-const -- the callback reads `h` after this assignment
    h = await runner.start(
      spec(dir, cmd, {
        mode: 'lines',
        onLine: (l) => {
          lines.push(l);
          h.pause();
        },
      }),
    );
    leftovers.push(h.pid);
    expect(await waitFor(() => lines.length >= 1)).toBe(true);
    await sleep(200);
    const seen = lines.length;
    h.kill('canceled: client disconnected');
    const out = await h.done;
    expect(lines.length).toBe(seen);
    expect(out.killReason).toBe('canceled: client disconnected');
  });

  test('kill() after the child exited while the consumer pauses: done resolves, reason recorded', async () => {
    const cmd = script(dir, 'exit-paused.sh', 'echo one; sleep 0.2; echo two; echo three');
    const runner = newRunner({ drainTimeoutMs: 100 });
    let h!: Awaited<ReturnType<SupervisedRunner['start']>>;
    const lines: string[] = [];
    // eslint-disable-next-line prefer-const -- the callback reads `h` after this assignment
    h = await runner.start(
      spec(dir, cmd, {
        mode: 'lines',
        onLine: (l) => {
          lines.push(l);
          h.pause();
        },
      }),
    );
    expect(await waitFor(() => !isAlive(h.pid))).toBe(true);
    await sleep(300);
    expect(lines).toEqual(['one']);
    h.kill('canceled: client disconnected');
    const out = await h.done;
    expect(lines).toEqual(['one']);
    expect(out.exit).toEqual({ code: 0, signal: null });
    expect(out.killReason).toBe('canceled: client disconnected');
    h.kill('after done'); // no-op
  });
});

describe('stderr', () => {
  test('only the last 64 KiB of stderr are kept', async () => {
    const cmd = script(
      dir,
      'stderr-flood.js',
      `#!/usr/bin/env node
const parts = ['A'.repeat(50000), 'B'.repeat(50000), 'C'.repeat(30000), 'END'];
(async () => {
  for (const p of parts) await new Promise((r) => process.stderr.write(p, r));
  process.stdout.write('ok');
})();`,
    );
    const { out } = await run(cmd);
    expect(out.stdout).toBe('ok');
    expect(STDERR_TAIL_BYTES).toBe(65536);
    expect(out.stderr).toHaveLength(65536);
    expect(out.stderr.endsWith('C'.repeat(30000) + 'END')).toBe(true);
    expect(out.stderr.startsWith('B')).toBe(true);
  });

  test('the tail does not start with a broken multi-byte character', async () => {
    const cmd = script(
      dir,
      'stderr-utf8.js',
      `#!/usr/bin/env node
process.stderr.write('xx' + 'é'.repeat(40000), () => {});`,
    );
    const { out } = await run(cmd);
    expect(out.stderr).not.toContain('\uFFFD');
    expect(out.stderr).toMatch(/^é+$/);
    expect(Buffer.byteLength(out.stderr)).toBeGreaterThanOrEqual(65535);
  });

  test('stderr is captured in lines mode too and never reaches onLine', async () => {
    const cmd = script(dir, 'both.sh', 'echo out; echo err >&2; echo out2');
    const { out, lines } = await runLines(cmd);
    expect(lines).toEqual(['out', 'out2']);
    expect(out.stderr).toBe('err\n');
  });
});

describe('ordering', () => {
  test('no line is delivered before start() has resolved and its awaiting code ran', async () => {
    // The output is there long before the spawn is reported: it must still wait.
    const cmd = script(dir, 'eager.sh', 'echo first; echo second');
    for (let i = 0; i < 5; i++) {
      let started = false;
      const early: string[] = [];
      const h = await newRunner().start(
        spec(dir, cmd, {
          mode: 'lines',
          onLine: (l) => {
            if (!started) early.push(l);
          },
        }),
      );
      started = true;
      await h.done;
      expect(early).toEqual([]);
    }
  });
});
