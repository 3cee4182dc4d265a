import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { KeyRegistry } from '../../../src/auth/registry';
import {
  extractCredential,
  keySourceOf,
  parseKeyList,
  resolveApiKeys,
  startKeyRefresh,
} from '../../../src/auth/sources';

let binDir: string;
let logFile: string;

const FAKE_GOPASS = `#!/bin/sh
# Fake gopass for tests: behaviour chosen by FAKE_GOPASS_MODE; argv logged to FAKE_GOPASS_LOG.
if [ -n "$FAKE_GOPASS_LOG" ]; then
  for a in "$@"; do printf '%s\\n' "$a" >> "$FAKE_GOPASS_LOG"; done
  printf -- '---\\n' >> "$FAKE_GOPASS_LOG"
fi
case "$FAKE_GOPASS_MODE" in
  ok) printf ' key-one , key-two,,\\n' ;;
  single) printf 'only-key\\n' ;;
  file) cat "$FAKE_GOPASS_FILE" ;;
  empty) printf '' ;;
  blank) printf ' , ,\\n' ;;
  fail) echo "Error: entry is not in the password store" >&2; exit 11 ;;
  hang) sleep 30 ;;
  *) echo "unknown mode" >&2; exit 3 ;;
esac
`;

beforeAll(() => {
  binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-gopass-'));
  const script = path.join(binDir, 'gopass');
  fs.writeFileSync(script, FAKE_GOPASS, { mode: 0o755 });
  logFile = path.join(binDir, 'calls.log');
});

afterAll(() => {
  fs.rmSync(binDir, { recursive: true, force: true });
});

beforeEach(() => {
  fs.rmSync(logFile, { force: true });
});

function env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.CLINVK_API_KEYS;
  delete base.CLINVK_API_KEYS_GOPASS_PATH;
  return { ...base, PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}`, FAKE_GOPASS_LOG: logFile, ...extra };
}

function calls(): string[][] {
  if (!fs.existsSync(logFile)) return [];
  const out: string[][] = [];
  let cur: string[] = [];
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (line === '---') {
      out.push(cur);
      cur = [];
    } else if (line !== '') cur.push(line);
  }
  return out;
}

describe('parseKeyList', () => {
  it('trims and drops empty entries', () => {
    expect(parseKeyList(' a, b ,,c,')).toEqual(['a', 'b', 'c']);
    expect(parseKeyList('')).toEqual([]);
    expect(parseKeyList(undefined)).toEqual([]);
    expect(parseKeyList(' , ')).toEqual([]);
  });
});

describe('resolveApiKeys', () => {
  it('no source → [] (auth off)', async () => {
    await expect(resolveApiKeys({ env: env() })).resolves.toEqual([]);
    await expect(resolveApiKeys({ env: env(), gopassPath: '' })).resolves.toEqual([]);
    expect(calls()).toEqual([]);
  });

  it('CLINVK_API_KEYS wins over gopass', async () => {
    const keys = await resolveApiKeys({
      env: env({ CLINVK_API_KEYS: ' k1 ,k2,, ', CLINVK_API_KEYS_GOPASS_PATH: 'clinvk/keys', FAKE_GOPASS_MODE: 'ok' }),
      gopassPath: 'x/y',
    });
    expect(keys).toEqual(['k1', 'k2']);
    expect(calls()).toEqual([]);
  });

  it('an empty CLINVK_API_KEYS falls through to gopass', async () => {
    const keys = await resolveApiKeys({
      env: env({ CLINVK_API_KEYS: ' , ', FAKE_GOPASS_MODE: 'single' }),
      gopassPath: 'a/b',
    });
    expect(keys).toEqual(['only-key']);
  });

  it('reads gopass from the config path with `gopass show --password <path>`', async () => {
    const keys = await resolveApiKeys({ env: env({ FAKE_GOPASS_MODE: 'ok' }), gopassPath: 'clinvk/api_keys' });
    expect(keys).toEqual(['key-one', 'key-two']);
    expect(calls()).toEqual([['show', '--password', 'clinvk/api_keys']]);
  });

  it('CLINVK_API_KEYS_GOPASS_PATH overrides the configured path', async () => {
    await resolveApiKeys({
      env: env({ FAKE_GOPASS_MODE: 'ok', CLINVK_API_KEYS_GOPASS_PATH: 'env/path-1.2_x' }),
      gopassPath: 'config/path',
    });
    expect(calls()).toEqual([['show', '--password', 'env/path-1.2_x']]);
  });

  it('passes shell metacharacters nowhere: a file with them is read literally', async () => {
    const f = path.join(binDir, 'out.txt');
    fs.writeFileSync(f, '$(touch pwned);x, `id`\n');
    const keys = await resolveApiKeys({ env: env({ FAKE_GOPASS_MODE: 'file', FAKE_GOPASS_FILE: f }), gopassPath: 'p' });
    expect(keys).toEqual(['$(touch pwned);x', '`id`']);
  });

  it('empty output → throws (fail closed)', async () => {
    await expect(
      resolveApiKeys({ env: env({ FAKE_GOPASS_MODE: 'empty' }), gopassPath: 'clinvk/keys' }),
    ).rejects.toThrow(/^API keys: gopass path "clinvk\/keys" yielded no key/);
  });

  it('output with only separators → throws', async () => {
    await expect(
      resolveApiKeys({ env: env({ FAKE_GOPASS_MODE: 'blank' }), gopassPath: 'clinvk/keys' }),
    ).rejects.toThrow(/yielded no key/);
  });

  it('non-zero exit → throws', async () => {
    await expect(resolveApiKeys({ env: env({ FAKE_GOPASS_MODE: 'fail' }), gopassPath: 'clinvk/keys' })).rejects.toThrow(
      /gopass show failed for "clinvk\/keys" \(exit code 11\): Error: entry is not in the password store/,
    );
  });

  it('timeout → throws quickly and kills gopass', async () => {
    const started = Date.now();
    await expect(
      resolveApiKeys({ env: env({ FAKE_GOPASS_MODE: 'hang' }), gopassPath: 'clinvk/keys', timeoutMs: 300 }),
    ).rejects.toThrow(/did not answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('gopass missing from PATH → throws', async () => {
    const e = { ...env(), PATH: path.join(binDir, 'nope') };
    await expect(resolveApiKeys({ env: e, gopassPath: 'clinvk/keys' })).rejects.toThrow(/cannot run gopass/);
  });

  it.each([['a b'], ['a;rm -rf /'], ['$(id)'], ['-x'], ['--help'], ['a\nb'], ['ä']])(
    'invalid path %j → throws without running gopass',
    async (p) => {
      await expect(resolveApiKeys({ env: env({ FAKE_GOPASS_MODE: 'ok' }), gopassPath: p })).rejects.toThrow(
        /invalid gopass path/,
      );
      await expect(
        resolveApiKeys({ env: env({ FAKE_GOPASS_MODE: 'ok', CLINVK_API_KEYS_GOPASS_PATH: p }) }),
      ).rejects.toThrow(/invalid gopass path/);
      expect(calls()).toEqual([]);
    },
  );
});

describe('KeyRegistry with unnamed keys', () => {
  it('disabled without keys and never matches', () => {
    const c = new KeyRegistry({ unnamed: [] });
    expect(c.enabled).toBe(false);
    expect(c.authenticate('anything').ok).toBe(false);
    expect(c.authenticate(undefined).ok).toBe(false);
  });

  it('accepts the right key and rejects wrong/empty/absent keys', () => {
    const c = new KeyRegistry({ unnamed: ['secret-1'] });
    expect(c.enabled).toBe(true);
    expect(c.authenticate('secret-1').ok).toBe(true);
    expect(c.authenticate('secret-2').ok).toBe(false);
    expect(c.authenticate('secret-1 ').ok).toBe(false);
    expect(c.authenticate('SECRET-1').ok).toBe(false);
    expect(c.authenticate('').ok).toBe(false);
    expect(c.authenticate(undefined).ok).toBe(false);
  });

  it('accepts any of several keys', () => {
    const c = new KeyRegistry({ unnamed: ['a', 'bb', 'ccc'] });
    expect(c.authenticate('a').ok).toBe(true);
    expect(c.authenticate('bb').ok).toBe(true);
    expect(c.authenticate('ccc').ok).toBe(true);
    expect(c.authenticate('d').ok).toBe(false);
  });

  it('compares against every configured key (no early exit)', () => {
    const crypto = require('crypto') as typeof import('crypto');
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      const c = new KeyRegistry({ unnamed: ['k1', 'k2', 'k3'] });
      spy.mockClear();
      expect(c.authenticate('k1').ok).toBe(true);
      const callsOnMatch = spy.mock.calls.length;
      spy.mockClear();
      expect(c.authenticate('zz').ok).toBe(false);
      const callsOnMiss = spy.mock.calls.length;
      expect(callsOnMatch).toBe(3);
      expect(callsOnMiss).toBe(3);
      for (const [a, b] of spy.mock.calls) {
        expect((a as Buffer).length).toBe(32);
        expect((b as Buffer).length).toBe(32);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('handles keys of any length (digests have a fixed size)', () => {
    const long = 'x'.repeat(10000);
    const c = new KeyRegistry({ unnamed: [long, 'é😀'] });
    expect(c.authenticate(long).ok).toBe(true);
    expect(c.authenticate('é😀').ok).toBe(true);
    expect(c.authenticate('x').ok).toBe(false);
  });

  it('setUnnamed replaces the keys', () => {
    const c = new KeyRegistry({ unnamed: ['old'] });
    c.setUnnamed(['new']);
    expect(c.authenticate('old').ok).toBe(false);
    expect(c.authenticate('new').ok).toBe(true);
    c.setUnnamed([]);
    expect(c.enabled).toBe(false);
  });

  it('the id is the SHA-256 hex of the key', () => {
    const c = new KeyRegistry({ unnamed: ['abc'] });
    expect(c.authenticate('abc')).toMatchObject({
      ok: true,
      id: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    });
  });
});

describe('extractCredential', () => {
  it('X-Api-Key wins over Authorization', () => {
    expect(extractCredential({ 'x-api-key': 'k1', authorization: 'Bearer k2' })).toEqual({ kind: 'key', value: 'k1' });
    expect(extractCredential({ 'x-api-key': 'k1', authorization: 'Basic dXNlcjpwYXNz' })).toEqual({
      kind: 'key',
      value: 'k1',
    });
  });

  it('an empty X-Api-Key falls back to Authorization', () => {
    expect(extractCredential({ 'x-api-key': '', authorization: 'Bearer k2' })).toEqual({ kind: 'key', value: 'k2' });
    expect(extractCredential({ 'x-api-key': '  ' })).toEqual({ kind: 'missing' });
  });

  it('Bearer with any scheme case', () => {
    expect(extractCredential({ authorization: 'Bearer tok' })).toEqual({ kind: 'key', value: 'tok' });
    expect(extractCredential({ authorization: 'bearer tok' })).toEqual({ kind: 'key', value: 'tok' });
    expect(extractCredential({ authorization: 'BEARER   tok  ' })).toEqual({ kind: 'key', value: 'tok' });
  });

  it('other schemes are unsupported', () => {
    expect(extractCredential({ authorization: 'Basic dXNlcjpwYXNz' })).toEqual({ kind: 'unsupported-scheme' });
    expect(extractCredential({ authorization: 'Token abc' })).toEqual({ kind: 'unsupported-scheme' });
    expect(extractCredential({ authorization: 'tok-without-scheme' })).toEqual({ kind: 'unsupported-scheme' });
  });

  it('missing or empty values', () => {
    expect(extractCredential({})).toEqual({ kind: 'missing' });
    expect(extractCredential({ authorization: '' })).toEqual({ kind: 'missing' });
    expect(extractCredential({ authorization: 'Bearer ' })).toEqual({ kind: 'missing' });
    expect(extractCredential({ authorization: 'Bearer' })).toEqual({ kind: 'missing' });
    expect(extractCredential({ authorization: undefined, 'x-api-key': undefined })).toEqual({ kind: 'missing' });
  });

  it('header names are matched case-insensitively', () => {
    expect(extractCredential({ 'X-Api-Key': 'k' })).toEqual({ kind: 'key', value: 'k' });
    expect(extractCredential({ Authorization: 'Bearer t' })).toEqual({ kind: 'key', value: 't' });
  });

  it('array values are joined (never one picked)', () => {
    expect(extractCredential({ 'x-api-key': ['a', 'b'] })).toEqual({ kind: 'key', value: 'a, b' });
  });
});

describe('startKeyRefresh', () => {
  const keysOf = (r: KeyRegistry) => (k: string[]) => r.setUnnamed(k);
  const logger = () => ({ warn: jest.fn() });

  it('is inactive without gopass', () => {
    const h = startKeyRefresh(keysOf(new KeyRegistry({ unnamed: [] })), { env: env(), logger: logger() });
    expect(h.active).toBe(false);
    h.stop();
  });

  it('is inactive when keys come from CLINVK_API_KEYS', () => {
    const h = startKeyRefresh(keysOf(new KeyRegistry({ unnamed: ['k'] })), {
      env: env({ CLINVK_API_KEYS: 'k' }),
      gopassPath: 'a/b',
      logger: logger(),
    });
    expect(h.active).toBe(false);
    h.stop();
  });

  it('refreshes from gopass and keeps previous keys on failure', async () => {
    const f = path.join(binDir, 'keys.txt');
    fs.writeFileSync(f, 'first\n');
    const e = env({ FAKE_GOPASS_MODE: 'file', FAKE_GOPASS_FILE: f });
    const checker = new KeyRegistry({ unnamed: await resolveApiKeys({ env: e, gopassPath: 'clinvk/keys' }) });
    expect(checker.authenticate('first').ok).toBe(true);

    const log = logger();
    const h = startKeyRefresh(keysOf(checker), { env: e, gopassPath: 'clinvk/keys', logger: log, intervalMs: 60_000 });
    expect(h.active).toBe(true);
    try {
      fs.writeFileSync(f, 'second,third\n');
      await h.refreshNow();
      expect(checker.authenticate('first').ok).toBe(false);
      expect(checker.authenticate('third').ok).toBe(true);
      expect(log.warn).not.toHaveBeenCalled();

      fs.writeFileSync(f, '');
      await h.refreshNow();
      expect(checker.authenticate('second').ok).toBe(true);
      expect(log.warn).toHaveBeenCalledTimes(1);
      const [msg, meta] = log.warn.mock.calls[0] as [string, { error: string }];
      expect(msg).toMatch(/keeping the previous keys/);
      expect(meta.error).toMatch(/yielded no key/);
      expect(JSON.stringify(log.warn.mock.calls)).not.toMatch(/second|third/);
    } finally {
      h.stop();
    }
  });

  it('runs on its interval', async () => {
    const f = path.join(binDir, 'keys2.txt');
    fs.writeFileSync(f, 'one\n');
    const e = env({ FAKE_GOPASS_MODE: 'file', FAKE_GOPASS_FILE: f });
    const checker = new KeyRegistry({ unnamed: ['zero'] });
    const h = startKeyRefresh(keysOf(checker), { env: e, gopassPath: 'clinvk/keys', logger: logger(), intervalMs: 50 });
    try {
      const deadline = Date.now() + 5000;
      while (!checker.authenticate('one').ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      expect(checker.authenticate('one').ok).toBe(true);
      expect(checker.authenticate('zero').ok).toBe(false);
    } finally {
      h.stop();
    }
  });
});

describe('CLINVK_API_KEYS_FILE', () => {
  const file = (text: string, mode = 0o600) => {
    const f = path.join(binDir, `keys-${Math.random().toString(16).slice(2)}`);
    fs.writeFileSync(f, text, { mode });
    fs.chmodSync(f, mode);
    return f;
  };

  it('is read when CLINVK_API_KEYS is empty, before gopass (commas, newlines, # comments)', async () => {
    const f = file('# team keys\nfk-1, fk-2\n\nfk-3\n');
    expect(keySourceOf({ env: { CLINVK_API_KEYS_FILE: f }, gopassPath: 'a/b' })).toBe('file');
    expect(
      await resolveApiKeys({ env: env({ CLINVK_API_KEYS_FILE: f, FAKE_GOPASS_MODE: 'ok' }), gopassPath: 'a/b' }),
    ).toEqual(['fk-1', 'fk-2', 'fk-3']);
    expect(calls()).toEqual([]);
    expect(await resolveApiKeys({ env: env({ CLINVK_API_KEYS: 'e1', CLINVK_API_KEYS_FILE: f }) })).toEqual(['e1']);
  });

  it('is refused when group- or world-readable, missing, or empty', async () => {
    await expect(resolveApiKeys({ env: { CLINVK_API_KEYS_FILE: file('k\n', 0o640) } })).rejects.toThrow(
      /readable by group or others \(mode 640\); chmod 600 it/,
    );
    await expect(resolveApiKeys({ env: { CLINVK_API_KEYS_FILE: file('k\n', 0o604) } })).rejects.toThrow(
      /readable by group/,
    );
    await expect(resolveApiKeys({ env: { CLINVK_API_KEYS_FILE: path.join(binDir, 'absent') } })).rejects.toThrow(
      /cannot read CLINVK_API_KEYS_FILE .* \(ENOENT\)/,
    );
    await expect(resolveApiKeys({ env: { CLINVK_API_KEYS_FILE: file('# none\n\n') } })).rejects.toThrow(/holds no key/);
  });

  it('the gopass refresh is inactive when keys come from the file', () => {
    const h = startKeyRefresh(() => undefined, {
      env: { CLINVK_API_KEYS_FILE: '/x' },
      gopassPath: 'a/b',
      logger: { warn: jest.fn() },
    });
    expect(h.active).toBe(false);
  });
});
