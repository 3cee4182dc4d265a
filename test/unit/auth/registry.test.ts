/** The key registry with named keys: principals, expiry, constant-time matching, reload. */
import { createHash } from 'node:crypto';
import type { KeyEntry } from '../../../src/auth/key-config';
import { ANONYMOUS, allowedBackends } from '../../../src/auth/principal';
import { KeyRegistry } from '../../../src/auth/registry';
import { reloadKeySet } from '../../../src/auth/reload';

const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const entry = (name: string, key: string, extra: Partial<KeyEntry> = {}): KeyEntry => ({
  name,
  sha256: sha(key),
  role: 'user',
  extra_flags: true,
  ...extra,
});

function logger() {
  return { info: jest.fn(), warn: jest.fn() };
}

describe('KeyRegistry', () => {
  it('named keys authenticate as their principal; unnamed keys are admins named key-<8 hex>', () => {
    const r = new KeyRegistry({
      entries: [
        entry('team-a', 'ka', {
          backends: ['claude'],
          requests_per_day: 5,
          max_concurrent: 2,
          approval_modes: ['default'],
        }),
        { name: 'ops', env: 'OPS_KEY', role: 'admin', extra_flags: false },
      ],
      unnamed: ['env-key'],
      env: { OPS_KEY: 'ops-secret' },
    });
    const a = r.authenticate('ka');
    expect(a).toEqual({
      ok: true,
      id: sha('ka'),
      principal: expect.objectContaining({ name: 'team-a', role: 'user' }),
    });
    const pa = (a as { principal: typeof ANONYMOUS }).principal;
    expect(pa.limits).toEqual({ requests_per_day: 5, tokens_per_day: null, max_concurrent: 2 });
    expect(allowedBackends(pa, ['claude', 'codex', 'gemini'])).toEqual(['claude']);
    expect(r.authenticate('ops-secret')).toMatchObject({
      ok: true,
      principal: { name: 'ops', role: 'admin', extraFlags: false },
    });
    expect(r.authenticate('env-key')).toMatchObject({
      ok: true,
      principal: { name: `key-${sha('env-key').slice(0, 8)}`, role: 'admin', limits: { requests_per_day: null } },
    });
    expect(r.authenticate('nope')).toEqual({ ok: false, reason: 'invalid' });
    expect(r.authenticate('')).toEqual({ ok: false, reason: 'invalid' });
    expect(r.get('team-a')?.name).toBe('team-a');
    expect(r.list().map((p) => p.name)).toEqual(['team-a', 'ops', `key-${sha('env-key').slice(0, 8)}`]);
  });

  it('a named key wins over an unnamed key with the same value', () => {
    const r = new KeyRegistry({ entries: [entry('named', 'same')], unnamed: ['same'] });
    expect(r.list().map((p) => p.name)).toEqual(['named']);
    expect(r.authenticate('same')).toMatchObject({ principal: { name: 'named' } });
  });

  it('expires_at: refused from that instant on, with the name for the log', () => {
    let now = Date.parse('2027-01-30T23:59:59.999Z');
    const r = new KeyRegistry({
      entries: [entry('temp', 'kt', { expires_at: '2027-01-31T00:00:00Z' })],
      now: () => now,
    });
    expect(r.authenticate('kt').ok).toBe(true);
    now += 1;
    expect(r.authenticate('kt')).toEqual({ ok: false, reason: 'expired', name: 'temp' });
  });

  it('compares against every key, named and unnamed, whichever matches', () => {
    const crypto = require('crypto') as typeof import('crypto');
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      const r = new KeyRegistry({ entries: [entry('a', 'k1'), entry('b', 'k2')], unnamed: ['k3'] });
      for (const k of ['k1', 'k3', 'zz']) {
        spy.mockClear();
        r.authenticate(k);
        expect(spy).toHaveBeenCalledTimes(3);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('auth is off only when no key exists from any source', () => {
    expect(new KeyRegistry({}).enabled).toBe(false);
    expect(new KeyRegistry({ entries: [entry('a', 'k')] }).enabled).toBe(true);
    expect(new KeyRegistry({ unnamed: ['k'] }).enabled).toBe(true);
  });
});

describe('reloadKeySet', () => {
  it('a revoked key stops working at once; a new key works; unnamed keys kept unless given', () => {
    const r = new KeyRegistry({ entries: [entry('a', 'ka'), entry('b', 'kb')], unnamed: ['u1'] });
    const log = logger();
    const res = reloadKeySet(
      r,
      { entries: () => [entry('b', 'kb'), entry('c', 'kc')], unnamed: () => undefined, env: {} },
      log,
    );
    expect(res).toEqual({ ok: true, named: 2, total: 3 });
    expect(r.authenticate('ka').ok).toBe(false);
    expect(r.authenticate('kc').ok).toBe(true);
    expect(r.authenticate('u1').ok).toBe(true);
    expect(log.info).toHaveBeenCalledWith('API keys reloaded', { named_keys: 2, keys: 3 });
    reloadKeySet(r, { entries: () => [entry('b', 'kb')], unnamed: () => ['u2'], env: {} }, log);
    expect(r.authenticate('u1').ok).toBe(false);
    expect(r.authenticate('u2').ok).toBe(true);
  });

  it('an invalid new set keeps the old one and warns (never with a key in the message)', () => {
    const r = new KeyRegistry({ entries: [entry('a', 'ka')] });
    const log = logger();
    const bad = reloadKeySet(
      r,
      {
        entries: () => {
          throw new Error(
            'config error: auth.keys[0] (a): sha256: must be the 64 hexadecimal characters\nconfig error: x',
          );
        },
        unnamed: () => undefined,
        env: {},
      },
      log,
    );
    expect(bad.ok).toBe(false);
    expect(r.authenticate('ka').ok).toBe(true);
    expect(log.warn).toHaveBeenCalledWith('API key reload rejected; keeping the previous keys', {
      error: 'config error: auth.keys[0] (a): sha256: must be the 64 hexadecimal characters; config error: x',
    });
    // an env key whose variable vanished, and a key file that cannot be read, keep the old set too
    const missingEnv = reloadKeySet(
      r,
      {
        entries: () => [{ name: 'e', env: 'GONE', role: 'user', extra_flags: true }],
        unnamed: () => undefined,
        env: {},
      },
      log,
    );
    expect(missingEnv.ok).toBe(false);
    const badFile = reloadKeySet(
      r,
      {
        entries: () => [entry('z', 'kz')],
        unnamed: () => {
          throw new Error('API keys: CLINVK_API_KEYS_FILE /x is readable by group or others');
        },
        env: {},
      },
      log,
    );
    expect(badFile.ok).toBe(false);
    expect(r.authenticate('ka').ok).toBe(true);
    expect(r.authenticate('kz').ok).toBe(false);
  });

  it('refuses a set that would switch authentication off', () => {
    const r = new KeyRegistry({ entries: [entry('a', 'ka')] });
    const res = reloadKeySet(r, { entries: () => [], unnamed: () => undefined, env: {} }, logger());
    expect(res).toEqual({ ok: false, error: expect.stringMatching(/switch authentication off/) });
    expect(r.enabled).toBe(true);
  });
});
