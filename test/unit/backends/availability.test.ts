/** BackendAvailability: executable resolution, availability, reasons, TTL cache, invalidation. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  BackendAvailability,
  resolveExecutable,
  type BackendAvailabilityOptions,
} from '../../../src/backends/availability';

let root: string;
let bin1: string;
let bin2: string;

function exe(dir: string, name: string, mode = 0o755): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, '#!/bin/sh\necho hi\n', { mode });
  fs.chmodSync(p, mode);
  return p;
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-registry-'));
  bin1 = path.join(root, 'bin1');
  bin2 = path.join(root, 'bin2');
  fs.mkdirSync(bin1);
  fs.mkdirSync(bin2);
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

type Backends = BackendAvailabilityOptions['backends'];
const allEnabled = (): Backends => ({
  claude: { enabled: true, command: '' },
  codex: { enabled: true, command: '' },
  gemini: { enabled: true, command: '' },
});

function registry(
  backends: Backends,
  PATH: string | undefined,
  extra: Partial<BackendAvailabilityOptions> = {},
): BackendAvailability {
  return new BackendAvailability({ backends, ttlMs: 30_000, env: { PATH }, ...extra });
}

describe('PATH lookup', () => {
  test('finds the default names on PATH, first match wins', async () => {
    exe(bin2, 'claude');
    const first = exe(bin1, 'codex');
    exe(bin2, 'codex');
    const r = registry(allEnabled(), `${bin1}:${bin2}`);
    expect(await r.check('claude')).toEqual({
      name: 'claude',
      enabled: true,
      available: true,
      command: path.join(bin2, 'claude'),
    });
    expect((await r.check('codex')).command).toBe(first);
  });

  test('not found on PATH → reason', async () => {
    const r = registry(allEnabled(), `${bin1}:${bin2}`);
    expect(await r.check('gemini')).toEqual({
      name: 'gemini',
      enabled: true,
      available: false,
      reason: 'backend "gemini" is not available: "gemini" not found on PATH',
    });
  });

  test('a configured bare name is looked up on PATH', async () => {
    const p = exe(bin2, 'my-claude');
    const r = registry({ ...allEnabled(), claude: { enabled: true, command: 'my-claude' } }, bin2);
    expect(await r.check('claude')).toMatchObject({ available: true, command: p });
    const r2 = registry({ ...allEnabled(), claude: { enabled: true, command: 'my-claude' } }, bin1);
    expect((await r2.check('claude')).reason).toBe('backend "claude" is not available: "my-claude" not found on PATH');
  });

  test('empty and relative PATH entries are skipped', async () => {
    exe(bin1, 'codex');
    const r = registry(allEnabled(), `::bin1:.:${bin2}`, {});
    const cwd = process.cwd();
    try {
      process.chdir(root); // "bin1" relative to the cwd would match; it must not be used
      expect((await r.check('codex')).available).toBe(false);
    } finally {
      process.chdir(cwd);
    }
    const r2 = registry(allEnabled(), `::${bin1}:`);
    expect((await r2.check('codex')).command).toBe(path.join(bin1, 'codex'));
  });

  test('no PATH at all → not found', async () => {
    const r = registry(allEnabled(), undefined);
    expect((await r.check('claude')).reason).toBe('backend "claude" is not available: "claude" not found on PATH');
  });

  test('a non-executable file or a directory with the name is skipped in favour of a later entry', async () => {
    exe(bin1, 'claude', 0o644);
    fs.mkdirSync(path.join(bin1, 'codex'));
    const c2 = exe(bin2, 'claude');
    const r = registry(allEnabled(), `${bin1}:${bin2}`);
    expect((await r.check('claude')).command).toBe(c2);
    const codex = await r.check('codex');
    expect(codex.available).toBe(false);
    expect(codex.command).toBeUndefined();
    expect(codex.reason).toBe('backend "codex" is not available: "codex" not found on PATH');
  });

  test('only a non-executable file on PATH → not available', async () => {
    exe(bin1, 'gemini', 0o644);
    const r = registry(allEnabled(), bin1);
    expect(await r.check('gemini')).toMatchObject({
      available: false,
      reason: expect.stringContaining('not found on PATH'),
    });
  });

  test('a symlink to an executable counts; a dangling one does not', async () => {
    const target = exe(bin2, 'real-claude');
    fs.symlinkSync(target, path.join(bin1, 'claude'));
    fs.symlinkSync(path.join(root, 'nowhere'), path.join(bin1, 'codex'));
    const r = registry(allEnabled(), bin1);
    expect((await r.check('claude')).command).toBe(path.join(bin1, 'claude'));
    expect((await r.check('codex')).available).toBe(false);
  });
});

describe('configured paths', () => {
  test('an absolute command is used as is, PATH is not consulted', async () => {
    const p = exe(bin2, 'gemini-wrapper');
    exe(bin1, 'gemini');
    const r = registry({ ...allEnabled(), gemini: { enabled: true, command: p } }, bin1);
    expect(await r.check('gemini')).toEqual({ name: 'gemini', enabled: true, available: true, command: p });
  });

  test('a missing absolute command → "not found" reason', async () => {
    const p = path.join(root, 'x', 'gemini');
    exe(bin1, 'gemini');
    const r = registry({ ...allEnabled(), gemini: { enabled: true, command: p } }, bin1);
    expect(await r.check('gemini')).toEqual({
      name: 'gemini',
      enabled: true,
      available: false,
      reason: `backend "gemini" is not available: "${p}" not found`,
    });
  });

  test('an absolute command that is not executable, or a directory → not available', async () => {
    const file = exe(bin1, 'claude', 0o644);
    const r = registry(
      { ...allEnabled(), claude: { enabled: true, command: file }, codex: { enabled: true, command: bin2 } },
      '',
    );
    expect(await r.check('claude')).toEqual({
      name: 'claude',
      enabled: true,
      available: false,
      reason: `backend "claude" is not available: "${file}" is not an executable file`,
    });
    expect(await r.check('codex')).toEqual({
      name: 'codex',
      enabled: true,
      available: false,
      reason: `backend "codex" is not available: "${bin2}" is not an executable file`,
    });
  });

  test('a relative path with a slash is never resolved', async () => {
    exe(bin1, 'claude');
    const cwd = process.cwd();
    try {
      process.chdir(root);
      const r = registry({ ...allEnabled(), claude: { enabled: true, command: 'bin1/claude' } }, bin1);
      expect(await r.check('claude')).toEqual({
        name: 'claude',
        enabled: true,
        available: false,
        reason: 'backend "claude" is not available: "bin1/claude" not found',
      });
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('enabled flag', () => {
  test('a disabled backend is unavailable but still reports its command', async () => {
    const p = exe(bin1, 'gemini');
    const r = registry({ ...allEnabled(), gemini: { enabled: false, command: '' } }, bin1);
    expect(await r.check('gemini')).toEqual({
      name: 'gemini',
      enabled: false,
      available: false,
      command: p,
      reason: 'backend "gemini" is disabled',
    });
  });

  test('disabled and not found → disabled reason, no command', async () => {
    const r = registry({ ...allEnabled(), codex: { enabled: false, command: '' } }, bin1);
    expect(await r.check('codex')).toEqual({
      name: 'codex',
      enabled: false,
      available: false,
      reason: 'backend "codex" is disabled',
    });
  });
});

describe('checkAll', () => {
  test('always claude, codex, gemini in that order', async () => {
    const claude = exe(bin1, 'claude');
    const gemini = exe(bin1, 'gemini');
    const r = registry({ ...allEnabled(), gemini: { enabled: false, command: '' } }, bin1);
    expect(await r.checkAll()).toEqual([
      { name: 'claude', enabled: true, available: true, command: claude },
      {
        name: 'codex',
        enabled: true,
        available: false,
        reason: 'backend "codex" is not available: "codex" not found on PATH',
      },
      { name: 'gemini', enabled: false, available: false, command: gemini, reason: 'backend "gemini" is disabled' },
    ]);
  });
});

describe('cache', () => {
  test('results are cached per backend for ttlMs', async () => {
    let t = 1_000;
    const r = registry(allEnabled(), bin1, { ttlMs: 30_000, now: () => t });
    expect((await r.check('claude')).available).toBe(false);
    expect((await r.check('codex')).available).toBe(false);
    const p = exe(bin1, 'claude');
    exe(bin1, 'codex');
    t += 29_999;
    expect((await r.check('claude')).available).toBe(false); // still cached
    t += 1;
    expect(await r.check('claude')).toMatchObject({ available: true, command: p });
    // codex's entry expired too (its own timestamp), and is refreshed independently
    expect((await r.check('codex')).available).toBe(true);
    fs.rmSync(p);
    t += 10_000;
    expect((await r.check('claude')).available).toBe(true); // cached positive answer
  });

  test('invalidate drops one entry only', async () => {
    const t = 5;
    const r = registry(allEnabled(), bin1, { now: () => t });
    const claude = exe(bin1, 'claude');
    const codex = exe(bin1, 'codex');
    expect((await r.check('claude')).available).toBe(true);
    expect((await r.check('codex')).available).toBe(true);
    fs.rmSync(claude);
    fs.rmSync(codex);
    r.invalidate('claude');
    expect(await r.check('claude')).toMatchObject({
      available: false,
      reason: expect.stringContaining('not found on PATH'),
    });
    expect((await r.check('codex')).available).toBe(true);
  });

  test('ttlMs 0 disables caching', async () => {
    const r = registry(allEnabled(), bin1, { ttlMs: 0, now: () => 42 });
    expect((await r.check('gemini')).available).toBe(false);
    exe(bin1, 'gemini');
    expect((await r.check('gemini')).available).toBe(true);
  });

  test('concurrent checks share one probe', async () => {
    exe(bin1, 'claude');
    const r = registry(allEnabled(), bin1, { now: () => 0 });
    const [a, b] = await Promise.all([r.check('claude'), r.check('claude')]);
    expect(a).toBe(b);
  });

  test('defaults: process.env PATH and Date.now', async () => {
    const r = new BackendAvailability({ backends: allEnabled(), ttlMs: 1000 });
    const st = await r.check('claude');
    expect(st.name).toBe('claude');
    expect(typeof st.available).toBe('boolean');
  });
});

describe('resolveExecutable', () => {
  test('returns the absolute path for a name on PATH', async () => {
    const p = exe(bin2, 'tool');
    expect(await resolveExecutable('tool', `${bin1}:${bin2}`)).toEqual({ found: true, path: p });
    expect(await resolveExecutable('tool', bin1)).toEqual({ found: false, why: '"tool" not found on PATH' });
  });
});
