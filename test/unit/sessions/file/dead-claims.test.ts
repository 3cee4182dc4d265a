/**
 * Claims of dead processes: a real child process claims sessions and is killed with SIGKILL; a new
 * store (and a new server) on the same directory releases them at once — at start-up and when a
 * turn takes the claim over — recording the interrupted turn. Claims of live processes stay busy.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import request from 'supertest';
import { FileSessionStore } from '../../../../src/sessions/file';
import { expectMatchesSpec } from '../../../helpers/contract';
import { createServerApp } from '../../../../src/http/server';
import { createSilentLogger } from '../../../../src/observability/logger';
import { makeTestEnv } from '../../../helpers/server';
import { storeChildScript } from '../child-store';
import { cleanupHomes, expectApiError, recordingLogger, tmpHome } from '../helpers';

/** Creates `n` active sessions (as a new turn does), prints their ids, then waits forever. */
const CLAIMER = storeChildScript(`
  const [dir, n, workdir] = argv;
  const store = await FileSessionStore.open({ dir });
  const ids = [];
  for (let i = 0; i < Number(n); i++) {
    const rec = await store.create({ backend: 'claude', working_dir: workdir, tags: ['api'], status: 'active', turn_count: 0 });
    ids.push(rec.id);
  }
  process.stdout.write(JSON.stringify(ids) + '\\n');
  setInterval(() => undefined, 1000);
`);

const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  cleanupHomes();
});

async function claimInChild(dir: string, n: number, workdir = '/w'): Promise<{ child: ChildProcess; ids: string[] }> {
  const script = path.join(path.dirname(dir), `claimer-${children.length}.js`);
  fs.writeFileSync(script, CLAIMER);
  const child = spawn(process.execPath, [script, dir, String(n), workdir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`claimer exited with ${code}`)));
  });
  return { child, ids: JSON.parse(line) as string[] };
}

async function kill9(child: ChildProcess): Promise<void> {
  const closed = new Promise((r) => child.once('close', r));
  child.kill('SIGKILL');
  await closed;
}

/** Far longer than any test: only the dead-holder rule can release these claims. */
const STALE = 3600_000;

test('a killed claimer: its claims are released at start-up and on takeover, the interrupted turn recorded', async () => {
  const dir = path.join(tmpHome(), 'sessions');
  const { child, ids } = await claimInChild(dir, 3);
  const claims = ids.map((id) => JSON.parse(fs.readFileSync(path.join(dir, `${id}.json`), 'utf8')));
  for (const rec of claims) {
    expect(rec).toMatchObject({ status: 'active', turn_count: 0, claimed_by: { pid: child.pid } });
  }
  await kill9(child);

  // Takeover: the turn is accepted at once although the claim is fresh.
  const logger = recordingLogger();
  const store = await FileSessionStore.open({ dir, logger });
  const claim = await store.claimTurn(ids[0], STALE);
  expect(claim).toMatchObject({ id: ids[0], previousStatus: 'error' });
  const running = await store.resolve(ids[0]);
  expect(running).toMatchObject({ status: 'active', turn_count: 1, error_message: 'server restarted' });
  expect(running.claimed_by).toMatchObject({ pid: process.pid });
  const done = await store.completeTurn(ids[0], { success: true }, true);
  expect(done).toMatchObject({ status: 'completed', turn_count: 2 });
  expect(done).not.toHaveProperty('error_message');
  expect(done).not.toHaveProperty('claimed_by');

  // Start-up: the other claims were released by the background check.
  await store.idle();
  for (const id of ids.slice(1)) {
    expect(await store.resolve(id)).toMatchObject({
      status: 'error',
      turn_count: 1,
      error_message: 'server restarted',
    });
    expect(await store.resolve(id)).not.toHaveProperty('claimed_by');
  }
  expect(logger.calls.filter((c) => c.msg.includes('dead process released'))).toHaveLength(3);
  // Deleting such a session is allowed too (it holds no valid claim any more).
  expect(await store.delete(ids[1], STALE)).toBe(ids[1]);
  await store.close();
}, 60_000);

test('a live claimer keeps its claims: takeover is refused and start-up leaves them alone', async () => {
  const dir = path.join(tmpHome(), 'sessions');
  const { child, ids } = await claimInChild(dir, 1);
  const store = await FileSessionStore.open({ dir });
  await store.idle();
  expect(await store.resolve(ids[0])).toMatchObject({ status: 'active', turn_count: 0 });
  await expectApiError(store.claimTurn(ids[0], STALE), 'session_busy');
  await expectApiError(store.delete(ids[0], STALE), 'session_busy');
  // The time-based rule still applies to live holders.
  expect(await store.claimTurn(ids[0], 0)).toMatchObject({ previousStatus: 'active' });
  await store.close();
  await kill9(child);
}, 60_000);

test('a server started after the claimer was killed accepts a turn on its session at once', async () => {
  const env = makeTestEnv();
  try {
    const { child, ids } = await claimInChild(path.join(env.home, 'sessions'), 1, env.workdir);
    await kill9(child);
    const bundle = await createServerApp(env.config, createSilentLogger());
    try {
      const res = await request(bundle.app)
        .post('/api/v1/prompt')
        .send({ session_id: ids[0], prompt: 'after the crash' });
      expectMatchesSpec('executePrompt', res.status, res.body);
      expect(res.status).toBe(200);
      expect(res.body.data.session_id).toBe(ids[0]);
      const info = await request(bundle.app).get(`/api/v1/sessions/${ids[0]}`);
      expect(info.body.data).toMatchObject({ status: 'completed', turn_count: 2 });
    } finally {
      await bundle.close();
    }
  } finally {
    env.cleanup();
  }
}, 60_000);
