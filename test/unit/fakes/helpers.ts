/** Helpers for the tests of the fake CLIs in test/fixtures/bin. */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const FIXTURES = path.resolve(__dirname, '../../fixtures');
export const BIN = path.join(FIXTURES, 'bin');
export const SAMPLES = path.join(FIXTURES, 'samples');

export type Cli = 'claude' | 'codex' | 'gemini';

export function sample(cli: Cli, name: string): string {
  return fs.readFileSync(path.join(SAMPLES, cli, name), 'utf8');
}

export interface Sandbox {
  root: string;
  home: string;
  state: string;
  log: string;
  /** A working directory (created) under the sandbox. */
  dir(name: string): string;
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  logLines(): Array<Record<string, unknown>>;
  cleanup(): void;
}

export function makeSandbox(): Sandbox {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-fakes-')));
  const home = path.join(root, 'home');
  const state = path.join(root, 'state');
  fs.mkdirSync(home);
  const log = path.join(root, 'calls.jsonl');
  return {
    root,
    home,
    state,
    log,
    dir(name: string) {
      const d = path.join(root, name);
      fs.mkdirSync(d, { recursive: true });
      return d;
    },
    env(extra = {}) {
      const base: NodeJS.ProcessEnv = { ...process.env };
      delete base.CODEX_HOME;
      delete base.TRACEPARENT;
      delete base.FAKE_CLI_LOG_ENV;
      return {
        ...base,
        HOME: home,
        FAKE_CLI_STATE_DIR: state,
        FAKE_CLI_LOG: log,
        PATH: `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        ...extra,
      };
    },
    logLines() {
      if (!fs.existsSync(log)) return [];
      return fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    cleanup() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface RunOpts {
  cwd: string;
  env?: Record<string, string>;
  input?: string;
}

/** Runs a fake synchronously with stdin /dev/null (stdio 'ignore') unless `input` is given. */
export function run(sb: Sandbox, cli: Cli, args: string[], opts: RunOpts): SpawnSyncReturns<string> {
  return spawnSync(path.join(BIN, cli), args, {
    cwd: opts.cwd,
    env: sb.env(opts.env),
    encoding: 'utf8',
    stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    input: opts.input,
    timeout: 20000,
  });
}

export function start(
  sb: Sandbox,
  cli: Cli,
  args: string[],
  opts: RunOpts & { stdin?: 'ignore' | 'pipe' },
): ChildProcess {
  return spawn(path.join(BIN, cli), args, {
    cwd: opts.cwd,
    env: sb.env(opts.env),
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
}

export interface Collected {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Arrival time (ms since spawn) of each stdout chunk. */
  chunks: Array<{ t: number; data: string }>;
}

export function collect(child: ChildProcess): Promise<Collected> {
  const t0 = Date.now();
  const out: Collected = { code: null, signal: null, stdout: '', stderr: '', chunks: [] };
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    out.stdout += d;
    out.chunks.push({ t: Date.now() - t0, data: d });
  });
  child.stderr!.on('data', (d: string) => {
    out.stderr += d;
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      out.code = code;
      out.signal = signal;
      resolve(out);
    });
  });
}

/** Resolves when stdout has produced `n` lines (or the process ended). */
export function waitForLines(child: ChildProcess, n: number): Promise<void> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer | string) => {
      buf += d.toString();
      if (buf.split('\n').length - 1 >= n) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.on('close', () => resolve());
  });
}

/** Polls the invocation log until `event` is logged for `pid`. */
export async function waitForEvent(
  sb: Sandbox,
  pid: number,
  event: string,
  timeoutMs = 10000,
): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const hit = sb.logLines().find((l) => l.pid === pid && l.event === event);
    if (hit) return hit;
    if (Date.now() > end) throw new Error(`no ${event} event for pid ${pid}`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Replaces every occurrence of each key by its value. */
export function subst(text: string, pairs: Array<[string, string]>): string {
  let out = text;
  for (const [from, to] of pairs) if (from) out = out.split(from).join(to);
  return out;
}

/** Normalises the `uuid` fields that are random in every run. */
export function normUuids(text: string): string {
  return text.replace(/"uuid":"[0-9a-f-]{36}"/g, '"uuid":"<uuid>"');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = st.slice(st.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function hash12(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12);
}

export function insideGit(dir: string): boolean {
  let d = dir;
  for (;;) {
    if (fs.existsSync(path.join(d, '.git'))) return true;
    const up = path.dirname(d);
    if (up === d) return false;
    d = up;
  }
}
