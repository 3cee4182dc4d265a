/**
 * Named API keys at the HTTP edge: principals, unnamed admin keys from the environment, expiry,
 * the key name in access logs (never a key or a hash), reload on a running app.
 */
import request from 'supertest';
import { expectMatchesSpec } from '../helpers/contract';
import { as, KEY_A, KEY_ADMIN, KEY_B, memoryLogger, sha256, teamKeys } from '../helpers/keys';
import { inProcessOnly, makeTestApp, ON_CLUSTER, type TestApp } from '../helpers/server';

const PROMPT = { backend: 'claude', prompt: 'hi', ephemeral: true };

describe('named keys', () => {
  let t: TestApp;
  let log: ReturnType<typeof memoryLogger>;
  beforeAll(async () => {
    log = memoryLogger('info');
    t = await makeTestApp(
      { auth: { keys: teamKeys({ 'team-b': { expires_at: '2020-01-01T00:00:00Z' } }) } },
      // a cluster's nodes log to their own output: the log cases run in process only
      ON_CLUSTER ? { apiKeys: ['env-admin-key'] } : { apiKeys: ['env-admin-key'], logger: log.logger },
    );
  });
  afterAll(() => t.close());

  it('a named user key, the admin key and an unnamed key from the environment are accepted', async () => {
    for (const key of [KEY_A, KEY_ADMIN, 'env-admin-key']) {
      const res = await request(t.app).post('/api/v1/prompt').set(as(key)).send(PROMPT);
      expect(res.status).toBe(200);
      expectMatchesSpec('executePrompt', res.status, res.body);
    }
  });

  it('unknown and expired keys → 401 invalid API key in every style', async () => {
    for (const key of ['nope', KEY_B]) {
      const res = await request(t.app).post('/api/v1/prompt').set(as(key)).send(PROMPT);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ success: false, error: 'invalid API key', code: 'unauthorized' });
      expect(res.headers['www-authenticate']).toBe('Bearer realm="clinvk"');
    }
    const oa = await request(t.app).get('/openai/v1/models').set(as(KEY_B));
    expect(oa.status).toBe(401);
    expect(oa.body.error.code).toBe('unauthorized');
    const an = await request(t.app).get('/anthropic/v1/models').set({ 'x-api-key': KEY_B });
    expect(an.status).toBe(401);
    expect(an.body.error.type).toBe('authentication_error');
  });

  inProcessOnly("reads the server's log")('the expiry of a key is logged with its name (the refusals above)', () => {
    const expired = log.lines().filter((l) => l.message === 'expired API key refused');
    expect(expired.length).toBe(3);
    expect(expired[0]).toMatchObject({ level: 'info', key: 'team-b' });
  });

  inProcessOnly("reads the server's log")('access log lines carry the key name, never a key or its hash', async () => {
    const res = await request(t.app).get('/api/v1/backends').set(as(KEY_A)).set('X-Request-Id', 'keys-log-1');
    expect(res.status).toBe(200);
    const line = log.lines().find((l) => l.message === 'request' && l.request_id === 'keys-log-1');
    expect(line).toMatchObject({ key: 'team-a', status: 200 });
    const env = log.lines().find((l) => l.message === 'request' && l.status === 200 && l.key?.startsWith('key-'));
    expect(env?.key).toBe(`key-${sha256('env-admin-key').slice(0, 8)}`);
    const text = log.text();
    for (const secret of [KEY_A, KEY_B, KEY_ADMIN, 'env-admin-key', sha256(KEY_A), sha256(KEY_ADMIN)]) {
      expect(text).not.toContain(secret);
    }
  });

  inProcessOnly("replaces one process's key registry")(
    'a key removed from the registry is refused by the next request',
    async () => {
      const keys = t.bundle.services.keys;
      const before = await request(t.app).get('/api/v1/backends').set(as(KEY_A));
      expect(before.status).toBe(200);
      keys.replace(
        t.config.auth.keys.filter((k) => k.name !== 'team-a'),
        {},
      );
      const after = await request(t.app).get('/api/v1/backends').set(as(KEY_A));
      expect(after.status).toBe(401);
      keys.replace(t.config.auth.keys, {});
    },
  );
});

describe('auth off', () => {
  inProcessOnly("reads the server's log")('without any key every request acts as the anonymous admin', async () => {
    const log = memoryLogger('info');
    const t = await makeTestApp({}, { logger: log.logger });
    try {
      const res = await request(t.app).get('/api/v1/backends').set('X-Request-Id', 'anon-1');
      expect(res.status).toBe(200);
      expect(log.lines().find((l) => l.request_id === 'anon-1')).toMatchObject({ key: 'anonymous' });
    } finally {
      await t.close();
    }
  });
});
