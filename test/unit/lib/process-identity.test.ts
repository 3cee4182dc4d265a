import { spawn } from 'child_process';
import * as os from 'os';
import {
  currentProcessIdentity,
  isProvablyDead,
  parseProcessIdentity,
  type ProcessIdentity,
} from '../../../src/lib/process-identity';
import { processStartTime, readProcStat } from '../../../src/lib/process-start-time';

const linux = process.platform === 'linux';

test('this process: host, pid, and on Linux its start time and boot id', () => {
  const me = currentProcessIdentity();
  expect(me).toMatchObject({ host: os.hostname(), pid: process.pid });
  if (linux) {
    expect(me.start_time).toMatch(/^\d+$/);
    expect(me.start_time).toBe(processStartTime(process.pid));
    expect(me.boot_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(readProcStat(process.pid)?.state).toMatch(/^[RS]$/);
  }
  expect(isProvablyDead(me)).toBe(false);
});

test('a child that exited is provably dead; while it runs it is not', async () => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const pid = child.pid as number;
  const identity: ProcessIdentity = { ...currentProcessIdentity(), pid, start_time: processStartTime(pid) };
  expect(isProvablyDead(identity)).toBe(false);
  if (linux) {
    // The same pid with another start time is a reused pid: the recorded process is gone.
    expect(isProvablyDead({ ...identity, start_time: String(Number(identity.start_time) + 1) })).toBe(true);
  }
  const closed = new Promise((r) => child.once('close', r));
  child.kill('SIGKILL');
  await closed;
  expect(isProvablyDead(identity)).toBe(true);
});

test('another host, or a process that cannot be checked, is never declared dead', () => {
  const me = currentProcessIdentity();
  expect(isProvablyDead({ host: `${me.host}-elsewhere`, pid: 999_999_999 })).toBe(false);
  // pid 1 exists (EPERM or not): without a recorded start time it counts as alive.
  expect(isProvablyDead({ host: me.host, pid: 1 })).toBe(false);
  if (me.boot_id) expect(isProvablyDead({ ...me, boot_id: 'another-boot' })).toBe(true);
});

test('parseProcessIdentity', () => {
  expect(parseProcessIdentity({ host: 'h', pid: 12, start_time: '34', boot_id: 'b', x: 1 })).toEqual({
    host: 'h',
    pid: 12,
    start_time: '34',
    boot_id: 'b',
  });
  expect(parseProcessIdentity({ host: 'h', pid: 12, start_time: 34 })).toEqual({ host: 'h', pid: 12 });
  for (const bad of [null, [], 'h:12', { host: 'h' }, { host: 'h', pid: 0 }, { host: 'h', pid: 1.5 }, { pid: 3 }]) {
    expect(parseProcessIdentity(bad)).toBeUndefined();
  }
});
