/**
 * Sessions over HTTP against the file store: the shared sessions HTTP contract suite, plus what is
 * specific to the file store (an unusable sessions directory).
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { createServerApp } from '../../src/http/server';
import { createSilentLogger } from '../../src/observability/logger';
import { FileSessionStore } from '../../src/sessions';
import { expectMatchesSpec } from '../helpers/contract';
import { makeTestEnv } from '../helpers/server';
import { describeSessionsHttpContract } from '../helpers/sessions-http-suite';

describeSessionsHttpContract('file', (home) => FileSessionStore.open({ dir: path.join(home, 'sessions') }));

describe('file store specifics', () => {
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
