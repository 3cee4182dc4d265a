/**
 * A store lock left by a killed process is taken over at once (not after proper-lockfile's
 * staleness time), and a wait for a live holder is logged at warn saying what is waited for.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { FileSessionStore } from '../../../../src/sessions/file';
import { storeChildScript } from '../child-store';
import { cleanupHomes, expectApiError, newSession, recordingLogger, tmpHome } from '../helpers';

/** Takes the store lock (as a mutation does), prints "locked", and keeps it until killed. */
const HOLDER = storeChildScript(`
  const [dir] = argv;
  fs.mkdirSync(dir, { recursive: true });
  const { StoreLock } = load('src/sessions/file/lock.ts');
  const { currentProcessIdentity, isProvablyDead } = load('src/lib/process-identity.ts');
  const silent = { warn() {}, info() {}, debug() {} };
  const lock = new StoreLock({
    dir, lockPath: dir + '/store.lock', timeoutMs: 10000, staleMs: 10000, logger: silent,
    holder: currentProcessIdentity(), isHolderDead: isProvablyDead,
  });
  setInterval(() => undefined, 1000);
  await lock.run(() => new Promise(() => process.stdout.write('locked\\n')));
`);

const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  cleanupHomes();
});

async function holdLockInChild(dir: string): Promise<ChildProcess> {
  const script = path.join(path.dirname(dir), 'holder.js');
  fs.writeFileSync(script, HOLDER);
  const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  expect(fs.existsSync(path.join(dir, 'store.lock'))).toBe(true);
  return child;
}

test('start-up with a lock left by a killed process takes it over at once, without waiting', async () => {
  const dir = path.join(tmpHome(), 'sessions');
  const child = await holdLockInChild(dir);
  const closed = new Promise((r) => child.once('close', r));
  child.kill('SIGKILL');
  await closed;

  const logger = recordingLogger();
  const t0 = Date.now();
  // proper-lockfile alone would wait for lockStaleMs (10 s by default) before taking it over.
  const store = await FileSessionStore.open({ dir, logger });
  expect((await store.health()).available).toBe(true);
  await store.create(newSession());
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(logger.calls.filter((c) => c.msg === 'waiting for the session store lock')).toEqual([]);
  expect(logger.calls).toContainEqual({
    level: 'info',
    msg: 'session store lock of a dead process taken over',
    meta: expect.objectContaining({ holder_pid: child.pid }),
  });
  await store.close();
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('store.lock'))).toEqual([]);
}, 60_000);

test('a live holder: the wait is logged at warn with the holder, then the mutation fails', async () => {
  const dir = path.join(tmpHome(), 'sessions');
  fs.mkdirSync(dir, { recursive: true });
  const logger = recordingLogger();
  const blocked = await FileSessionStore.open({ dir, logger, lockTimeoutMs: 1600 });
  expect((await blocked.health()).available).toBe(true);
  const child = await holdLockInChild(dir);
  await expectApiError(blocked.create(newSession()), 'session_store_unavailable', /lock/);
  const waits = logger.calls.filter((c) => c.msg === 'waiting for the session store lock');
  expect(waits).toHaveLength(1);
  expect(waits[0]).toMatchObject({
    level: 'warn',
    meta: { lock: path.join(dir, 'store.lock'), holder: { pid: child.pid } },
  });
  expect((waits[0].meta as { waited_ms: number }).waited_ms).toBeGreaterThan(1000);
  await blocked.close();
}, 60_000);
