import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileSessionStore, type FileSessionStoreOptions } from '../../../src/sessions/file';
import type { NewSession } from '../../../src/sessions/types';

export interface LogCall {
  level: 'warn' | 'info' | 'debug';
  msg: string;
  meta?: object;
}

export function recordingLogger(): {
  calls: LogCall[];
  warn(m: string, meta?: object): void;
  info(m: string, meta?: object): void;
  debug(m: string, meta?: object): void;
} {
  const calls: LogCall[] = [];
  return {
    calls,
    warn: (msg, meta) => calls.push({ level: 'warn', msg, meta }),
    info: (msg, meta) => calls.push({ level: 'info', msg, meta }),
    debug: (msg, meta) => calls.push({ level: 'debug', msg, meta }),
  };
}

const made: string[] = [];

export function tmpHome(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-sessions-'));
  made.push(d);
  return d;
}

export function cleanupHomes(): void {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export class Clock {
  t: number;
  constructor(iso = '2026-01-01T00:00:00.000Z') {
    this.t = Date.parse(iso);
  }
  now = (): Date => new Date(this.t);
  advance(ms: number): void {
    this.t += ms;
  }
}

export function newSession(over: Partial<NewSession> = {}): NewSession {
  return { backend: 'claude', working_dir: '/tmp/project', tags: ['api'], status: 'completed', turn_count: 1, ...over };
}

export async function openStore(dir: string, opts: Partial<FileSessionStoreOptions> = {}): Promise<FileSessionStore> {
  return FileSessionStore.open({ dir, ...opts });
}

/**
 * For a test file whose tests open stores: returns `open`, which opens a store and waits for its
 * background start-up check (record files vs index); after each test the stores it opened are
 * closed and the temporary homes removed.
 */
export function storesClosedAfterEach(): (
  dir: string,
  opts?: Partial<FileSessionStoreOptions>,
) => Promise<FileSessionStore> {
  const stores: FileSessionStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    cleanupHomes();
  });
  return async (dir, opts = {}) => {
    const s = await openStore(dir, opts);
    stores.push(s);
    await s.idle();
    return s;
  };
}

export function dirFiles(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** Expects `p` to reject with an ApiError of `code` (and `message` when given). */
export async function expectApiError(p: Promise<unknown>, code: string, message?: string | RegExp): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeDefined();
  expect((err as { code?: string }).code).toBe(code);
  if (message !== undefined) {
    if (typeof message === 'string') expect((err as Error).message).toBe(message);
    else expect((err as Error).message).toMatch(message);
  }
}
