/** The per-key policy checks as pure functions (the HTTP behaviour is in test/integration/key-policies.test.ts). */
import {
  checkBackendAllowed,
  checkExtraAllowed,
  checkModesAllowed,
  compatDefaultBackend,
  compatModes,
  refusesExtra,
  type PolicyHolder,
} from '../../../src/auth/policy';
import { listOwner, visibleOwner } from '../../../src/auth/principal';
import { ApiError } from '../../../src/errors';

const user = (over: Partial<PolicyHolder> = {}): PolicyHolder => ({ name: 'team-a', role: 'user', ...over });

function thrown(fn: () => void): ApiError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected a refusal');
}

test('no key or no list: nothing is refused', () => {
  for (const who of [undefined, user()]) {
    checkBackendAllowed(who, 'gemini');
    checkModesAllowed(who, { approval: 'none', sandbox: 'full' }, 'body');
    checkExtraAllowed(who, ['--x'], 'body');
    expect(compatModes(who, { approval: 'auto', sandbox: 'full' })).toEqual({});
    expect(compatDefaultBackend(who, 'gemini')).toBe('gemini');
  }
});

test('backends: 403 backend_not_allowed without details; compat fallback to the first allowed backend', () => {
  const who = user({ backends: ['codex', 'claude'] });
  checkBackendAllowed(who, 'claude');
  const err = thrown(() => checkBackendAllowed(who, 'gemini'));
  expect([err.code, err.status, err.message, err.details]).toEqual([
    'backend_not_allowed',
    403,
    'backend gemini is not allowed for this API key',
    undefined,
  ]);
  expect(compatDefaultBackend(who, 'gemini')).toBe('codex');
  expect(compatDefaultBackend(who, 'claude')).toBe('claude');
});

test('modes: the effective value must be listed; details name the field under the prefix', () => {
  const who = user({ approvalModes: ['always'], sandboxModes: ['read-only', 'workspace'] });
  checkModesAllowed(who, { approval: 'always', sandbox: 'workspace' }, 'body');
  const a = thrown(() => checkModesAllowed(who, { approval: 'default', sandbox: 'workspace' }, 'body.tasks[2]'));
  expect(a.code).toBe('option_not_allowed');
  expect(a.details).toEqual([
    {
      path: 'body.tasks[2].approval_mode',
      message: 'approval_mode default is not allowed for this API key (allowed: always)',
    },
  ]);
  const s = thrown(() => checkModesAllowed(who, { approval: 'always', sandbox: 'full' }, 'body'));
  expect(s.details?.[0]?.path).toBe('body.sandbox_mode');
  // compat: the configured default when allowed, else the first listed mode
  expect(compatModes(who, { approval: 'default', sandbox: 'workspace' })).toEqual({ approval_mode: 'always' });
  expect(compatModes(who, { approval: 'always', sandbox: 'default' })).toEqual({ sandbox_mode: 'read-only' });
});

test('extra_flags: false refuses a non-empty extra only', () => {
  const who = user({ extraFlags: false });
  expect(refusesExtra(who, undefined)).toBe(false);
  expect(refusesExtra(who, [])).toBe(false);
  checkExtraAllowed(who, [], 'body');
  const err = thrown(() => checkExtraAllowed(who, ['--effort', 'low'], 'body.steps[1]'));
  expect([err.code, err.details]).toEqual([
    'option_not_allowed',
    [{ path: 'body.steps[1].extra', message: 'extra flags are not allowed for this API key' }],
  ]);
  expect(refusesExtra(user({ extraFlags: true }), ['--x'])).toBe(false);
});

test('visibility: a user key sees its own records, an admin everything (or the owner it filters on)', () => {
  expect(visibleOwner(user())).toBe('team-a');
  expect(visibleOwner({ name: 'ops', role: 'admin' })).toBeUndefined();
  expect(visibleOwner(undefined)).toBeUndefined();
  expect(listOwner(user(), 'team-b')).toBe('team-a');
  expect(listOwner({ name: 'ops', role: 'admin' }, 'team-b')).toBe('team-b');
  expect(listOwner({ name: 'ops', role: 'admin' }, undefined)).toBeUndefined();
});
