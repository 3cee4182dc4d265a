/** /proc readers: parsing, start times, group members (Linux). */
import { spawn } from 'node:child_process';
import {
  groupMembers,
  isLiveProcess,
  parseProcStat,
  processStartTime,
  readProcStat,
} from '../../../../src/backends/supervisor/proc';
import { waitFor } from '../runner/util';

const FIELDS = 'S 1 100 100 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 424242 1000 10 18446744073709551615';

test('parses the fields after the command name, even one with spaces and parentheses', () => {
  expect(parseProcStat(7, `7 (a) b (c)) ${FIELDS}`)).toEqual({
    pid: 7,
    state: 'S',
    ppid: 1,
    pgrp: 100,
    session: 100,
    startTime: 424242,
  });
  expect(parseProcStat(7, 'garbage')).toBeUndefined();
  expect(parseProcStat(7, '7 (x) S 1 2')).toBeUndefined();
});

test('this process: live, its start time identifies it', () => {
  const st = readProcStat(process.pid)!;
  expect(st.ppid).toBe(process.ppid);
  expect(st.startTime).toBeGreaterThan(0);
  expect(processStartTime(process.pid)).toBe(st.startTime);
  expect(isLiveProcess(process.pid)).toBe(true);
  expect(isLiveProcess(process.pid, st.startTime)).toBe(true);
  expect(isLiveProcess(process.pid, st.startTime + 1)).toBe(false);
  expect(isLiveProcess(0)).toBe(false);
  expect(isLiveProcess(-1)).toBe(false);
});

test('a zombie is not live; group members are found by scanning /proc', async () => {
  // Not reaped until the event loop handles SIGCHLD: give it no chance for a moment.
  const child = spawn('sh', ['-c', 'sleep 30 & echo $!; exec sleep 30'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const gc = Number(await new Promise<string>((r) => child.stdout!.once('data', (d: Buffer) => r(d.toString()))));
    const members = groupMembers(child.pid!)
      .map((m) => m.pid)
      .sort((a, b) => a - b);
    expect(members).toEqual([child.pid!, gc].sort((a, b) => a - b));
    process.kill(gc, 'SIGKILL');
    expect(await waitFor(() => !isLiveProcess(gc), 3000)).toBe(true);
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});
