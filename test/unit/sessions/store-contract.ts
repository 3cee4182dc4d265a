/**
 * The SessionStore contract as a reusable jest suite: every implementation (the file store today, a
 * networked store later) runs it through `describeSessionStoreContract(name, factory)`. Only the
 * interface is used here; implementation details (files, tables) are tested next to each store.
 */
import type { SessionRecord, SessionStore } from '../../../src/sessions/types';
import { Clock, expectApiError, newSession } from './helpers';

/** A fresh, empty backing store (a directory, a schema, …) that several store objects can open. */
export interface StoreBacking {
  open(opts?: { now?: () => Date }): Promise<SessionStore>;
  /** Removes the backing data (stores opened on it are closed by the suite first). */
  dispose(): Promise<void>;
}

const STALE = 60_000;

export function describeSessionStoreContract(name: string, makeBacking: () => Promise<StoreBacking>): void {
  describe(`SessionStore contract: ${name}`, () => {
    let backing: StoreBacking;
    const opened: SessionStore[] = [];

    async function open(clock?: Clock): Promise<SessionStore> {
      const store = await backing.open(clock ? { now: clock.now } : {});
      opened.push(store);
      return store;
    }

    beforeEach(async () => {
      backing = await makeBacking();
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await backing.dispose();
    });

    test('create → resolve → claim → complete → delete', async () => {
      const clock = new Clock();
      const store = await open(clock);
      const rec = await store.create(
        newSession({ status: 'active', turn_count: 0, model: 'haiku', initial_prompt: 'hello', metadata: { a: 'b' } }),
      );
      expect(rec.id).toMatch(/^[0-9a-f]{32}$/);
      expect(rec).toMatchObject({
        id: rec.id,
        backend: 'claude',
        created_at: '2026-01-01T00:00:00.000Z',
        last_used: '2026-01-01T00:00:00.000Z',
        working_dir: '/tmp/project',
        model: 'haiku',
        initial_prompt: 'hello',
        status: 'active',
        turn_count: 0,
        token_usage: { input_tokens: 0, output_tokens: 0 },
        tags: ['api'],
        metadata: { a: 'b' },
      });
      expect(await store.resolve(rec.id)).toEqual(rec);

      // The creator holds the claim: a continuation is busy.
      await expectApiError(
        store.claimTurn(rec.id, STALE),
        'session_busy',
        `session ${rec.id} is busy: a turn is already running`,
      );
      clock.advance(1000);
      const done = await store.completeTurn(
        rec.id,
        { success: true, backend_session_id: 'b-1', usage: { input_tokens: 10, output_tokens: 2, cached_tokens: 3 } },
        true,
      );
      expect(done).toMatchObject({ status: 'completed', turn_count: 1, backend_session_id: 'b-1' });
      expect(done.token_usage).toEqual({ input_tokens: 10, output_tokens: 2, cached_tokens: 3 });
      expect(done.last_used).toBe('2026-01-01T00:00:00.000Z'); // last_used = claim time

      clock.advance(1000);
      const claim = await store.claimTurn(rec.id, STALE);
      expect(claim).toMatchObject({
        id: rec.id,
        previousStatus: 'completed',
        previousLastUsed: '2026-01-01T00:00:00.000Z',
      });
      expect(await store.resolve(rec.id)).toMatchObject({ status: 'active', last_used: '2026-01-01T00:00:02.000Z' });
      await expectApiError(store.claimTurn(rec.id, STALE), 'session_busy');
      await expectApiError(store.delete(rec.id, STALE), 'session_busy');

      const failed = await store.completeTurn(
        rec.id,
        {
          success: false,
          error_message: 'timed out after 5 s',
          usage: { input_tokens: 1, output_tokens: 1, reasoning_tokens: 4 },
          backend_cumulative_usage: { input_tokens: 11, output_tokens: 3 },
          model: 'opus',
        },
        true,
      );
      expect(failed).toMatchObject({
        status: 'error',
        turn_count: 2,
        error_message: 'timed out after 5 s',
        model: 'opus',
      });
      expect(failed.token_usage).toEqual({ input_tokens: 11, output_tokens: 3, cached_tokens: 3, reasoning_tokens: 4 });
      expect(failed.backend_cumulative_usage).toEqual({ input_tokens: 11, output_tokens: 3 });
      expect(failed.backend_session_id).toBe('b-1'); // unchanged when not reported
      expect(await store.resolve(rec.id)).toEqual(failed);

      // Success removes error_message; storeTokenUsage=false leaves usage alone.
      clock.advance(1000);
      await store.claimTurn(rec.id, STALE);
      const ok = await store.completeTurn(
        rec.id,
        { success: true, usage: { input_tokens: 100, output_tokens: 100 } },
        false,
      );
      expect(ok.error_message).toBeUndefined();
      expect((await store.resolve(rec.id)).error_message).toBeUndefined();
      expect(ok.token_usage).toEqual(failed.token_usage);
      expect(ok.turn_count).toBe(3);

      expect(await store.delete(rec.id, STALE)).toBe(rec.id);
      await expectApiError(store.resolve(rec.id), 'session_not_found', `session not found: ${rec.id}`);
      await expectApiError(store.delete(rec.id, STALE), 'session_not_found', `session not found: ${rec.id}`);
      await expectApiError(store.completeTurn(rec.id, { success: true }, true), 'session_not_found');
      await expectApiError(store.claimTurn(rec.id, STALE), 'session_not_found');
      expect(await store.count()).toBe(0);
    });

    test('dry-run creation; initial_prompt truncated to 4096 characters; empty metadata not stored', async () => {
      const store = await open();
      const rec = await store.create(newSession({ initial_prompt: '😀'.repeat(5000), metadata: {} }));
      expect(rec.status).toBe('completed');
      expect(rec.turn_count).toBe(1);
      expect(Array.from(rec.initial_prompt ?? '')).toHaveLength(4096);
      expect(rec.metadata).toBeUndefined();
      expect(await store.resolve(rec.id)).toEqual(rec);
      expect(await store.claimTurn(rec.id, STALE)).toMatchObject({ previousStatus: 'completed' });
    });

    test('a stale claim (crashed process) is taken over; releaseClaim restores the previous state', async () => {
      const clock = new Clock();
      const store = await open(clock);
      const rec = await store.create(newSession({ status: 'active', turn_count: 0 }));
      clock.advance(STALE - 1);
      await expectApiError(store.claimTurn(rec.id, STALE), 'session_busy');
      clock.advance(2);
      const claim = await store.claimTurn(rec.id, STALE);
      expect(claim.previousStatus).toBe('active');
      await store.releaseClaim(claim);
      expect(await store.resolve(rec.id)).toMatchObject({ status: 'active', last_used: rec.last_used });

      // Release after somebody else re-claimed does nothing.
      clock.advance(STALE * 2);
      const c1 = await store.claimTurn(rec.id, STALE);
      await store.completeTurn(rec.id, { success: true }, true);
      clock.advance(5);
      await store.claimTurn(rec.id, STALE);
      await store.releaseClaim(c1);
      expect((await store.resolve(rec.id)).status).toBe('active');
      // Release of a deleted session is a no-op.
      await store.discard(rec.id);
      await store.releaseClaim(c1);
    });

    test('delete of a stale active session succeeds; discard deletes regardless of status', async () => {
      const clock = new Clock();
      const store = await open(clock);
      const a = await store.create(newSession({ status: 'active', turn_count: 0 }));
      const b = await store.create(newSession({ status: 'active', turn_count: 0 }));
      await store.discard(b.id);
      await store.discard(b.id); // idempotent
      await expectApiError(store.resolve(b.id), 'session_not_found');
      clock.advance(STALE + 1);
      expect(await store.delete(a.id, STALE)).toBe(a.id);
      expect(await store.count()).toBe(0);
    });

    test('prefix resolution: exact id, unique prefix, ambiguous and unknown prefixes with the documented messages', async () => {
      const store = await open();
      const ids: string[] = [];
      // 20 ids over 16 possible first characters: at least one first character is shared.
      for (let i = 0; i < 20; i++) ids.push((await store.create(newSession())).id);
      for (const id of ids.slice(0, 5)) {
        expect((await store.resolve(id)).id).toBe(id);
        const unique = id.slice(0, 31);
        if (ids.filter((x) => x.startsWith(unique)).length === 1) expect((await store.resolve(unique)).id).toBe(id);
      }
      const shared = [...'0123456789abcdef'].find((c) => ids.filter((id) => id.startsWith(c)).length > 1) as string;
      const n = ids.filter((id) => id.startsWith(shared)).length;
      await expectApiError(
        store.resolve(shared),
        'ambiguous_session_id',
        `ambiguous session id prefix "${shared}": matches ${n} sessions`,
      );
      const hex = '0123456789abcdef';
      const unused = [...hex]
        .flatMap((a) => [...hex].map((b) => a + b))
        .find((p) => !ids.some((id) => id.startsWith(p)));
      await expectApiError(store.resolve(unused as string), 'session_not_found', `session not found: ${unused}`);
      await expectApiError(store.resolve('f'.repeat(32)), 'session_not_found');
      // Ids that are not lowercase hex name no session (and no other path or row).
      for (const bad of ['../x', 'ABCDEF', `${ids[0].slice(0, 31)}/`]) {
        await expectApiError(store.resolve(bad), 'session_not_found');
        await expectApiError(store.claimTurn(bad, STALE), 'session_not_found');
        await expectApiError(store.completeTurn(bad, { success: true }, true), 'session_not_found');
        await expectApiError(store.delete(bad, STALE), 'session_not_found');
        await store.discard(bad);
      }
      expect(await store.count()).toBe(20);
    });

    test('list: filters, sort by last_used desc then id asc, total before paging', async () => {
      const clock = new Clock();
      const store = await open(clock);
      const created: SessionRecord[] = [];
      const backends = ['claude', 'codex', 'gemini'] as const;
      for (let i = 0; i < 12; i++) {
        if (i % 4 !== 0) clock.advance(1000); // groups of equal last_used → ties by id
        created.push(
          await store.create(
            newSession({ backend: backends[i % 3], status: i % 2 ? 'completed' : 'active', turn_count: i % 2 }),
          ),
        );
      }
      const expected = [...created].sort((a, b) =>
        a.last_used === b.last_used ? (a.id < b.id ? -1 : 1) : a.last_used < b.last_used ? 1 : -1,
      );
      const all = await store.list({ limit: 100, offset: 0 });
      expect(all.total).toBe(12);
      expect(all.sessions).toEqual(expected);

      const page = await store.list({ limit: 5, offset: 3 });
      expect(page.total).toBe(12);
      expect(page.sessions.map((s) => s.id)).toEqual(expected.slice(3, 8).map((s) => s.id));

      const codex = await store.list({ backend: 'codex', limit: 2, offset: 1 });
      const allCodex = expected.filter((s) => s.backend === 'codex');
      expect(codex.total).toBe(allCodex.length);
      expect(codex.sessions.map((s) => s.id)).toEqual(allCodex.slice(1, 3).map((s) => s.id));

      const activeGemini = await store.list({ backend: 'gemini', status: 'active', limit: 100, offset: 0 });
      const want = expected.filter((s) => s.backend === 'gemini' && s.status === 'active');
      expect(activeGemini.total).toBe(want.length);
      expect(activeGemini.sessions.map((s) => s.id)).toEqual(want.map((s) => s.id));

      expect(await store.list({ status: 'paused', limit: 10, offset: 0 })).toEqual({ sessions: [], total: 0 });
      expect(await store.list({ limit: 10, offset: 50 })).toEqual({ sessions: [], total: 12 });

      // An update moves a session: a claim sets last_used to now.
      clock.advance(10_000);
      const oldest = expected[expected.length - 1];
      await store.claimTurn(oldest.id, 0);
      const after = await store.list({ limit: 1, offset: 0 });
      expect(after.sessions[0].id).toBe(oldest.id);
      expect(after.sessions[0].status).toBe('active');
    });

    test('ownership: owner is stored; resolve and list limited to an owner see only its sessions', async () => {
      const clock = new Clock();
      const store = await open(clock);
      const mine: SessionRecord[] = [];
      const theirs: SessionRecord[] = [];
      // 24 sessions of two owners and 4 of no one (legacy): first characters repeat across owners.
      for (let i = 0; i < 24; i++) {
        clock.advance(1000);
        const rec = await store.create(newSession({ owner: i % 2 ? 'team-b' : 'team-a' }));
        (i % 2 ? theirs : mine).push(rec);
      }
      const unowned: SessionRecord[] = [];
      for (let i = 0; i < 4; i++) unowned.push(await store.create(newSession()));
      expect(mine[0].owner).toBe('team-a');
      expect(unowned[0]).not.toHaveProperty('owner');
      expect(await store.resolve(mine[0].id, 'team-a')).toEqual(mine[0]);
      expect((await store.resolve(theirs[0].id)).owner).toBe('team-b'); // no owner given: every session

      // Another owner's session, or one of no one, is not there: the same error as an absent id.
      for (const foreign of [theirs[0].id, unowned[0].id, theirs[1].id.slice(0, 31)]) {
        await expectApiError(store.resolve(foreign, 'team-a'), 'session_not_found', `session not found: ${foreign}`);
      }
      // A prefix counts only the owner's matches; a prefix matching only foreign sessions is not found.
      const hex = [...'0123456789abcdef'];
      for (const c of hex) {
        const own = mine.filter((r) => r.id.startsWith(c));
        const all = [...mine, ...theirs, ...unowned].filter((r) => r.id.startsWith(c));
        if (own.length === 1) expect((await store.resolve(c, 'team-a')).id).toBe(own[0].id);
        if (own.length > 1) {
          await expectApiError(
            store.resolve(c, 'team-a'),
            'ambiguous_session_id',
            `ambiguous session id prefix "${c}": matches ${own.length} sessions`,
          );
        }
        if (own.length === 0) await expectApiError(store.resolve(c, 'team-a'), 'session_not_found');
        if (all.length > 1) await expectApiError(store.resolve(c), 'ambiguous_session_id');
      }

      const a = await store.list({ owner: 'team-a', limit: 5, offset: 2 });
      const newestFirst = [...mine].reverse();
      expect(a.total).toBe(12);
      expect(a.sessions.map((r) => r.id)).toEqual(newestFirst.slice(2, 7).map((r) => r.id));
      expect(a.sessions.every((r) => r.owner === 'team-a')).toBe(true);
      expect((await store.list({ owner: 'team-b', limit: 100, offset: 0 })).total).toBe(12);
      expect((await store.list({ owner: 'nobody', limit: 100, offset: 0 })).total).toBe(0);
      expect((await store.list({ limit: 100, offset: 0 })).total).toBe(28);
      const bCodex = await store.list({ owner: 'team-b', backend: 'codex', limit: 100, offset: 0 });
      expect(bCodex).toEqual({ sessions: [], total: 0 });

      // Turns keep the owner.
      clock.advance(1000);
      await store.claimTurn(mine[0].id, STALE);
      const done = await store.completeTurn(mine[0].id, { success: true }, true);
      expect(done.owner).toBe('team-a');
      expect((await store.list({ owner: 'team-a', limit: 1, offset: 0 })).sessions[0]).toEqual(done);
    });

    test('retention: deletes sessions older than the cutoff, never one holding a valid claim', async () => {
      const clock = new Clock();
      const store = await open(clock);
      const old1 = await store.create(newSession());
      const old2 = await store.create(newSession());
      const oldActive = await store.create(newSession({ status: 'active', turn_count: 0 }));
      clock.advance(10 * 86400_000);
      const recent = await store.create(newSession());
      const cutoff = new Date(clock.t - 86400_000);
      // A huge staleClaimMs keeps the old active claim valid.
      expect(await store.purgeOlderThan(cutoff, 30 * 86400_000)).toBe(2);
      const left = (await store.list({ limit: 10, offset: 0 })).sessions.map((s) => s.id);
      expect(left.sort()).toEqual([oldActive.id, recent.id].sort());
      await expectApiError(store.resolve(old1.id), 'session_not_found');
      await expectApiError(store.resolve(old2.id), 'session_not_found');
      expect(await store.purgeOlderThan(cutoff, 1000)).toBe(1);
      expect(await store.count()).toBe(1);
    });

    test("health and count; two store objects on one backing see each other's writes; data survives a reopen", async () => {
      const a = await open();
      const b = await open();
      expect(await a.health()).toEqual({ available: true, session_count: 0 });
      const rec = await a.create(newSession({ status: 'active', turn_count: 0 }));
      expect((await b.resolve(rec.id.slice(0, 10))).id).toBe(rec.id);
      await expectApiError(b.claimTurn(rec.id, STALE), 'session_busy');
      await b.completeTurn(rec.id, { success: true }, true);
      expect((await a.resolve(rec.id)).status).toBe('completed');
      expect(await b.count()).toBe(1);
      expect((await a.list({ limit: 10, offset: 0 })).total).toBe(1);
      await a.close();
      await b.close();
      const c = await open();
      expect(await c.resolve(rec.id)).toMatchObject({ status: 'completed', turn_count: 1 });
      expect(await c.health()).toEqual({ available: true, session_count: 1 });
    });

    test('concurrent mutations on one session lose no update', async () => {
      const store = await open();
      const other = await open();
      const rec = await store.create(newSession());
      await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          (i % 2 ? store : other).completeTurn(
            rec.id,
            { success: true, usage: { input_tokens: 1, output_tokens: 2 } },
            true,
          ),
        ),
      );
      const final = await store.resolve(rec.id);
      expect(final.turn_count).toBe(25);
      expect(final.token_usage).toEqual({ input_tokens: 24, output_tokens: 48 });
    });

    test('closed store reports unavailable', async () => {
      const store = await open();
      await store.close();
      await store.close();
      expect((await store.health()).available).toBe(false);
      await expectApiError(store.count(), 'session_store_unavailable');
    });
  });
}
