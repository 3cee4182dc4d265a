/**
 * The PostgreSQL job store unreachable when the server starts: the server starts anyway, job
 * requests answer 503 `session_store_unavailable` (as the contract says for the durable stores),
 * and ephemeral synchronous runs keep working.
 */
import { call } from '../helpers/jobs';
import { freePort } from '../helpers/serve-process';
import { makeTestServer } from '../helpers/server';

test('jobs on an unreachable PostgreSQL: the server starts, job requests → 503, ephemeral runs work', async () => {
  const port = await freePort();
  const t = await makeTestServer({
    jobs: { store: 'postgres' },
    cluster: { postgres_url: `postgres://postgres@127.0.0.1:${port}/test`, postgres_schema: 'clinvk_unreachable' },
  });
  try {
    const created = await call(t.url, 'POST', '/api/v1/jobs', 'createJob', {
      operation: 'prompt',
      request: { backend: 'claude', prompt: 'nowhere to store me', ephemeral: true },
    });
    expect(created.status).toBe(503);
    expect(created.body.code).toBe('session_store_unavailable');
    const list = await call(t.url, 'GET', '/api/v1/jobs', 'listJobs');
    expect(list.status).toBe(503);
    expect(list.body.code).toBe('session_store_unavailable');
    const got = await call(t.url, 'GET', `/api/v1/jobs/${'a'.repeat(32)}`, 'getJob');
    expect(got.status).toBe(503);
    const run = await call(t.url, 'POST', '/api/v1/prompt', 'executePrompt', {
      backend: 'claude',
      prompt: 'still here',
      ephemeral: true,
    });
    expect(run.status).toBe(200);
    expect(t.starts()).toHaveLength(1);
  } finally {
    await t.close();
  }
});
