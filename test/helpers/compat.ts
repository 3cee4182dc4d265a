/** Helpers of the OpenAI/Anthropic-compatible API tests: fake replies, argv look-ups, SSE parsing. */
import crypto from 'node:crypto';
import { isCleanupArgv, type FakeLogEntry, type TestEnv } from './server';

/** What the fake CLIs answer for a prompt (test/fixtures/README.md "Reply text"). */
export const reply = (prompt: string): string =>
  `MOCK-REPLY: ${crypto.createHash('sha256').update(prompt).digest('hex').slice(0, 12)}`;

/** The codex/gemini form of a prompt with a system prompt (SPEC §5.2). */
export const withSystem = (system: string, prompt: string): string =>
  `[System instructions]\n${system}\n[End of system instructions]\n\n${prompt}`;

/** CLI runs so far (gemini's `--delete-session` clean-up invocations left out). */
export function runs(t: TestEnv): FakeLogEntry[] {
  return t.starts().filter((e) => !isCleanupArgv(e.argv));
}

export function lastRun(t: TestEnv): FakeLogEntry {
  const all = runs(t);
  if (all.length === 0) throw new Error('no CLI run was logged');
  return all[all.length - 1]!;
}

/** The `--model` / `-m` / `--model=` value of an argv, if any. */
export function modelArg(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return undefined;
    if (a === '--model' || a === '-m') return argv[i + 1];
    if (a.startsWith('--model=')) return a.slice('--model='.length);
  }
  return undefined;
}

/** The value following `flag` in an argv, if any. */
export function flagValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

export interface SseFrame {
  event?: string;
  data?: string;
  comment?: string;
}

/** Splits an SSE body into frames (blank-line separated); every frame must end with `\n\n`. */
export function parseSse(text: string): SseFrame[] {
  if (text !== '' && !text.endsWith('\n\n'))
    throw new Error(`SSE body does not end with a blank line: ${JSON.stringify(text.slice(-80))}`);
  return text
    .split('\n\n')
    .filter((f) => f !== '')
    .map((raw) => {
      const frame: SseFrame = {};
      for (const line of raw.split('\n')) {
        if (line.startsWith(':')) frame.comment = line.slice(1).trim();
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: ')) frame.data = line.slice(6);
        else throw new Error(`unexpected SSE line ${JSON.stringify(line)}`);
      }
      return frame;
    });
}
