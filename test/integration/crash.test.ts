/**
 * No CLI outlives the server, whatever kills it (real processes, checked by PID; zombies count as
 * dead). The built server (`bin/clinvk.js serve` → dist/) runs as a child process here, so it can
 * be killed with SIGKILL: its process supervisor then kills every group it started. When server
 * and supervisor die together, the next server kills the groups recorded under `$CLINVK_HOME/run/`
 * at start-up — and only those (a reused PID is never killed). SIGTERM to the server's whole
 * process group still drains running requests (the supervisor ignores it).
 * `make test` builds dist/ before running jest.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { SupervisedRunner } from '../../src/backends/runner';
import { processStartTime, readProcStat } from '../../src/backends/supervisor/proc';
import { writeRecord } from '../../src/backends/supervisor/run-records';
import { isAlive, makeTestEnv, makeTestServer, waitFor, type TestEnv } from '../helpers/server';
import { ndjson, readStream } from '../helpers/stream';

const BIN = path.resolve(__dirname, '../../bin/clinvk.js');
const MAIN = path.resolve(__dirname, '../../dist/src/cli/main.js');
const KILL_GRACE_SECS = 1;

interface Served {
  child: ChildProcess;
  url: string;
  out: () => string;
}

const cleanups: (() => void)[] = [];

function killQuietly(pid: number | undefined, group = false): void {
  if (!pid) return;
  try {
    process.kill(group ? -pid : pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Starts `clinvk serve` in its own process group; resolves once it prints its URL. */
async function serve(env: TestEnv): Promise<Served> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--config', path.join(env.root, 'config.yaml'), '--port', '0', '--log-level', 'error'],
    {
      env: { ...process.env, CLINVK_HOME: env.home, CLINVK_API_KEYS: '', CLINVK_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  cleanups.push(() => killQuietly(child.pid, true));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 30_000);
    const onData = (): void => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
  return { child, url, out: () => out };
}

/** Child processes of `pid` (the supervisor is the server's only child). */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => readProcStat(p)?.ppid === pid);
}

/** A stream request whose body is read in the background; never rejects. */
function openStream(url: string, prompt: string, ac: AbortController): Promise<string> {
  return readStream(
    `${url}/api/v1/prompt`,
    { backend: 'claude', prompt, output_format: 'stream-json', ephemeral: true },
    { signal: ac.signal },
  ).then(
    (r) => r.body,
    () => '',
  );
}

/** PIDs of the CLIs (not the availability check's --version probes) and grandchildren the fakes logged, once `n` of each are there. */
async function runningFamilies(env: TestEnv, n: number): Promise<{ clis: number[]; grandchildren: number[] }> {
  return waitFor(
    () => {
      const log = env.log();
      const clis = log.filter((e) => e.event === 'start' && e.argv?.[0] !== '--version').map((e) => e.pid);
      const grandchildren = log.filter((e) => e.event === 'grandchild').map((e) => e.pid);
      return clis.length >= n && grandchildren.length >= n ? { clis, grandchildren } : undefined;
    },
    60_000,
    50,
  );
}

/** A PID whose process has exited. */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim());
}

beforeAll(() => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
});

afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

test('SIGKILL of the server during 8 streams: no CLI or grandchild is alive kill_grace_secs + 1 s later', async () => {
  const env = makeTestEnv({ server: { kill_grace_secs: KILL_GRACE_SECS, max_concurrent_executions: 16 } });
  try {
    const server = await serve(env);
    const [supervisor] = childrenOf(server.child.pid!);
    expect(supervisor).toBeDefined();
    const ac = new AbortController();
    cleanups.push(() => ac.abort());
    // Half of them ignore SIGTERM: only the SIGKILL after the grace period ends those.
    const streams = Array.from({ length: 8 }, (_, i) =>
      openStream(server.url, `long ${i} [GRANDCHILD] [SLOW:30000]${i % 2 ? ' [IGNORE_TERM]' : ''}`, ac),
    );
    const { clis, grandchildren } = await runningFamilies(env, 8);
    const all = [...clis, ...grandchildren];
    cleanups.push(() => all.forEach((p) => killQuietly(p)));
    // Every [IGNORE_TERM] is in force once its `run` line is logged.
    await waitFor(() => env.log().filter((e) => (e.event as string) === 'run').length >= 8, 30_000);
    expect(all.every(isAlive)).toBe(true);
    expect(all).toHaveLength(16);

    const t0 = Date.now();
    process.kill(server.child.pid!, 'SIGKILL');
    const gone = await waitFor(() => all.every((p) => !isAlive(p)), (KILL_GRACE_SECS + 1) * 1000, 20).catch(
      () => false,
    );
    const elapsed = Date.now() - t0;
    expect({ gone, alive: all.filter(isAlive) }).toEqual({ gone: true, alive: [] });
    expect(elapsed).toBeLessThanOrEqual((KILL_GRACE_SECS + 1) * 1000 + 100);
    // The supervisor exits after its clean-up; the ones that ignore SIGTERM waited for SIGKILL.
    await waitFor(() => !isAlive(supervisor!), 5000);
    const signals = env.log().filter((e) => (e.event as string) === 'signal');
    expect(signals.length).toBeGreaterThanOrEqual(4);
    expect(fs.readdirSync(path.join(env.home, 'run'))).toEqual([]);
    ac.abort();
    await Promise.all(streams);
  } finally {
    env.cleanup();
  }
});

test('server and supervisor killed together: the next server kills the recorded leftovers, never a reused PID', async () => {
  const env = makeTestEnv({ server: { kill_grace_secs: KILL_GRACE_SECS } });
  try {
    const first = await serve(env);
    const [supervisor] = childrenOf(first.child.pid!);
    const ac = new AbortController();
    cleanups.push(() => ac.abort());
    const streams = [0, 1].map((i) => openStream(first.url, `left ${i} [GRANDCHILD] [SLOW:30000]`, ac));
    const { clis, grandchildren } = await runningFamilies(env, 2);
    const all = [...clis, ...grandchildren];
    cleanups.push(() => all.forEach((p) => killQuietly(p)));

    // Each running CLI is recorded with its group and start time.
    const runDir = path.join(env.home, 'run');
    const records = fs.readdirSync(runDir).map((f) => JSON.parse(fs.readFileSync(path.join(runDir, f), 'utf8')));
    expect(records.map((r) => r.pid).sort()).toEqual([...clis].sort());
    for (const r of records) {
      expect(r).toMatchObject({ pgid: r.pid, start_time: processStartTime(r.pid), server_pid: first.child.pid });
    }

    // An unrelated live process and a record that names its PID with another start time (as if
    // the PID had been reused since the record was written).
    const unrelated = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    cleanups.push(() => killQuietly(unrelated.pid, true));
    writeRecord(runDir, {
      instance: 'feedfacefeedface',
      server_pid: deadPid(),
      server_start_time: 1,
      pid: unrelated.pid!,
      pgid: unrelated.pid!,
      start_time: processStartTime(unrelated.pid!)! - 7,
      command: '/usr/bin/claude',
      created: new Date().toISOString(),
    });

    // One SIGKILL for the whole group: server and supervisor die at the same instant, so nobody
    // is left to clean up — the CLIs (own process groups) survive them.
    process.kill(-first.child.pid!, 'SIGKILL');
    await waitFor(() => !isAlive(first.child.pid!) && !isAlive(supervisor!), 5000);
    ac.abort();
    await Promise.all(streams);
    await new Promise((r) => setTimeout(r, 300));
    expect(all.filter(isAlive)).toEqual(all);

    const second = await serve(env);
    // The clean-up runs before the server listens.
    const gone = await waitFor(() => all.every((p) => !isAlive(p)), 1000, 20).catch(() => false);
    expect({ gone, alive: all.filter(isAlive) }).toEqual({ gone: true, alive: [] });
    expect(isAlive(unrelated.pid!)).toBe(true);
    expect(fs.readdirSync(runDir)).toEqual([]);

    // And the new server works.
    const r = await readStream(`${second.url}/api/v1/prompt`, {
      backend: 'claude',
      prompt: 'after restart',
      output_format: 'stream-json',
      ephemeral: true,
    });
    expect(ndjson(r.body).at(-1)).toMatchObject({ type: 'done' });
    const exit = new Promise<number | null>((resolve) => second.child.once('exit', resolve));
    process.kill(second.child.pid!, 'SIGTERM');
    expect(await exit).toBe(0);
  } finally {
    env.cleanup();
  }
});

test('SIGTERM to the server’s whole process group: the running stream completes (drain), exit 0', async () => {
  const env = makeTestEnv({ server: { kill_grace_secs: KILL_GRACE_SECS } });
  try {
    const server = await serve(env);
    const [supervisor] = childrenOf(server.child.pid!);
    const stream = readStream(`${server.url}/api/v1/prompt`, {
      backend: 'claude',
      prompt: 'drain me [SLOW:400]',
      output_format: 'stream-json',
      ephemeral: true,
    });
    await waitFor(() => env.log().some((e) => e.event === 'start' && e.argv?.[0] !== '--version'), 30_000);
    const exit = new Promise<number | null>((resolve) => server.child.once('exit', resolve));
    process.kill(-server.child.pid!, 'SIGTERM');
    const r = await stream;
    const events = ndjson(r.body);
    expect(events.at(-1)).toMatchObject({ type: 'done', content: { exit_code: 0 } });
    expect(await exit).toBe(0);
    await waitFor(() => !isAlive(supervisor!), 5000);
    const end = env.log().find((e) => e.event === 'end');
    expect(end).toMatchObject({ code: 0 });
  } finally {
    env.cleanup();
  }
});

test('the supervisor dies: its runs end (group killed), the next run gets a new supervisor', async () => {
  const s = await makeTestServer({ server: { kill_grace_secs: KILL_GRACE_SECS } });
  try {
    const runner = s.server.services.runner as SupervisedRunner;
    const supervisor = runner.supervisorPid!;
    expect(supervisor).toBeGreaterThan(0);
    const pending = readStream(`${s.url}/api/v1/prompt`, {
      backend: 'claude',
      prompt: 'orphan [GRANDCHILD] [SLOW:30000]',
      output_format: 'stream-json',
      ephemeral: true,
    });
    const { clis, grandchildren } = await runningFamilies(s, 1);
    process.kill(supervisor, 'SIGKILL');
    const r = await pending;
    const events = ndjson(r.body);
    expect(events.filter((e) => e.type === 'done' || e.type === 'error')).toHaveLength(1);
    expect(events.at(-1)!.type).toBe('error');
    await waitFor(() => !isAlive(clis[0]!) && !isAlive(grandchildren[0]!), 2000);
    const again = await readStream(`${s.url}/api/v1/prompt`, {
      backend: 'claude',
      prompt: 'next',
      output_format: 'stream-json',
      ephemeral: true,
    });
    expect(ndjson(again.body).at(-1)).toMatchObject({ type: 'done' });
    expect(runner.supervisorPid).toBeGreaterThan(0);
    expect(runner.supervisorPid).not.toBe(supervisor);
  } finally {
    await s.close();
  }
});
