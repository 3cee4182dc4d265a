import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ApiError } from '../../../src/errors';
import { BUILTIN_BLOCKED_WORKDIR_PREFIXES, WorkdirPolicy, isUnder } from '../../../src/security/workdir';

let tmp: string;
let home: string;

beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-wd-')));
  home = path.join(tmp, 'clinvk-home');
  fs.mkdirSync(path.join(home, 'sessions'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'work', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'file.txt'), 'x');
  fs.symlinkSync('/etc', path.join(tmp, 'etclink'));
  fs.symlinkSync('/', path.join(tmp, 'rootlink'));
  fs.symlinkSync(home, path.join(tmp, 'homelink'));
  fs.symlinkSync('/etc/passwd', path.join(tmp, 'passwdlink'));
  fs.symlinkSync(path.join(tmp, 'work'), path.join(tmp, 'worklink'));
  // allowed / outside pair for symlink escape
  fs.mkdirSync(path.join(tmp, 'allowed', 'proj'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'outside'), { recursive: true });
  fs.symlinkSync(path.join(tmp, 'outside'), path.join(tmp, 'allowed', 'escape'));
  fs.symlinkSync(path.join(tmp, 'allowed'), path.join(tmp, 'allowedlink'));
  // boundary pair
  fs.mkdirSync(path.join(tmp, 'blocked', 'inner'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'blockedx'), { recursive: true });
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function policy(over: Partial<{ allowedPrefixes: string[]; blockedPrefixes: string[]; clinvkHome: string }> = {}) {
  return new WorkdirPolicy({ allowedPrefixes: [], blockedPrefixes: [], clinvkHome: home, ...over });
}

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected a rejection');
}

async function expect400(input: string, message: string, detailPath = 'body.workdir', pol = policy()) {
  const e = await failure(pol.resolve(input, detailPath));
  expect(e.code).toBe('validation_error');
  expect(e.status).toBe(400);
  expect(e.details).toEqual([{ path: detailPath, message }]);
  expect(e.message).toBe(`request validation failed: ${detailPath} ${message}`);
}

async function expect403(input: string, reason: 'blocked path' | 'not in allowed paths', pol = policy()) {
  const e = await failure(pol.resolve(input, 'body.workdir'));
  expect(e.code).toBe('forbidden_workdir');
  expect(e.status).toBe(403);
  expect(e.message).toBe(`work directory not allowed: ${input} (${reason})`);
  expect(e.details).toBeUndefined();
}

describe('isUnder', () => {
  it('uses path-boundary semantics', () => {
    expect(isUnder('/etc', '/etc')).toBe(true);
    expect(isUnder('/etc/x', '/etc')).toBe(true);
    expect(isUnder('/etc/x/y', '/etc')).toBe(true);
    expect(isUnder('/etcx', '/etc')).toBe(false);
    expect(isUnder('/et', '/etc')).toBe(false);
    expect(isUnder('/anything', '/')).toBe(true);
    expect(isUnder('/', '/')).toBe(true);
  });
});

describe('WorkdirPolicy.resolve — format (400, §9 row 21)', () => {
  it.each([['relative/dir'], ['./x'], [''], ['~/x']])('rejects relative %j', async (input) => {
    await expect400(input, 'must be an absolute path');
  });

  it('rejects U+0000', async () => {
    await expect400(`${tmp}/work\u0000/etc`, 'must be an absolute path');
  });

  it('rejects paths longer than 4096 bytes', async () => {
    await expect400('/' + 'a'.repeat(4096), 'must be at most 4096 bytes');
    // multi-byte: 2100 × 2-byte chars = 4200 bytes although only 2101 characters
    await expect400('/' + 'é'.repeat(2100), 'must be at most 4096 bytes');
  });

  it('rejects lone surrogates', async () => {
    await expect400(`${tmp}/\ud800`, 'must be well-formed Unicode');
  });

  it('uses the detail path it is given', async () => {
    await expect400('rel', 'must be an absolute path', 'body.tasks[3].workdir');
  });
});

describe('WorkdirPolicy.resolve — existence and type (400, §9 row 22)', () => {
  it('rejects a missing directory', async () => {
    await expect400('/does/not/exist', 'work directory does not exist: /does/not/exist');
  });

  it('rejects a regular file', async () => {
    const f = path.join(tmp, 'file.txt');
    await expect400(f, `work directory is not a directory: ${f}`);
  });

  it('rejects a path through a regular file', async () => {
    const f = path.join(tmp, 'file.txt', 'sub');
    await expect400(f, `work directory does not exist: ${f}`);
  });

  it('rejects a dangling symlink as missing', async () => {
    const l = path.join(tmp, 'dangling');
    fs.symlinkSync(path.join(tmp, 'nowhere'), l);
    await expect400(l, `work directory does not exist: ${l}`);
  });
});

describe('WorkdirPolicy.resolve — blocked (403, §9 rows 23–25, 27)', () => {
  it.each([
    ['/etc'],
    ['/etc/ssl'],
    ['/etc/'],
    ['//etc'],
    ['/'],
    ['/proc/self'],
    ['/dev'],
    ['/usr/bin'],
    ['/root'],
    ['/sys'],
  ])('blocks %s', async (input) => {
    await expect403(input, 'blocked path');
  });

  it('blocks paths under a blocked prefix even when they do not exist', async () => {
    await expect403('/etc/definitely-not-here', 'blocked path');
  });

  it('blocks traversal normalised onto a blocked prefix', async () => {
    await expect403('/home/alice/p/../../../etc', 'blocked path');
    await expect403(`${tmp}/work/../../../../../../../../etc/ssl`, 'blocked path');
    await expect403('/tmp/..', 'blocked path');
  });

  it('blocks a symlink pointing to /etc (real path checked)', async () => {
    await expect403(path.join(tmp, 'etclink'), 'blocked path');
  });

  it('blocks a symlink to a file inside /etc with 403 (policy before type)', async () => {
    await expect403(path.join(tmp, 'passwdlink'), 'blocked path');
  });

  it('blocks a symlink pointing to the filesystem root', async () => {
    await expect403(path.join(tmp, 'rootlink'), 'blocked path');
  });

  it('blocks the real-path forms of symlinked built-in prefixes', async () => {
    for (const prefix of BUILTIN_BLOCKED_WORKDIR_PREFIXES) {
      let real: string;
      try {
        real = fs.realpathSync(prefix);
      } catch {
        continue;
      }
      if (real === prefix) continue;
      // e.g. /var/run -> /run, /bin -> /usr/bin, /lib -> /usr/lib
      await expect403(real, 'blocked path');
    }
  });

  it('blocks $CLINVK_HOME and everything inside it, also through a symlink', async () => {
    await expect403(home, 'blocked path');
    await expect403(path.join(home, 'sessions'), 'blocked path');
    await expect403(path.join(tmp, 'homelink'), 'blocked path');
    await expect403(path.join(tmp, 'homelink', 'sessions'), 'blocked path');
  });

  it('blocks a $CLINVK_HOME given through a symlinked parent and created after start-up', async () => {
    const realParent = path.join(tmp, 'realstate');
    fs.mkdirSync(realParent);
    fs.symlinkSync(realParent, path.join(tmp, 'statelink'));
    const pol = policy({ clinvkHome: path.join(tmp, 'statelink', 'home') });
    fs.mkdirSync(path.join(realParent, 'home', 'sessions'), { recursive: true });
    await expect403(path.join(realParent, 'home', 'sessions'), 'blocked path', pol);
    await expect403(path.join(tmp, 'statelink', 'home'), 'blocked path', pol);
  });

  it('configured blocked prefixes use path boundaries and add to the built-in list', async () => {
    const pol = policy({ blockedPrefixes: [path.join(tmp, 'blocked')] });
    await expect403(path.join(tmp, 'blocked'), 'blocked path', pol);
    await expect403(path.join(tmp, 'blocked', 'inner'), 'blocked path', pol);
    await expect403(path.join(tmp, 'blocked') + '/', 'blocked path', pol);
    await expect(pol.resolve(path.join(tmp, 'blockedx'), 'body.workdir')).resolves.toBe(path.join(tmp, 'blockedx'));
    await expect403('/etc', 'blocked path', pol);
    await expect403('/usr/lib', 'blocked path', pol);
  });

  it('a configured blocked prefix given as a symlink also blocks its target', async () => {
    const pol = policy({ blockedPrefixes: [path.join(tmp, 'worklink')] });
    await expect403(path.join(tmp, 'work', 'sub'), 'blocked path', pol);
    await expect403(path.join(tmp, 'worklink'), 'blocked path', pol);
  });
});

describe('WorkdirPolicy.resolve — allowed prefixes (403, §9 row 26)', () => {
  it('accepts directories under an allowed prefix and returns the real path', async () => {
    const pol = policy({ allowedPrefixes: [path.join(tmp, 'allowed')] });
    await expect(pol.resolve(path.join(tmp, 'allowed'), 'body.workdir')).resolves.toBe(path.join(tmp, 'allowed'));
    await expect(pol.resolve(path.join(tmp, 'allowed', 'proj'), 'body.workdir')).resolves.toBe(
      path.join(tmp, 'allowed', 'proj'),
    );
    await expect(pol.resolve(path.join(tmp, 'allowed', 'proj', '..', 'proj', '.'), 'body.workdir')).resolves.toBe(
      path.join(tmp, 'allowed', 'proj'),
    );
  });

  it('refuses directories outside the allowed prefixes', async () => {
    const pol = policy({ allowedPrefixes: [path.join(tmp, 'allowed')] });
    await expect403(path.join(tmp, 'outside'), 'not in allowed paths', pol);
    await expect403(path.join(tmp, 'work'), 'not in allowed paths', pol);
  });

  it('refuses a symlink inside an allowed directory that points outside (symlink escape)', async () => {
    const pol = policy({ allowedPrefixes: [path.join(tmp, 'allowed')] });
    await expect403(path.join(tmp, 'allowed', 'escape'), 'not in allowed paths', pol);
  });

  it('refuses a file outside the allowed prefixes with 403 (policy before type)', async () => {
    const pol = policy({ allowedPrefixes: [path.join(tmp, 'allowed')] });
    await expect403(path.join(tmp, 'file.txt'), 'not in allowed paths', pol);
  });

  it('compares against the real path of an allowed prefix given as a symlink', async () => {
    const pol = policy({ allowedPrefixes: [path.join(tmp, 'allowedlink')] });
    await expect(pol.resolve(path.join(tmp, 'allowed', 'proj'), 'body.workdir')).resolves.toBe(
      path.join(tmp, 'allowed', 'proj'),
    );
    await expect(pol.resolve(path.join(tmp, 'allowedlink', 'proj'), 'body.workdir')).resolves.toBe(
      path.join(tmp, 'allowed', 'proj'),
    );
  });

  it('blocked prefixes still win inside an allowed prefix', async () => {
    const pol = policy({ allowedPrefixes: ['/'] });
    await expect403('/etc', 'blocked path', pol);
    await expect(pol.resolve(path.join(tmp, 'work'), 'body.workdir')).resolves.toBe(path.join(tmp, 'work'));
  });
});

describe('WorkdirPolicy.resolve — success', () => {
  it('returns the real path of a symlinked directory', async () => {
    await expect(policy().resolve(path.join(tmp, 'worklink', 'sub'), 'body.workdir')).resolves.toBe(
      path.join(tmp, 'work', 'sub'),
    );
  });

  it('normalises trailing slashes and dot segments', async () => {
    await expect(policy().resolve(`${tmp}/work/./sub/../sub/`, 'body.workdir')).resolves.toBe(
      path.join(tmp, 'work', 'sub'),
    );
  });
});

describe("an API key's workdir prefixes", () => {
  const keyMsg = (p: string) => `work directory not allowed: ${p} (not in the allowed paths of this API key)`;

  test('narrow the server policy: inside passes, outside (existing or not) is 403 naming the key', async () => {
    const p = policy();
    const key = [path.join(tmp, 'allowed')];
    expect(await p.resolve(path.join(tmp, 'allowed', 'proj'), 'body.workdir', key)).toBe(
      path.join(tmp, 'allowed', 'proj'),
    );
    for (const outside of [path.join(tmp, 'outside'), path.join(tmp, 'outside', 'missing'), path.join(tmp, 'work')]) {
      const err = await failure(p.resolve(outside, 'body.workdir', key));
      expect([err.code, err.message]).toEqual(['forbidden_workdir', keyMsg(outside)]);
    }
  });

  test('compare real paths: a symlink inside the prefix to a directory outside is refused, a symlinked prefix works', async () => {
    const p = policy();
    const escape = path.join(tmp, 'allowed', 'escape');
    const err = await failure(p.resolve(escape, 'body.workdir', [path.join(tmp, 'allowed')]));
    expect([err.code, err.message]).toEqual(['forbidden_workdir', keyMsg(escape)]);
    // a prefix given through a symlink covers the real directory
    expect(await p.resolve(path.join(tmp, 'allowed', 'proj'), 'body.workdir', [path.join(tmp, 'allowedlink')])).toBe(
      path.join(tmp, 'allowed', 'proj'),
    );
    // and the recheck before spawn applies the key's prefixes too
    await expect(p.recheck(path.join(tmp, 'outside'), [path.join(tmp, 'allowed')])).rejects.toMatchObject({
      code: 'forbidden_workdir',
    });
    expect(await p.recheck(path.join(tmp, 'allowed', 'proj'), [path.join(tmp, 'allowedlink')])).toBe(
      path.join(tmp, 'allowed', 'proj'),
    );
  });

  test('never widen it: a key prefix outside the server allowed prefixes allows nothing there', async () => {
    const p = policy({ allowedPrefixes: [path.join(tmp, 'work')] });
    const err = await failure(
      p.resolve(path.join(tmp, 'allowed', 'proj'), 'body.workdir', [path.join(tmp, 'allowed')]),
    );
    expect(err.message).toBe(`work directory not allowed: ${path.join(tmp, 'allowed', 'proj')} (not in allowed paths)`);
    // blocked paths stay blocked whatever the key says
    const blocked = await failure(p.resolve('/etc', 'body.workdir', ['/etc']));
    expect(blocked.message).toBe('work directory not allowed: /etc (blocked path)');
  });
});

describe('as text (a cluster API node: the directory exists on the workers)', () => {
  test('a path that does not exist here is accepted, normalised, and not resolved', async () => {
    const text = policy().asText();
    expect(await text.resolve(`${tmp}/nowhere/../elsewhere//proj/`, 'body.workdir')).toBe(`${tmp}/elsewhere/proj`);
    // a symlink is left as it is: the worker resolves it on its own disk
    expect(await text.resolve(path.join(tmp, 'worklink'), 'body.workdir')).toBe(path.join(tmp, 'worklink'));
  });

  test('format and the policy on the normalised path still apply', async () => {
    const text = policy({ allowedPrefixes: [path.join(tmp, 'allowed')] }).asText();
    await expect400('relative/dir', 'must be an absolute path', 'body.workdir', text);
    await expect403('/etc/x', 'blocked path', text);
    await expect403(path.join(home, 'sessions'), 'blocked path', text);
    await expect403(path.join(tmp, 'outside', 'new'), 'not in allowed paths', text);
    expect(await text.resolve(path.join(tmp, 'allowed', 'new'), 'body.workdir')).toBe(path.join(tmp, 'allowed', 'new'));
    const key = await failure(
      text.resolve(path.join(tmp, 'allowed', 'new'), 'body.workdir', [path.join(tmp, 'allowed', 'proj')]),
    );
    expect(key.message).toBe(
      `work directory not allowed: ${path.join(tmp, 'allowed', 'new')} (not in the allowed paths of this API key)`,
    );
  });

  test('the policy it came from still checks on disk (what a worker does)', async () => {
    const onDisk = policy();
    onDisk.asText();
    await expect400(`${tmp}/nowhere`, `work directory does not exist: ${tmp}/nowhere`, 'body.workdir', onDisk);
  });
});
