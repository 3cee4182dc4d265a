/**
 * Ownership of sessions across keys: two user keys (team-a, team-b) and an admin (ops). A user key
 * sees, continues and deletes only its own sessions; another key's session answers exactly like an
 * absent one. Admins see everything and filter by owner. Jobs that continue a session obey the same.
 * Every case runs on the file stores and on the PostgreSQL stores.
 */
import request from 'supertest';
import { expectMatchesSpec } from '../helpers/contract';
import { as, KEY_A, KEY_ADMIN, KEY_B, teamKeys } from '../helpers/keys';
import { SchemaPool } from '../helpers/postgres';
import { makeTestApp, waitFor, type TestApp } from '../helpers/server';
import { storeBackings } from '../helpers/stores';

type AnyObject = Record<string, any>;

const schemas = new SchemaPool();
afterAll(() => schemas.dropAll());

describe.each(storeBackings(schemas))('session ownership (%s stores)', (_stores, b) => {
  let t: TestApp;
  const ids: Record<string, string[]> = { 'team-a': [], 'team-b': [], ops: [] };
  const KEY_OF: Record<string, string> = { 'team-a': KEY_A, 'team-b': KEY_B, ops: KEY_ADMIN };

  async function prompt(key: string, body: AnyObject) {
    const res = await request(t.app).post('/api/v1/prompt').set(as(key)).send(body);
    expectMatchesSpec('executePrompt', res.status, res.body);
    return res;
  }

  async function get(key: string, id: string) {
    const res = await request(t.app).get(`/api/v1/sessions/${id}`).set(as(key));
    expectMatchesSpec('getSession', res.status, res.body);
    return res;
  }

  async function list(key: string, query = '') {
    const res = await request(t.app).get(`/api/v1/sessions${query}`).set(as(key));
    expectMatchesSpec('listSessions', res.status, res.body);
    expect(res.status).toBe(200);
    return res.body.data as { sessions: AnyObject[]; total: number };
  }

  /** What a client can observe of a response, without what differs between any two responses. */
  function observable(res: request.Response) {
    const headers = { ...res.headers };
    for (const h of ['date', 'x-request-id', 'request-id', 'traceparent', 'etag']) delete headers[h];
    return { status: res.status, headers, body: res.body as unknown };
  }

  beforeAll(async () => {
    t = await makeTestApp({ auth: { keys: teamKeys() }, ...b.config() });
    for (const [name, n] of [
      ['team-a', 3],
      ['team-b', 2],
      ['ops', 1],
    ] as const) {
      for (let i = 0; i < n; i++) {
        const res = await prompt(KEY_OF[name], { backend: i === 1 ? 'codex' : 'claude', prompt: `${name} ${i}` });
        expect(res.status).toBe(200);
        ids[name].push(res.body.data.session_id as string);
      }
    }
  });
  afterAll(() => t.close());

  it('sessions record their owner and show it', async () => {
    const a = await get(KEY_A, ids['team-a'][0]);
    expect(a.status).toBe(200);
    expect(a.body.data).toMatchObject({ id: ids['team-a'][0], owner: 'team-a' });
    const rec = await t.storedSession(ids['team-b'][0]);
    expect(rec.owner).toBe('team-b');
    const admin = await get(KEY_ADMIN, ids['team-b'][0]);
    expect(admin.status).toBe(200);
    expect(admin.body.data.owner).toBe('team-b');
  });

  it('lists contain only the own sessions; totals count only them; the owner filter is for admins', async () => {
    const a = await list(KEY_A);
    expect(a.total).toBe(3);
    expect(a.sessions.map((s) => s.id).sort()).toEqual([...ids['team-a']].sort());
    expect(a.sessions.every((s) => s.owner === 'team-a')).toBe(true);
    // a user key asking for another owner still sees only its own
    const sneaky = await list(KEY_A, '?owner=team-b');
    expect(sneaky.total).toBe(3);
    expect(sneaky.sessions.every((s) => s.owner === 'team-a')).toBe(true);
    const aCodex = await list(KEY_A, '?backend=codex&limit=1');
    expect(aCodex.total).toBe(1);
    expect(aCodex.sessions[0].id).toBe(ids['team-a'][1]);
    expect((await list(KEY_B)).total).toBe(2);

    const all = await list(KEY_ADMIN);
    expect(all.total).toBe(6);
    const b = await list(KEY_ADMIN, '?owner=team-b');
    expect(b.total).toBe(2);
    expect(b.sessions.map((s) => s.id).sort()).toEqual([...ids['team-b']].sort());
    expect((await list(KEY_ADMIN, '?owner=nobody')).total).toBe(0);
  });

  it("/health counts only the caller's own sessions for a user key, all of them for an admin", async () => {
    const counts: Record<string, number> = {};
    for (const [name, key] of Object.entries(KEY_OF)) {
      const res = await request(t.app).get('/health').set(as(key));
      expectMatchesSpec('healthCheck', res.status, res.body);
      counts[name] = res.body.session_store.session_count as number;
    }
    expect(counts).toEqual({ 'team-a': 3, 'team-b': 2, ops: 6 });
  });

  it("another key's session id, prefix or continuation answers exactly like an absent session", async () => {
    const foreign = ids['team-b'][0];
    const prefix = foreign.slice(0, 31); // matches only that session
    const before = {
      get: await get(KEY_A, foreign),
      getPrefix: await get(KEY_A, prefix),
      del: await request(t.app).delete(`/api/v1/sessions/${foreign}`).set(as(KEY_A)),
      cont: await prompt(KEY_A, { session_id: foreign, prompt: 'peek' }),
    };
    expect(before.get.status).toBe(404);
    expect(before.get.body).toEqual({
      success: false,
      error: `session not found: ${foreign}`,
      code: 'session_not_found',
    });
    expect(before.getPrefix.body.error).toBe(`session not found: ${prefix}`);
    expectMatchesSpec('deleteSession', before.del.status, before.del.body);
    expect(before.del.status).toBe(404);
    expect(before.cont.status).toBe(404);
    expect(before.cont.body.code).toBe('session_not_found');
    // nothing ran, nothing changed
    expect(t.starts().some((s) => s.argv?.includes('peek'))).toBe(false);
    expect((await get(KEY_B, foreign)).body.data.turn_count).toBe(1);

    // Now the session is really gone: every answer is the same as before.
    const gone = await request(t.app).delete(`/api/v1/sessions/${foreign}`).set(as(KEY_B));
    expect(gone.status).toBe(200);
    const after = {
      get: await get(KEY_A, foreign),
      getPrefix: await get(KEY_A, prefix),
      del: await request(t.app).delete(`/api/v1/sessions/${foreign}`).set(as(KEY_A)),
      cont: await prompt(KEY_A, { session_id: foreign, prompt: 'peek' }),
    };
    for (const k of ['get', 'getPrefix', 'del', 'cont'] as const) {
      expect(observable(before[k])).toEqual(observable(after[k]));
    }
    ids['team-b'].shift();
  });

  it('an ambiguous prefix counts only the own matches', async () => {
    // Find a prefix shared by one of team-a's sessions and a session of another key, if the random
    // ids give one; then team-a resolves it to its own session while an admin sees it as ambiguous.
    const mine = ids['team-a'];
    const others = [...ids['team-b'], ...ids.ops];
    let shared: { prefix: string; id: string } | undefined;
    for (const id of mine) {
      for (let len = 1; len <= 2 && !shared; len++) {
        const p = id.slice(0, len);
        if (mine.filter((m) => m.startsWith(p)).length === 1 && others.some((o) => o.startsWith(p))) {
          shared = { prefix: p, id };
        }
      }
    }
    // With random ids a shared 1–2 character prefix is likely but not certain: make one if needed.
    while (!shared) {
      const res = await prompt(KEY_B, { backend: 'claude', prompt: 'filler' });
      const id = res.body.data.session_id as string;
      ids['team-b'].push(id);
      const own = mine.find((m) => m[0] === id[0]);
      if (own && mine.filter((m) => m[0] === id[0]).length === 1) shared = { prefix: id[0], id: own };
    }
    const mineRes = await get(KEY_A, shared.prefix);
    expect(mineRes.status).toBe(200);
    expect(mineRes.body.data.id).toBe(shared.id);
    const adminRes = await get(KEY_ADMIN, shared.prefix);
    expect(adminRes.status).toBe(400);
    expect(adminRes.body.code).toBe('ambiguous_session_id');
  });

  it('the owner continues and deletes its session; an admin may continue and delete any', async () => {
    const own = ids['team-a'][0];
    const cont = await prompt(KEY_A, { session_id: own, prompt: 'again' });
    expect(cont.status).toBe(200);
    expect(cont.body.data.session_id).toBe(own);
    const byAdmin = await prompt(KEY_ADMIN, { session_id: own.slice(0, 12), prompt: 'admin turn' });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.data.session_id).toBe(own);
    const rec = await get(KEY_A, own);
    expect(rec.body.data).toMatchObject({ owner: 'team-a', turn_count: 3 });

    const delB = await request(t.app).delete(`/api/v1/sessions/${ids['team-a'][2]}`).set(as(KEY_B));
    expect(delB.status).toBe(404);
    const delAdmin = await request(t.app).delete(`/api/v1/sessions/${ids['team-a'][2]}`).set(as(KEY_ADMIN));
    expectMatchesSpec('deleteSession', delAdmin.status, delAdmin.body);
    expect(delAdmin.body).toEqual({ success: true, data: { deleted: true, id: ids['team-a'][2] } });
    const delA = await request(t.app).delete(`/api/v1/sessions/${ids['team-a'][1]}`).set(as(KEY_A));
    expect(delA.status).toBe(200);
    expect((await list(KEY_A)).total).toBe(1);
  });

  it('a job continuing a session: another key gets 404 at creation; the owner runs it', async () => {
    const own = ids['team-a'][0];
    const foreign = await request(t.app)
      .post('/api/v1/jobs')
      .set(as(KEY_B))
      .send({ operation: 'prompt', request: { session_id: own, prompt: 'job peek' } });
    expectMatchesSpec('createJob', foreign.status, foreign.body);
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('session_not_found');
    expect((await request(t.app).get('/api/v1/jobs').set(as(KEY_ADMIN))).body.data.total).toBe(0);

    const mine = await request(t.app)
      .post('/api/v1/jobs')
      .set(as(KEY_A))
      .send({ operation: 'prompt', request: { session_id: own.slice(0, 10), prompt: 'job turn' } });
    expectMatchesSpec('createJob', mine.status, mine.body);
    expect(mine.status).toBe(202);
    expect(mine.body.data).toMatchObject({ owner: 'team-a', session_id: own });
    const jobId = mine.body.data.id as string;
    const done = await waitFor(async () => {
      const r = await request(t.app).get(`/api/v1/jobs/${jobId}`).set(as(KEY_A));
      return ['succeeded', 'failed'].includes(r.body.data.status) ? r.body.data : undefined;
    }, 15_000);
    expect(done.status).toBe('succeeded');
    expect((await get(KEY_A, own)).body.data.turn_count).toBe(4);
  });

  it('a job without session_id creates a session owned by the job owner', async () => {
    const res = await request(t.app)
      .post('/api/v1/jobs')
      .set(as(KEY_B))
      .send({ operation: 'prompt', request: { backend: 'claude', prompt: 'job new session' } });
    expect(res.status).toBe(202);
    const jobId = res.body.data.id as string;
    const done = await waitFor(async () => {
      const r = await request(t.app).get(`/api/v1/jobs/${jobId}`).set(as(KEY_B));
      return r.body.data.status === 'succeeded' ? r.body.data : undefined;
    }, 15_000);
    const sid = done.session_id as string;
    expect((await get(KEY_B, sid)).body.data.owner).toBe('team-b');
    expect((await get(KEY_A, sid)).status).toBe(404);
  });
});
