/**
 * The sessions HTTP contract as a reusable suite: multi-turn conversations against each fake
 * backend, resume argv, working directory, busy sessions, restart survival, list/get/delete.
 * `describeSessionsHttpContract(name, openStore)` runs it against any SessionStore implementation;
 * `openStore(home)` opens the store of a server whose `$CLINVK_HOME` is `home` (two calls with the
 * same home must see the same data: the suite restarts the server). Against a cluster
 * (`CLINVK_TEST_TARGET=cluster`) it runs once on the cluster's own store (`openStore` undefined).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { createServerApp } from '../../src/http/server';
import { createSilentLogger } from '../../src/observability/logger';
import type { SessionStore } from '../../src/sessions/types';
import { expectMatchesSpec } from './contract';
import { describeInProcessOnly, makeTestApp, makeTestEnv, waitFor, type TestApp } from './server';

const reply = (prompt: string) =>
  `MOCK-REPLY: ${crypto.createHash('sha256').update(prompt).digest('hex').slice(0, 12)}`;

async function send(t: { app: TestApp['app'] }, body: object) {
  const res = await request(t.app).post('/api/v1/prompt').send(body);
  expectMatchesSpec('executePrompt', res.status, res.body);
  return res;
}

export function describeSessionsHttpContract(
  name: string,
  openStore: ((home: string) => Promise<SessionStore>) | undefined,
): void {
  describe(`multi-turn continuation (${name} store)`, () => {
    let t: TestApp;
    let project: string;
    beforeAll(async () => {
      t = await makeTestApp({}, openStore ? { store: openStore } : {});
      project = path.join(t.root, 'project');
      fs.mkdirSync(project);
    });
    afterAll(() => t.close());

    test.each([
      ['claude', (id: string) => ['-p', '--output-format', 'json', `--resume=${id}`, '--', 'And times 3?']],
      ['codex', (id: string) => ['exec', '--json', '--skip-git-repo-check', 'resume', '--', id, 'And times 3?']],
      ['gemini', (id: string) => ['--output-format=json', '--skip-trust', `--resume=${id}`, '--prompt=And times 3?']],
    ])('%s: second turn resumes the CLI conversation in the session working directory', async (backend, resumeArgv) => {
      const first = await send(t, { backend, prompt: 'What is 2+2?', workdir: project, metadata: { team: 'x' } });
      expect(first.status).toBe(200);
      const id = first.body.data.session_id as string;
      const firstStart = t.starts().at(-1)!;
      const second = await send(t, { session_id: id.slice(0, 12), prompt: 'And times 3?' });
      expect(second.status).toBe(200);
      expect(second.body.data.session_id).toBe(id);
      expect(second.body.data.output).toBe(reply('And times 3?'));
      const start = t.starts().at(-1)!;
      expect(start.cwd).toBe(project);
      const info = await request(t.app).get(`/api/v1/sessions/${id}`);
      expectMatchesSpec('getSession', info.status, info.body);
      const record = await t.storedSession(id);
      expect(record.backend_session_id).toEqual(expect.any(String));
      expect(start.argv).toEqual(resumeArgv(record.backend_session_id as string));
      expect(firstStart.argv!.some((a) => a.startsWith('--resume'))).toBe(false);
      expect(info.body.data).toMatchObject({
        id,
        backend,
        working_dir: project,
        initial_prompt: 'What is 2+2?',
        status: 'completed',
        turn_count: 2,
        tags: ['api'],
        metadata: { team: 'x' },
        owner: 'anonymous',
      });
      expect(Object.keys(info.body.data)).toEqual([
        'id',
        'backend',
        'created_at',
        'last_used',
        'working_dir',
        'initial_prompt',
        'status',
        'turn_count',
        'token_usage',
        'tags',
        'metadata',
        'owner',
      ]);
      expect(info.body.data).not.toHaveProperty('backend_session_id');
    });

    test('codex usage is per turn although the CLI reports thread totals', async () => {
      const first = await send(t, { backend: 'codex', prompt: 'one' });
      const id = first.body.data.session_id;
      const second = await send(t, { session_id: id, prompt: 'two' });
      // The fake reports 14962 then 30000 cumulative input tokens (as the real samples do).
      expect(first.body.data.token_usage).toMatchObject({ input_tokens: 14962, output_tokens: 6 });
      expect(second.body.data.token_usage).toMatchObject({ input_tokens: 30000 - 14962, output_tokens: 6 });
      const info = await request(t.app).get(`/api/v1/sessions/${id}`);
      expect(info.body.data.token_usage).toMatchObject({ input_tokens: 30000, output_tokens: 12 });
    });

    test('a failed turn marks the session error with the message; a later success clears it', async () => {
      const first = await send(t, { backend: 'claude', prompt: 'ok' });
      const id = first.body.data.session_id;
      const bad = await send(t, { session_id: id, prompt: 'boom [E500]' });
      expect(bad.status).toBe(502);
      let info = await request(t.app).get(`/api/v1/sessions/${id}`);
      expect(info.body.data).toMatchObject({
        status: 'error',
        turn_count: 2,
        error_message: expect.stringContaining('API Error: 500'),
      });
      await send(t, { session_id: id, prompt: 'fine' });
      info = await request(t.app).get(`/api/v1/sessions/${id}`);
      expect(info.body.data.status).toBe('completed');
      expect(info.body.data).not.toHaveProperty('error_message');
    });

    test('continuation rules: ephemeral, other backend, other workdir → 400; dry run shows resume argv and changes nothing', async () => {
      const first = await send(t, { backend: 'claude', prompt: 'hi', workdir: project });
      const id = first.body.data.session_id;
      const before = await t.storedSession(id);
      const spawned = t.starts().length;
      for (const [body, p] of [
        [{ session_id: id, prompt: 'x', ephemeral: true }, 'body.ephemeral'],
        [{ session_id: id, prompt: 'x', backend: 'codex' }, 'body.backend'],
        [{ session_id: id, prompt: 'x', workdir: t.workdir }, 'body.workdir'],
      ] as const) {
        const res = await send(t, body);
        expect(res.status).toBe(400);
        expect(res.body.details[0].path).toBe(p);
      }
      const same = await send(t, { session_id: id, prompt: 'x', workdir: project, dry_run: true });
      expect(same.status).toBe(200);
      expect(same.body.data.command.some((a: string) => a.startsWith('--resume='))).toBe(true);
      expect(t.starts().length).toBe(spawned);
      expect(await t.storedSession(id)).toEqual(before);
    });

    test('a turn already running → 409 session_busy; delete while running → 409; the running turn finishes', async () => {
      const first = await send(t, { backend: 'claude', prompt: 'hi' });
      const id = first.body.data.session_id;
      const before = t.starts().length;
      const slow = request(t.app)
        .post('/api/v1/prompt')
        .send({ session_id: id, prompt: 'slow [SLEEP:4000]' })
        .then((r) => r);
      await waitFor(() => t.starts().length > before, 10000);
      const busy = await send(t, { session_id: id, prompt: 'again' });
      expect(busy.status).toBe(409);
      expect(busy.body.code).toBe('session_busy');
      const del = await request(t.app).delete(`/api/v1/sessions/${id}`);
      expect(del.status).toBe(409);
      expectMatchesSpec('deleteSession', del.status, del.body);
      const done = await slow;
      expect(done.status).toBe(200);
      const ok = await request(t.app).delete(`/api/v1/sessions/${id}`);
      expect(ok.body).toEqual({ success: true, data: { deleted: true, id } });
      const again = await request(t.app).delete(`/api/v1/sessions/${id}`);
      expect(again.status).toBe(404);
    });

    test('a claude resume from another directory fails like the real CLI (the server never does that)', async () => {
      const first = await send(t, { backend: 'claude', prompt: 'hi', workdir: project });
      const id = first.body.data.session_id;
      fs.rmSync(path.join(t.stateDir), { recursive: true, force: true });
      const res = await send(t, { session_id: id, prompt: 'lost' });
      expect(res.status).toBe(502);
      expect(res.body.data.error).toMatch(/^No conversation found with session ID: /);
    });
  });

  describeInProcessOnly('restarts one server process on its store')(
    `listing, prefixes and restart (${name} store)`,
    () => {
      test('filters, paging, sort order, ambiguous prefixes; sessions survive a restart', async () => {
        const env = makeTestEnv();
        const logger = createSilentLogger();
        const open = async () => ({ store: openStore ? await openStore(env.home) : undefined });
        let bundle = await createServerApp(env.config, logger, await open());
        try {
          const ids: string[] = [];
          for (const [backend, prompt] of [
            ['claude', 'a'],
            ['codex', 'b'],
            ['gemini', 'c'],
            ['claude', 'd [E400]'],
          ]) {
            const r = await request(bundle.app).post('/api/v1/prompt').send({ backend, prompt });
            ids.push(r.body.data.session_id);
            await new Promise((r) => setTimeout(r, 5));
          }
          await bundle.close();
          bundle = await createServerApp(env.config, logger, await open());
          const all = await request(bundle.app).get('/api/v1/sessions');
          expectMatchesSpec('listSessions', all.status, all.body);
          expect(all.body.data.total).toBe(4);
          expect(all.body.data.sessions.map((s: { id: string }) => s.id)).toEqual([...ids].reverse());
          const claude = await request(bundle.app).get('/api/v1/sessions?backend=claude');
          expect(claude.body.data.total).toBe(2);
          const errors = await request(bundle.app).get('/api/v1/sessions?status=error');
          expect(errors.body.data.sessions.map((s: { id: string }) => s.id)).toEqual([ids[3]]);
          const page = await request(bundle.app).get('/api/v1/sessions?limit=2&offset=1');
          expect(page.body.data).toMatchObject({ total: 4, limit: 2, offset: 1 });
          expect(page.body.data.sessions.map((s: { id: string }) => s.id)).toEqual([ids[2], ids[1]]);
          const empty = await request(bundle.app).get('/api/v1/sessions?backend=gemini&status=error');
          expect(empty.body.data).toEqual({ sessions: [], total: 0, limit: 100, offset: 0 });
          // Continue after the restart.
          const cont = await request(bundle.app)
            .post('/api/v1/prompt')
            .send({ session_id: ids[0], prompt: 'after restart' });
          expect(cont.status).toBe(200);
          expect(cont.body.data.output).toBe(reply('after restart'));
          // Ambiguous prefix: the empty-ish common prefix of 16 random ids is very likely shared by several;
          // find one that matches more than one id.
          const prefix = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'].find(
            (p) => ids.filter((i) => i.startsWith(p)).length > 1,
          );
          if (prefix) {
            const amb = await request(bundle.app).get(`/api/v1/sessions/${prefix}`);
            expectMatchesSpec('getSession', amb.status, amb.body);
            expect(amb.status).toBe(400);
            expect(amb.body).toEqual({
              success: false,
              code: 'ambiguous_session_id',
              error: `ambiguous session id prefix "${prefix}": matches ${ids.filter((i) => i.startsWith(prefix)).length} sessions`,
            });
          }
          const unknown = await request(bundle.app).get('/api/v1/sessions/' + 'f'.repeat(32));
          expect(unknown.status).toBe(404);
          expect(unknown.body).toEqual({
            success: false,
            code: 'session_not_found',
            error: `session not found: ${'f'.repeat(32)}`,
          });
        } finally {
          await bundle.close();
          env.cleanup();
        }
      });
    },
  );
}
