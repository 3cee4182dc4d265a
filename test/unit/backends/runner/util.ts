/** Helpers for the ProcessRunner tests: throwaway executables in a temp dir, process probes. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SupervisedRunner, type SupervisedRunnerOptions } from '../../../../src/backends/runner';
import type { RunSpec } from '../../../../src/backends/runner-types';

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-runner-'));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes an executable script (`#!/bin/sh` unless the body starts with `#!`). */
export function script(dir: string, name: string, body: string, mode = 0o755): string {
  const file = path.join(dir, name);
  const text = body.startsWith('#!') ? body : `#!/bin/sh\n${body}`;
  fs.writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`, { mode });
  fs.chmodSync(file, mode);
  return file;
}

export function spec(dir: string, command: string, extra: Partial<RunSpec> = {}): RunSpec {
  return {
    command,
    args: [],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    killGraceMs: 3000,
    mode: 'collect',
    ...extra,
  };
}

/** Fields after the `(comm)` of /proc/<pid>/stat: [state, ppid, pgrp, session, ...]. */
export function procStat(pid: number): string[] | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return raw
      .slice(raw.lastIndexOf(')') + 2)
      .trim()
      .split(' ');
  } catch {
    return undefined;
  }
}

/** Alive = signalable and not a zombie (an orphan may wait for a reaper that never comes). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  const st = procStat(pid);
  return st !== undefined && st[0] !== 'Z' && st[0] !== 'X';
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Best-effort clean-up of processes a failed test may have left behind. */
export function killQuietly(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

const runners: SupervisedRunner[] = [];

/** A runner (with its own supervisor process) that closeRunners() stops. */
export function newRunner(opts: SupervisedRunnerOptions = {}): SupervisedRunner {
  const r = new SupervisedRunner(opts);
  runners.push(r);
  return r;
}

export async function closeRunners(): Promise<void> {
  await Promise.all(runners.splice(0).map((r) => r.close()));
}
