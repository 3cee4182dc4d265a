/**
 * Start-up clean-up of groups left by a dead server incarnation, with real processes: a recorded
 * group is killed (leader and grandchildren, also when the leader is gone), a record whose PID now
 * belongs to another process (start time differs) kills nothing, a live server's records stay.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { reapLeftovers } from '../../../../src/backends/supervisor/leftovers';
import { processStartTime } from '../../../../src/backends/supervisor/proc';
import { writeRecord, type RunRecord } from '../../../../src/backends/supervisor/run-records';
import { isAlive, makeTempDir, removeDir, waitFor } from '../runner/util';

let dir: string;
const started: ChildProcess[] = [];
const extra: number[] = [];

beforeEach(() => {
  dir = makeTempDir();
});

afterEach(() => {
  for (const c of started.splice(0)) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const pid of extra.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  removeDir(dir);
});

/** A PID that belonged to a process that has exited (a dead "server"). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

/** A detached `sh` (own group) that starts a `sleep` grandchild; resolves both PIDs. */
async function family(script = 'sleep 60 & echo $!; exec sleep 60'): Promise<{ leader: ChildProcess; gc: number }> {
  const leader = spawn('sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(leader);
  const gc = Number(await new Promise<string>((r) => leader.stdout!.once('data', (d: Buffer) => r(d.toString()))));
  extra.push(gc);
  return { leader, gc };
}

function record(over: Partial<RunRecord> & { pid: number }): RunRecord {
  return {
    instance: 'dead0000dead0000',
    server_pid: deadPid(),
    server_start_time: 1,
    pgid: over.pid,
    start_time: processStartTime(over.pid) ?? null,
    command: '/usr/bin/fake',
    created: new Date().toISOString(),
    ...over,
  };
}

test('a recorded group of a dead server is killed, grandchildren included; the record is removed', async () => {
  const { leader, gc } = await family();
  writeRecord(dir, record({ pid: leader.pid! }));
  const report = reapLeftovers(dir);
  expect(report.killed).toEqual([leader.pid]);
  expect(await waitFor(() => !isAlive(leader.pid!) && !isAlive(gc), 3000)).toBe(true);
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('a group whose leader is gone but whose grandchild lives on is killed', async () => {
  // The leader exits at once; its background sleep stays in the group.
  const { leader, gc } = await family('sleep 60 & echo $!');
  const rec = record({ pid: leader.pid! });
  await waitFor(() => leader.exitCode !== null, 3000);
  expect(isAlive(gc)).toBe(true);
  writeRecord(dir, rec);
  expect(reapLeftovers(dir).killed).toEqual([leader.pid]);
  expect(await waitFor(() => !isAlive(gc), 3000)).toBe(true);
});

test('a record whose PID now names another process (start time differs) kills nothing', async () => {
  const { leader, gc } = await family();
  writeRecord(dir, record({ pid: leader.pid!, start_time: processStartTime(leader.pid!)! - 5 }));
  const report = reapLeftovers(dir);
  expect(report.killed).toEqual([]);
  expect(report.reused).toEqual([leader.pid]);
  expect(report.removed).toBe(1);
  await new Promise((r) => setTimeout(r, 200));
  expect(isAlive(leader.pid!)).toBe(true);
  expect(isAlive(gc)).toBe(true);
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('records of a live server (this process) are left alone', async () => {
  const { leader } = await family();
  writeRecord(
    dir,
    record({ pid: leader.pid!, server_pid: process.pid, server_start_time: processStartTime(process.pid)! }),
  );
  const report = reapLeftovers(dir);
  expect(report).toMatchObject({ killed: [], kept: 1, removed: 0 });
  expect(isAlive(leader.pid!)).toBe(true);
  expect(fs.readdirSync(dir)).toHaveLength(1);
});

test('the own instance is skipped; a recycled server PID (other start time) counts as dead', async () => {
  const { leader } = await family();
  writeRecord(dir, record({ pid: leader.pid!, instance: 'me' }));
  expect(reapLeftovers(dir, { ownInstance: 'me' })).toMatchObject({ killed: [], removed: 0 });
  fs.rmSync(path.join(dir, fs.readdirSync(dir)[0]!));
  writeRecord(dir, record({ pid: leader.pid!, server_pid: process.pid, server_start_time: 1 }));
  expect(reapLeftovers(dir).killed).toEqual([leader.pid]);
});

test('records of processes that are all gone are just removed; old junk files too; a missing directory is fine', () => {
  writeRecord(dir, record({ pid: deadPid(), start_time: 12345 }));
  const junk = path.join(dir, 'x-1.json.tmp');
  fs.writeFileSync(junk, '{"half');
  const old = new Date(Date.now() - 120_000);
  fs.utimesSync(junk, old, old);
  const fresh = path.join(dir, 'y-2.json.tmp');
  fs.writeFileSync(fresh, '{"half');
  const report = reapLeftovers(dir);
  expect(report).toMatchObject({ killed: [], removed: 1 });
  expect(fs.readdirSync(dir)).toEqual(['y-2.json.tmp']);
  expect(reapLeftovers(path.join(dir, 'missing'))).toEqual({ killed: [], reused: [], removed: 0, kept: 0 });
});
