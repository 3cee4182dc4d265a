import * as fs from 'fs';
import * as path from 'path';
import { currentProcessIdentity } from '../../../../src/lib/process-identity';
import { StoreLock } from '../../../../src/sessions/file/lock';
import { cleanupHomes, expectApiError, recordingLogger, tmpHome } from '../helpers';

afterEach(() => cleanupHomes());

function makeLock(dir: string, over: Partial<ConstructorParameters<typeof StoreLock>[0]> = {}): StoreLock {
  return new StoreLock({
    dir,
    lockPath: path.join(dir, 'store.lock'),
    timeoutMs: 5000,
    staleMs: 2000,
    logger: recordingLogger(),
    holder: currentProcessIdentity(),
    isHolderDead: () => false,
    ...over,
  });
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 1));

test('sections never overlap, within one lock object or across two on the same directory', async () => {
  const dir = tmpHome();
  const a = makeLock(dir);
  const b = makeLock(dir);
  let inside = 0;
  let maxInside = 0;
  const order: number[] = [];
  const section = (n: number) => async () => {
    inside++;
    maxInside = Math.max(maxInside, inside);
    expect(fs.existsSync(path.join(dir, 'store.lock'))).toBe(true);
    await tick();
    order.push(n);
    inside--;
  };
  await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).run(section(i))));
  expect(maxInside).toBe(1);
  expect(order).toHaveLength(20);
  // One lock object runs its sections in call order.
  const odd = order.filter((n) => n % 2 === 1);
  expect(odd).toEqual([...odd].sort((x, y) => x - y));
  expect(fs.existsSync(path.join(dir, 'store.lock'))).toBe(false);
});

test('the lock is released when the section throws, and the error reaches the caller', async () => {
  const dir = tmpHome();
  const lock = makeLock(dir);
  await expect(lock.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  expect(fs.existsSync(path.join(dir, 'store.lock'))).toBe(false);
  expect(await lock.run(async () => 7)).toBe(7);
});

test('a lock directory not refreshed for staleMs is taken over; a fresh one makes the section wait, then fail', async () => {
  const dir = tmpHome();
  const lockDir = path.join(dir, 'store.lock');
  fs.mkdirSync(lockDir);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(lockDir, old, old);
  const lock = makeLock(dir, { timeoutMs: 300 });
  expect(await lock.run(async () => 'taken over')).toBe('taken over');

  fs.mkdirSync(lockDir);
  const t0 = Date.now();
  await expectApiError(
    lock.run(async () => 'never'),
    'session_store_unavailable',
    'session store unavailable: timed out waiting for the store lock',
  );
  expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  expect(fs.existsSync(lockDir)).toBe(true); // somebody else's lock is left alone
});
