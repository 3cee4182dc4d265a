/** `auth.keys` validation: every problem names the entry, the config loader exits 2 with them. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { checkKeyEntries } from '../../../src/auth/key-config';
import { ConfigError, loadConfig } from '../../../src/config/load';

const H1 = 'a'.repeat(64);
const H2 = 'B'.repeat(64);

describe('checkKeyEntries', () => {
  it('accepts a full entry and fills defaults (role user, extra_flags true); hashes are lowercased', () => {
    const r = checkKeyEntries(
      [
        {
          name: 'ci-bot',
          sha256: H2,
          role: 'user',
          backends: ['claude', 'codex'],
          requests_per_day: 500,
          tokens_per_day: 2000000,
          max_concurrent: 2,
          workdir_prefixes: ['/srv/ci'],
          approval_modes: ['default'],
          sandbox_modes: ['read-only', 'workspace'],
          extra_flags: false,
          expires_at: '2027-01-31T00:00:00Z',
        },
        { name: 'ops', env: 'OPS_KEY' },
      ],
      { OPS_KEY: 'secret' },
    );
    expect(r.problems).toEqual([]);
    expect(r.entries[0]).toMatchObject({
      name: 'ci-bot',
      sha256: 'b'.repeat(64),
      extra_flags: false,
      max_concurrent: 2,
    });
    expect(r.entries[1]).toEqual({ name: 'ops', env: 'OPS_KEY', role: 'user', extra_flags: true });
  });

  it.each([
    [
      [{ name: 'Bad Name', sha256: H1 }],
      'config error: auth.keys[0] (Bad Name): name: must match ^[a-z0-9][a-z0-9._-]{0,63}$',
    ],
    [[{ sha256: H1 }], 'config error: auth.keys[0]: name: is required'],
    [
      [{ name: 'a', sha256: 'abc' }],
      'config error: auth.keys[0] (a): sha256: must be the 64 hexadecimal characters of a SHA-256 (clinvk keys hash)',
    ],
    [[{ name: 'a' }], 'config error: auth.keys[0] (a): exactly one of sha256 and env is required'],
    [
      [{ name: 'a', sha256: H1, env: 'X' }],
      'config error: auth.keys[0] (a): exactly one of sha256 and env is required',
    ],
    [
      [{ name: 'a', env: 'MISSING_KEY' }],
      'config error: auth.keys[0] (a): env: environment variable MISSING_KEY is not set or empty',
    ],
    [[{ name: 'a', sha256: H1, role: 'root' }], 'config error: auth.keys[0] (a): role: must be one of user, admin'],
    [
      [{ name: 'a', sha256: H1, backends: ['claude', 'gpt'] }],
      'config error: auth.keys[0] (a): backends[1]: must be one of claude, codex, gemini',
    ],
    [[{ name: 'a', sha256: H1, backends: [] }], 'config error: auth.keys[0] (a): backends: must not be empty'],
    [
      [{ name: 'a', sha256: H1, requests_per_day: -1 }],
      'config error: auth.keys[0] (a): requests_per_day: must be >= 0',
    ],
    [[{ name: 'a', sha256: H1, max_concurrent: 0 }], 'config error: auth.keys[0] (a): max_concurrent: must be >= 1'],
    [
      [{ name: 'a', sha256: H1, tokens_per_day: 1.5 }],
      'config error: auth.keys[0] (a): tokens_per_day: must be an integer',
    ],
    [
      [{ name: 'a', sha256: H1, workdir_prefixes: ['rel/dir'] }],
      'config error: auth.keys[0] (a): workdir_prefixes: must be absolute paths',
    ],
    [
      [{ name: 'a', sha256: H1, approval_modes: ['yolo'] }],
      'config error: auth.keys[0] (a): approval_modes[0]: must be one of default, auto, none, always',
    ],
    [
      [{ name: 'a', sha256: H1, expires_at: 'tomorrow' }],
      'config error: auth.keys[0] (a): expires_at: must be an RFC 3339 timestamp (e.g. 2027-01-31T00:00:00Z)',
    ],
    [[{ name: 'a', sha256: H1, extra_flags: 'no' }], 'config error: auth.keys[0] (a): extra_flags: must be a boolean'],
    [[{ name: 'a', sha256: H1, quota: 3 }], 'config error: auth.keys[0] (a): quota: unknown key'],
    [[{ name: 'anonymous', sha256: H1 }], 'config error: auth.keys[0] (anonymous): name: "anonymous" is reserved'],
    [['key'], 'config error: auth.keys[0]: must be a mapping'],
  ])('%j → %s', (raw, problem) => {
    const r = checkKeyEntries(raw, {});
    expect(r.problems).toEqual([problem]);
    expect(r.entries).toEqual([]);
  });

  it('duplicate names and duplicate hashes name both entries', () => {
    const r = checkKeyEntries(
      [
        { name: 'a', sha256: H1 },
        { name: 'a', sha256: 'c'.repeat(64) },
        { name: 'b', sha256: H1.toUpperCase() },
      ],
      {},
    );
    expect(r.problems).toEqual([
      'config error: auth.keys[1] (a): name: duplicate of auth.keys[0]',
      'config error: auth.keys[2] (b): sha256: the same key as auth.keys[0] (a)',
    ]);
  });

  it('problems never contain a key value from the environment', () => {
    const r = checkKeyEntries([{ name: 'a', env: 'K', role: 'x' }], { K: 'super-secret-value' });
    expect(JSON.stringify(r.problems)).not.toContain('super-secret-value');
  });
});

describe('loadConfig with auth.keys', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-keys-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const load = (doc: unknown, env: NodeJS.ProcessEnv = {}) => {
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, stringify(doc));
    return loadConfig({ flags: { config: file }, env: { CLINVK_HOME: dir, ...env }, cwd: dir });
  };

  it('fills config.auth.keys and usage defaults', () => {
    const { config, warnings } = load({
      auth: { keys: [{ name: 'team-a', sha256: H1 }] },
      usage: { retention_days: 7 },
    });
    expect(warnings).toEqual([]);
    expect(config.auth.keys).toEqual([{ name: 'team-a', sha256: H1, role: 'user', extra_flags: true }]);
    expect(config.usage).toEqual({ store: 'file', retention_days: 7 });
  });

  it('throws ConfigError naming the key (exit 2 in the CLI)', () => {
    let err: unknown;
    try {
      load({
        auth: {
          keys: [
            { name: 'team-a', sha256: H1 },
            { name: 'team-b', env: 'TEAM_B_KEY' },
          ],
        },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'config error: auth.keys[1] (team-b): env: environment variable TEAM_B_KEY is not set or empty',
    ]);
  });

  it('auth.keys must be a list', () => {
    expect(() => load({ auth: { keys: { name: 'x' } } })).toThrow('config error: auth.keys: must be a list');
  });
});
