/**
 * Sessions over HTTP: the shared sessions HTTP contract suite against the file store and the
 * PostgreSQL store, plus what is specific to the file store (an unusable sessions directory).
 * The PostgreSQL store's own cases (unreachable database, migrations, two processes) are in
 * sessions-postgres.test.ts. Against a cluster the contract runs once, on the cluster's store.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { createServerApp } from '../../src/http/server';
import { createSilentLogger } from '../../src/observability/logger';
import { FileSessionStore } from '../../src/sessions';
import { PostgresSessionStore } from '../../src/sessions/postgres';
import { SchemaPool } from '../helpers/postgres';
import { expectMatchesSpec } from '../helpers/contract';
import { describeInProcessOnly, makeTestEnv, ON_CLUSTER } from '../helpers/server';
import { describeSessionsHttpContract } from '../helpers/sessions-http-suite';

const schemas = new SchemaPool();
/** One schema per server home: a restarted server (same home) sees the same sessions. */
const schemaOf = new Map<string, string>();
afterAll(() => schemas.dropAll());

if (ON_CLUSTER) {
  describeSessionsHttpContract('cluster', undefined);
} else {
  describeSessionsHttpContract('file', (home) => FileSessionStore.open({ dir: path.join(home, 'sessions') }));
  describeSessionsHttpContract('postgres', (home) => {
    if (!schemaOf.has(home)) schemaOf.set(home, schemas.schema());
    return PostgresSessionStore.open({ db: schemas.database(schemaOf.get(home)!) });
  });
}

describeInProcessOnly('breaks the file store of one process')('file store specifics', () => {
  test('an unusable store: /health unhealthy (503), prompts that need a session → 503, ephemeral still works', async () => {
    const env = makeTestEnv();
    fs.writeFileSync(path.join(env.home, 'sessions'), 'not a directory');
    const bundle = await createServerApp(env.config, createSilentLogger());
    try {
      const h = await request(bundle.app).get('/health');
      expectMatchesSpec('healthCheck', h.status, h.body);
      expect(h.status).toBe(503);
      expect(h.body).toMatchObject({
        status: 'unhealthy',
        session_store: { available: false, session_count: 0, error: expect.any(String) },
      });
      const p = await request(bundle.app).post('/api/v1/prompt').send({ backend: 'claude', prompt: 'hi' });
      expectMatchesSpec('executePrompt', p.status, p.body);
      expect(p.status).toBe(503);
      expect(p.body.code).toBe('session_store_unavailable');
      const e = await request(bundle.app)
        .post('/api/v1/prompt')
        .send({ backend: 'claude', prompt: 'hi', ephemeral: true });
      expect(e.status).toBe(200);
      const l = await request(bundle.app).get('/api/v1/sessions');
      expect(l.status).toBe(503);
    } finally {
      await bundle.close();
      env.cleanup();
    }
  });
});
