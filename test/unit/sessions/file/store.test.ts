import * as fs from 'fs';
import * as path from 'path';
import { FileSessionStore } from '../../../../src/sessions/file';
import { isJournalOp } from '../../../../src/sessions/file/journal';
import type { SessionRecord } from '../../../../src/sessions/types';
import {
  Clock,
  dirFiles,
  expectApiError,
  newSession,
  recordingLogger,
  storesClosedAfterEach,
  tmpHome,
} from '../helpers';

const STALE = 60_000;
const open = storesClosedAfterEach();

function sessionsDir(): string {
  return path.join(tmpHome(), 'sessions');
}

function readJson(dir: string, id: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(dir, `${id}.json`), 'utf8')) as Record<string, unknown>;
}

test('the record file is the pretty-printed record in the documented key order', async () => {
  const dir = sessionsDir();
  const store = await open(dir);
  const rec = await store.create(
    newSession({ status: 'active', turn_count: 0, model: 'haiku', initial_prompt: 'hello', metadata: { a: 'b' } }),
  );
  const text = fs.readFileSync(path.join(dir, `${rec.id}.json`), 'utf8');
  expect(text).toContain('\n  "id": ');
  expect(JSON.parse(text)).toEqual(rec);
  expect(Object.keys(JSON.parse(text))).toEqual([
    'id',
    'backend',
    'created_at',
    'last_used',
    'working_dir',
    'model',
    'initial_prompt',
    'status',
    'turn_count',
    'token_usage',
    'tags',
    'metadata',
    'claimed_by',
  ]);
  expect(rec.claimed_by).toMatchObject({ pid: process.pid });
  await store.completeTurn(rec.id, { success: false, error_message: 'x' }, true);
  await store.claimTurn(rec.id, STALE);
  await store.completeTurn(rec.id, { success: true }, true);
  expect(readJson(dir, rec.id).error_message).toBeUndefined();
});

describe('prefix resolution over record files', () => {
  function writeRecord(dir: string, id: string, over: Partial<SessionRecord> = {}): void {
    const rec = {
      id,
      backend: 'codex',
      created_at: '2025-06-01T10:00:00Z',
      last_used: '2025-06-01T10:00:00Z',
      working_dir: '/w',
      status: 'completed',
      turn_count: 1,
      token_usage: { input_tokens: 0, output_tokens: 0 },
      tags: [],
      ...over,
    };
    fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify(rec, null, 2), { mode: 0o600 });
  }

  test('exact match wins, unique prefix resolves, ambiguous and unknown fail with the spec messages', async () => {
    const dir = sessionsDir();
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const legacy = 'abcdef0123456789';
    const full = `${legacy}0123456789abcdef`;
    writeRecord(dir, legacy);
    writeRecord(dir, full);
    writeRecord(dir, 'abcd00000000000000000000000000ff');
    writeRecord(dir, '11111111111111111111111111111111');
    const store = await open(dir);

    expect((await store.resolve(legacy)).id).toBe(legacy); // exact (16-hex legacy) wins over the longer id
    expect((await store.resolve(full)).id).toBe(full);
    expect((await store.resolve('abcdef01234567890')).id).toBe(full);
    expect((await store.resolve('1')).id).toBe('11111111111111111111111111111111');
    await expectApiError(
      store.resolve('abcd'),
      'ambiguous_session_id',
      'ambiguous session id prefix "abcd": matches 3 sessions',
    );
    await expectApiError(
      store.resolve('abcdef'),
      'ambiguous_session_id',
      'ambiguous session id prefix "abcdef": matches 2 sessions',
    );
    await expectApiError(store.resolve('2'), 'session_not_found', 'session not found: 2');
    await expectApiError(store.resolve('ffffffffffffffffffffffffffffffff'), 'session_not_found');
    // Defence in depth: ids that are not hex never reach the file system.
    fs.writeFileSync(path.join(path.dirname(dir), 'x.json'), '{}');
    await expectApiError(store.resolve('../x'), 'session_not_found');
    await expectApiError(store.claimTurn('../x', STALE), 'session_not_found');
    await expectApiError(store.completeTurn('../x', { success: true }, true), 'session_not_found');
    await expectApiError(store.delete('../x', STALE), 'session_not_found');
    await store.discard('../x');
    expect(fs.existsSync(path.join(path.dirname(dir), 'x.json'))).toBe(true);
  });

  test('legacy records with missing fields and non-UTC timestamps are readable and sorted by instant', async () => {
    const dir = sessionsDir();
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(
      path.join(dir, '0123456789abcdef.json'),
      JSON.stringify({
        id: '0123456789abcdef',
        backend: 'gemini',
        created_at: '2025-01-01T12:00:00.123456789+01:00',
        last_used: '2025-01-01T12:00:00.123456789+01:00',
        status: 'completed',
        extra_field: 7,
      }),
    );
    writeRecord(dir, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', { last_used: '2025-01-01T11:30:00Z' });
    const store = await open(dir);
    const rec = await store.resolve('0123');
    expect(rec).toMatchObject({
      id: '0123456789abcdef',
      turn_count: 0,
      tags: [],
      working_dir: '',
      token_usage: { input_tokens: 0, output_tokens: 0 },
    });
    const page = await store.list({ limit: 10, offset: 0 });
    // 11:00:00.123Z (legacy, +01:00) is older than 11:30Z.
    expect(page.sessions.map((s) => s.id)).toEqual(['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '0123456789abcdef']);
    // An update keeps unknown legacy fields.
    await store.claimTurn('0123456789abcdef', STALE);
    expect(readJson(dir, '0123456789abcdef').extra_field).toBe(7);
  });
});

describe('durability and layout', () => {
  test('modes: directory 0700, records and index files 0600; no temp files left behind', async () => {
    const dir = path.join(tmpHome(), 'deep', 'sessions');
    const store = await open(dir);
    const rec = await store.create(newSession());
    await store.claimTurn(rec.id, STALE);
    await store.completeTurn(rec.id, { success: true }, true);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const files = dirFiles(dir);
    expect(files).toEqual([`${rec.id}.json`, 'index.journal', 'index.json']);
    for (const f of files) expect([f, fs.statSync(path.join(dir, f)).mode & 0o777]).toEqual([f, 0o600]);
    expect(files.some((f) => f.startsWith('.tmp-'))).toBe(false);
  });

  test('leftover temp files older than one hour are removed at start-up; none is ever listed', async () => {
    const dir = sessionsDir();
    const s1 = await open(dir);
    const rec = await s1.create(newSession());
    await s1.close();
    const old = path.join(dir, '.tmp-0123abcd');
    const fresh = path.join(dir, '.tmp-fffffff0');
    fs.writeFileSync(old, '{"partial":');
    fs.writeFileSync(fresh, JSON.stringify({ ...rec, id: 'ffffffffffffffffffffffffffffffff' }));
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    fs.utimesSync(old, twoHoursAgo, twoHoursAgo);
    const logger = recordingLogger();
    const s2 = await open(dir, { logger });
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(fresh)).toBe(true); // may belong to a write in progress
    const page = await s2.list({ limit: 100, offset: 0 });
    expect(page.total).toBe(1);
    expect(page.sessions.map((s) => s.id)).toEqual([rec.id]);
    expect(await s2.count()).toBe(1);
  });

  test('a corrupt record is skipped by list (warned once, not in total) and resolve → internal_error', async () => {
    const dir = sessionsDir();
    const clock = new Clock();
    const s1 = await open(dir, { now: clock.now });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      clock.advance(1000);
      ids.push((await s1.create(newSession())).id);
    }
    await s1.close();
    fs.writeFileSync(path.join(dir, `${ids[1]}.json`), '{"id": "trunc');
    const logger = recordingLogger();
    const s2 = await open(dir, { logger, now: clock.now });
    const page = await s2.list({ limit: 100, offset: 0 });
    expect(page.total).toBe(3);
    expect(page.sessions.map((s) => s.id)).toEqual([ids[3], ids[2], ids[0]]);
    await s2.list({ limit: 100, offset: 0 });
    await expectApiError(s2.resolve(ids[1]), 'internal_error');
    await expectApiError(s2.resolve(ids[1].slice(0, 12)), 'internal_error');
    const warns = logger.calls.filter(
      (c) => c.level === 'warn' && c.msg.includes('unreadable') && JSON.stringify(c.meta).includes(ids[1]),
    );
    expect(warns).toHaveLength(1);
    expect(await s2.count()).toBe(3);
    expect((await s2.health()).session_count).toBe(3);

    // Corrupted while the store is open: discovered when it reaches a page, total corrected.
    fs.writeFileSync(path.join(dir, `${ids[3]}.json`), 'garbage');
    const p2 = await s2.list({ limit: 1, offset: 0 });
    expect(p2).toEqual({ sessions: [expect.objectContaining({ id: ids[2] })], total: 2 });

    // Repaired file becomes visible again after a restart.
    await s2.close();
    const good = JSON.parse(fs.readFileSync(path.join(dir, `${ids[0]}.json`), 'utf8')) as SessionRecord;
    fs.writeFileSync(path.join(dir, `${ids[1]}.json`), JSON.stringify({ ...good, id: ids[1] }));
    const s3 = await open(dir);
    expect((await s3.list({ limit: 10, offset: 0 })).total).toBe(3);
    expect((await s3.resolve(ids[1])).id).toBe(ids[1]);
  });

  test.each([
    [
      'deleted',
      (dir: string) => {
        fs.unlinkSync(path.join(dir, 'index.json'));
        fs.unlinkSync(path.join(dir, 'index.journal'));
      },
    ],
    ['snapshot garbled', (dir: string) => fs.writeFileSync(path.join(dir, 'index.json'), '{"clinvk_index":1,"gen":')],
    ['snapshot of another shape', (dir: string) => fs.writeFileSync(path.join(dir, 'index.json'), '[1,2,3]')],
    ['journal garbled', (dir: string) => fs.appendFileSync(path.join(dir, 'index.journal'), 'not json at all\n')],
    ['journal truncated mid-line', (dir: string) => fs.appendFileSync(path.join(dir, 'index.journal'), '["p","ab')],
    ['journal header garbled', (dir: string) => fs.writeFileSync(path.join(dir, 'index.journal'), 'xx\n')],
    ['journal deleted', (dir: string) => fs.unlinkSync(path.join(dir, 'index.journal'))],
    [
      'journal of another index',
      (dir: string) =>
        fs.writeFileSync(
          path.join(dir, 'index.journal'),
          '{"clinvk_index":1,"id":"0badc0de","prev_id":null,"prev_len":-1}\n',
        ),
    ],
  ])('index %s → rebuilt from the records', async (_name, damage) => {
    const dir = sessionsDir();
    const clock = new Clock();
    const s1 = await open(dir, { now: clock.now });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      ids.push((await s1.create(newSession({ backend: i % 2 ? 'codex' : 'claude' }))).id);
    }
    await s1.completeTurn(ids[0], { success: false, error_message: 'x' }, true);
    await s1.close();
    damage(dir);
    const logger = recordingLogger();
    const s2 = await open(dir, { logger, now: clock.now });
    expect((await s2.health()).available).toBe(true);
    const page = await s2.list({ limit: 100, offset: 0 });
    expect(page.sessions.map((s) => s.id)).toEqual([...ids].reverse());
    expect((await s2.list({ status: 'error', limit: 10, offset: 0 })).sessions.map((s) => s.id)).toEqual([ids[0]]);
    expect(logger.calls.some((c) => c.msg.includes('rebuilding the session index'))).toBe(true);
    // Works normally afterwards.
    await s2.create(newSession());
    expect(await s2.count()).toBe(6);
    expect(dirFiles(dir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  test('a compaction interrupted between snapshot and journal replacement loads without a rebuild', async () => {
    const dir = sessionsDir();
    const s1 = await open(dir);
    const ids = [
      (await s1.create(newSession())).id,
      (await s1.create(newSession())).id,
      (await s1.create(newSession())).id,
    ];
    await s1.close();
    const journal = fs.readFileSync(path.join(dir, 'index.journal'), 'utf8').trim().split('\n');
    const header = JSON.parse(journal[0]) as { id: string };
    // What the compaction had written before the crash: a snapshot holding the whole journal and
    // naming the journal that was about to replace it.
    fs.writeFileSync(
      path.join(dir, 'index.json'),
      JSON.stringify({
        clinvk_index: 1,
        journal: 'feedface',
        prev_journal: header.id,
        entries: journal.slice(1).map((l) => JSON.parse(l) as unknown),
      }),
    );
    const logger = recordingLogger();
    const s2 = await open(dir, { logger });
    expect((await s2.list({ limit: 10, offset: 0 })).sessions.map((s) => s.id).sort()).toEqual([...ids].sort());
    expect(logger.calls.filter((c) => c.level === 'warn')).toEqual([]);
    const fresh = fs.readFileSync(path.join(dir, 'index.journal'), 'utf8').split('\n');
    expect(JSON.parse(fresh[0])).toMatchObject({ id: 'feedface', prev_id: null });
  });

  test('index files removed while the store is open → rebuilt on the next read', async () => {
    const dir = sessionsDir();
    const store = await open(dir);
    const a = await store.create(newSession());
    fs.unlinkSync(path.join(dir, 'index.journal'));
    fs.unlinkSync(path.join(dir, 'index.json'));
    const b = await open(dir).then((s) => s.create(newSession())); // another instance writes meanwhile
    const page = await store.list({ limit: 10, offset: 0 });
    expect(page.sessions.map((s) => s.id).sort()).toEqual([a.id, b.id].sort());
  });

  test('records changed, added or removed behind the index are reconciled at start-up', async () => {
    const dir = sessionsDir();
    const clock = new Clock();
    const s1 = await open(dir, { now: clock.now });
    const a = await s1.create(newSession());
    clock.advance(1000);
    const b = await s1.create(newSession());
    clock.advance(1000);
    const c = await s1.create(newSession());
    await s1.close();
    // Status changed by hand, one record removed, one added (e.g. a crash between record and index write).
    fs.writeFileSync(
      path.join(dir, `${a.id}.json`),
      JSON.stringify({ ...a, status: 'error', error_message: 'boom' }, null, 2),
    );
    fs.unlinkSync(path.join(dir, `${b.id}.json`));
    const dId = 'dddddddddddddddddddddddddddddddd';
    fs.writeFileSync(
      path.join(dir, `${dId}.json`),
      JSON.stringify({ ...c, id: dId, backend: 'gemini', last_used: b.last_used }, null, 2),
    );
    const s2 = await open(dir, { now: clock.now });
    expect((await s2.list({ limit: 10, offset: 0 })).sessions.map((s) => s.id)).toEqual([c.id, dId, a.id]);
    expect((await s2.list({ status: 'error', limit: 10, offset: 0 })).sessions.map((s) => s.id)).toEqual([a.id]);
    expect((await s2.list({ backend: 'gemini', limit: 10, offset: 0 })).total).toBe(1);
    await expectApiError(s2.resolve(b.id), 'session_not_found');

    // A record file appearing while open is found by an exact id, and a vanished one is not listed.
    const eId = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee';
    fs.writeFileSync(path.join(dir, `${eId}.json`), JSON.stringify({ ...c, id: eId }, null, 2));
    expect((await s2.resolve(eId)).id).toBe(eId);
    fs.unlinkSync(path.join(dir, `${c.id}.json`));
    const page = await s2.list({ limit: 10, offset: 0 });
    expect(page.sessions.map((s) => s.id)).toEqual([eId, dId, a.id]);
    expect(page.total).toBe(3);
  });
});

describe('availability', () => {
  test('sessions path under a regular file → health unavailable, operations → session_store_unavailable', async () => {
    const home = tmpHome();
    const file = path.join(home, 'not-a-dir');
    fs.writeFileSync(file, 'x');
    const logger = recordingLogger();
    const store = await open(path.join(file, 'sessions'), { logger });
    const h = await store.health();
    expect(h.available).toBe(false);
    expect(h.session_count).toBe(0);
    expect(h.error).toMatch(/ENOTDIR|EEXIST/);
    expect(h.error).not.toContain(home); // no paths in the public reason
    await expectApiError(store.create(newSession()), 'session_store_unavailable', /^session store unavailable: /);
    await expectApiError(store.list({ limit: 1, offset: 0 }), 'session_store_unavailable');
    await expectApiError(store.resolve('ab'), 'session_store_unavailable');
    await expectApiError(store.count(), 'session_store_unavailable');
    await expectApiError(store.claimTurn('ab'.repeat(16), STALE), 'session_store_unavailable');
    await expectApiError(store.purgeOlderThan(new Date(), STALE), 'session_store_unavailable');
    expect(logger.calls.some((c) => c.level === 'warn')).toBe(true);
  });

  test('sessions path is a regular file → unavailable; recovers once it becomes a directory', async () => {
    const home = tmpHome();
    const dir = path.join(home, 'sessions');
    fs.writeFileSync(dir, 'x');
    const store = await open(dir);
    expect(await store.health()).toMatchObject({ available: false, session_count: 0 });
    await expectApiError(store.list({ limit: 1, offset: 0 }), 'session_store_unavailable');
    fs.unlinkSync(dir);
    expect(await store.health()).toEqual({ available: true, session_count: 0 });
    await store.create(newSession());
    expect(await store.count()).toBe(1);
  });

  test('directory replaced by a file while open → unavailable', async () => {
    const home = tmpHome();
    const dir = path.join(home, 'sessions');
    const store = await open(dir);
    await store.create(newSession());
    fs.rmSync(dir, { recursive: true });
    fs.writeFileSync(dir, 'x');
    expect((await store.health()).available).toBe(false);
    await expectApiError(store.create(newSession()), 'session_store_unavailable');
    await expectApiError(store.list({ limit: 1, offset: 0 }), 'session_store_unavailable');
  });

  test('a lock left by a dead process is recovered; a live lock makes mutations wait, then fail', async () => {
    const dir = sessionsDir();
    const store = await open(dir, { lockTimeoutMs: 400, lockStaleMs: 2000 });
    const lock = path.join(dir, 'store.lock');
    fs.mkdirSync(lock);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, old, old);
    const t0 = Date.now();
    await store.create(newSession());
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(fs.existsSync(lock)).toBe(false);

    fs.mkdirSync(lock); // fresh: held by a live process
    await expectApiError(store.create(newSession()), 'session_store_unavailable', /lock/);
    // Reads never need the lock.
    expect((await store.list({ limit: 10, offset: 0 })).total).toBe(1);
    fs.rmdirSync(lock);
    await store.create(newSession());
    expect(await store.count()).toBe(2);
  });
});

describe('several stores on one directory (same process)', () => {
  test("each sees the others' writes incrementally, across compactions", async () => {
    const dir = sessionsDir();
    const a = await open(dir, { compactMinLines: 8 });
    const b = await open(dir, { compactMinLines: 8 });
    const shared = await a.create(newSession());
    const ids = [shared.id];
    const openFds = (): number => (fs.existsSync('/proc/self/fd') ? fs.readdirSync('/proc/self/fd').length : 0);
    const fds0 = openFds();
    for (let i = 0; i < 30; i++) {
      const w = i % 2 ? a : b;
      await w.completeTurn(shared.id, { success: true, usage: { input_tokens: 1, output_tokens: 1 } }, true);
      ids.push((await w.create(newSession({ backend: i % 3 ? 'codex' : 'gemini' }))).id);
      // Interleave reads so that both follow the journal through compactions.
      if (i % 5 === 0) {
        expect((await a.list({ limit: 1000, offset: 0 })).total).toBe(ids.length);
        expect((await b.resolve(shared.id)).turn_count).toBe(1 + i + 1);
      }
    }
    for (const s of [a, b]) {
      const page = await s.list({ limit: 1000, offset: 0 });
      expect(page.total).toBe(31);
      expect(page.sessions.map((r) => r.id).sort()).toEqual([...ids].sort());
      expect((await s.resolve(shared.id)).turn_count).toBe(31);
      expect((await s.resolve(shared.id)).token_usage).toEqual({ input_tokens: 30, output_tokens: 30 });
    }
    // Replaced journals are closed (no descriptor leak across compactions).
    expect(openFds() - fds0).toBeLessThanOrEqual(1);
    // The journal was compacted (it is far shorter than the 90+ mutations).
    const journal = fs.readFileSync(path.join(dir, 'index.journal'), 'utf8').trim().split('\n');
    expect(journal.length).toBeLessThan(60);
    // A fresh store loads snapshot + journal consistently.
    const c = await open(dir);
    expect((await c.list({ backend: 'gemini', limit: 1000, offset: 0 })).total).toBe(10);
  });
});

describe('owners in the index', () => {
  test('the owner is in the record file and in the index; it survives a reopen, a compaction and a rebuild', async () => {
    const dir = sessionsDir();
    const s1 = await open(dir, { compactMinLines: 4 });
    const a = await s1.create(newSession({ owner: 'team-a' }));
    const b = await s1.create(newSession({ owner: 'team-b' }));
    for (let i = 0; i < 6; i++) await s1.completeTurn(a.id, { success: true }, true); // compactions
    await s1.idle();
    expect(readJson(dir, a.id).owner).toBe('team-a');
    const journal = fs.readFileSync(path.join(dir, 'index.journal'), 'utf8');
    const snapshot = fs.readFileSync(path.join(dir, 'index.json'), 'utf8');
    expect(`${journal}${snapshot}`).toContain('"team-a"');
    await s1.close();
    const expectOwners = async (s: FileSessionStore) => {
      expect((await s.list({ owner: 'team-a', limit: 10, offset: 0 })).sessions.map((r) => r.id)).toEqual([a.id]);
      expect((await s.list({ owner: 'team-b', limit: 10, offset: 0 })).sessions.map((r) => r.id)).toEqual([b.id]);
      await expectApiError(s.resolve(b.id, 'team-a'), 'session_not_found');
    };
    const s2 = await open(dir);
    await expectOwners(s2);
    await s2.close();
    fs.unlinkSync(path.join(dir, 'index.json'));
    fs.unlinkSync(path.join(dir, 'index.journal'));
    await expectOwners(await open(dir));
  });

  test('a record and journal from before ownership: the session belongs to no one (admins only)', async () => {
    const dir = sessionsDir();
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const id = 'ab'.repeat(16);
    const rec = {
      id,
      backend: 'claude',
      created_at: '2026-01-01T00:00:00.000Z',
      last_used: '2026-01-01T00:00:00.000Z',
      working_dir: '/tmp/project',
      status: 'completed',
      turn_count: 1,
      token_usage: { input_tokens: 0, output_tokens: 0 },
      tags: ['api'],
    };
    fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify(rec, null, 2));
    const st = fs.statSync(path.join(dir, `${id}.json`));
    // A journal as written before owners existed: put operations of seven elements.
    fs.writeFileSync(
      path.join(dir, 'index.journal'),
      '{"clinvk_index":1,"id":"0123abcd","prev_id":null,"prev_len":0}\n' +
        `${JSON.stringify(['p', id, 'claude', 'completed', rec.last_used, st.mtimeMs, st.size])}\n`,
    );
    const put = ['p', id, 'claude', 'completed', rec.last_used, st.mtimeMs, st.size];
    expect(isJournalOp(put)).toBe(true);
    expect(isJournalOp([...put, 'team-a'])).toBe(true);
    expect(isJournalOp([...put, 7])).toBe(false);
    const s = await open(dir);
    expect(await s.resolve(id)).not.toHaveProperty('owner');
    expect((await s.list({ limit: 10, offset: 0 })).total).toBe(1);
    expect((await s.list({ owner: 'team-a', limit: 10, offset: 0 })).total).toBe(0);
    await expectApiError(s.resolve(id, 'team-a'), 'session_not_found', `session not found: ${id}`);
    await expectApiError(s.resolve('ab', 'team-a'), 'session_not_found', 'session not found: ab');
  });
});
