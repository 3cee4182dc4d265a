/**
 * Jobs across a server crash, with the built `clinvk` command (`make test` builds dist/ first), on
 * the file job store and on the PostgreSQL job store:
 * SIGKILL while one job runs and 100 wait → after a restart the running one is `failed` with
 * `server_restarted` (one stored terminal event) and all 100 run, in their original order.
 */
import { createJob, events, getJob, readEvents, settle } from '../helpers/jobs';
import { requireBuild, serveProcess as serve } from '../helpers/serve-process';
import { postgresConfig, SchemaPool } from '../helpers/postgres';
import { isAlive, makeTestEnv, waitFor, type TestEnv } from '../helpers/server';
import type { ChildProcess } from 'node:child_process';

const schemas = new SchemaPool();
afterAll(() => schemas.dropAll());

/** The same test on the file job store and on the PostgreSQL job store (a fresh schema). */
const STORES: [string, () => Record<string, unknown>][] = [
  ['file', () => ({})],
  ['postgres', () => postgresConfig(schemas.schema(), ['jobs'])],
];

describe.each(STORES)('jobs survive a SIGKILL of the server (%s job store)', (_name, storeConfig) => {
  let env: TestEnv;
  let child: ChildProcess | undefined;
  beforeAll(() => {
    requireBuild();
    env = makeTestEnv({ server: { max_concurrent_executions: 1 }, ...storeConfig() });
  });
  afterAll(() => {
    child?.kill('SIGKILL');
    env?.cleanup();
  });

  test('100 queued jobs all run after the restart, in order; the running one ends server_restarted', async () => {
    const first = await serve(env);
    child = first.child;
    const running = await createJob(first.url, {
      operation: 'prompt',
      request: { backend: 'claude', prompt: '[SLEEP:60000] interrupted', ephemeral: true },
    });
    expect(running.status).toBe(202);
    await waitFor(async () => (await getJob(first.url, running.body.data.id)).body.data.status === 'running', 20_000);
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await createJob(first.url, {
        operation: 'prompt',
        request: { backend: 'claude', prompt: `queued ${i}`, ephemeral: true },
      });
      expect(r.status).toBe(202);
      ids.push(r.body.data.id);
    }
    const cli = t0Start(env, 'interrupted');
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    // the orphaned CLI of the killed server (process groups are the runner's business)
    if (cli && isAlive(cli)) process.kill(-cli, 'SIGKILL');

    const second = await serve(env);
    child = second.child;
    const failed = await settle(second.url, running.body.data.id);
    expect(failed.status).toBe('failed');
    expect(failed.error.code).toBe('server_restarted');
    const terminal = events((await readEvents(second.url, running.body.data.id)).body).filter(
      (e) => e.type === 'done' || e.type === 'error',
    );
    expect(terminal).toHaveLength(1);
    expect(terminal[0].content.code).toBe('server_restarted');

    for (const id of ids) expect((await settle(second.url, id, 120_000)).status).toBe('succeeded');
    const order = env
      .log()
      .filter((e) => e.event === 'start' && e.argv?.some((a) => a.startsWith('queued ')))
      .map((e) => Number(e.argv!.find((a) => a.startsWith('queued '))!.slice(7)));
    expect(order).toEqual(ids.map((_, i) => i));
  }, 240_000);
});

/** Pid of the fake CLI whose argv contains `marker`. */
function t0Start(env: TestEnv, marker: string): number | undefined {
  return env.log().find((e) => e.event === 'start' && e.argv?.some((a) => a.includes(marker)))?.pid;
}
