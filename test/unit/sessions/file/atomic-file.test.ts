import * as fs from 'fs';
import * as path from 'path';
import { removeOldTemps, writeFileAtomic, writeSyncedTemp } from '../../../../src/sessions/file/atomic-file';
import { cleanupHomes, tmpHome } from '../helpers';

afterEach(() => cleanupHomes());

test('writeFileAtomic replaces the target (mode 0600) and leaves no temp file', async () => {
  const dir = tmpHome();
  const target = path.join(dir, 'a.json');
  fs.writeFileSync(target, 'old');
  const stats = await writeFileAtomic(dir, target, 'new content\n');
  expect(fs.readFileSync(target, 'utf8')).toBe('new content\n');
  expect(fs.statSync(target).mode & 0o777).toBe(0o600);
  expect(stats.size).toBe(12);
  expect(stats.mtimeMs).toBe(fs.statSync(target).mtimeMs);
  expect(fs.readdirSync(dir)).toEqual(['a.json']);
});

test('a failed write leaves the old file and no temp file', async () => {
  const dir = tmpHome();
  const target = path.join(dir, 'sub'); // a directory: the rename over it fails
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'x'), 'x');
  await expect(writeFileAtomic(dir, target, 'data')).rejects.toMatchObject({ code: expect.stringMatching(/^E/) });
  expect(fs.readdirSync(dir)).toEqual(['sub']);
  await expect(writeSyncedTemp(path.join(dir, 'missing'), 'data')).rejects.toMatchObject({ code: 'ENOENT' });
});

test('removeOldTemps removes only temp files older than the limit', async () => {
  const dir = tmpHome();
  const old = new Date(Date.now() - 2 * 3600_000);
  for (const name of ['.tmp-old1', '.tmp-old2', 'keep.json', '.tmp-fresh']) fs.writeFileSync(path.join(dir, name), 'x');
  fs.mkdirSync(path.join(dir, '.tmp-dir'));
  for (const name of ['.tmp-old1', '.tmp-old2', 'keep.json', '.tmp-dir']) fs.utimesSync(path.join(dir, name), old, old);
  const removed: string[] = [];
  await removeOldTemps(dir, 3600_000, (name) => removed.push(name));
  expect(removed.sort()).toEqual(['.tmp-old1', '.tmp-old2']);
  expect(fs.readdirSync(dir).sort()).toEqual(['.tmp-dir', '.tmp-fresh', 'keep.json']);
});
