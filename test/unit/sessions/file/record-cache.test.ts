/**
 * The list's record cache never serves a record that changed: writes by another store on the same
 * directory (another process), a record renamed in by a writer that died before its journal line,
 * and a record edited in place behind the store's back.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { FileSessionStore } from '../../../../src/sessions/file';
import { VERIFY_PER_READ } from '../../../../src/sessions/file/record-cache';
import type { SessionRecord } from '../../../../src/sessions/types';
import { Clock, newSession, storesClosedAfterEach, tmpHome } from '../helpers';

const STALE = 60_000;
const open = storesClosedAfterEach();

async function pageOf(store: FileSessionStore, limit = 100): Promise<SessionRecord[]> {
  return (await store.list({ limit, offset: 0 })).sessions;
}

test('a turn completed through another store on the same directory shows in the next page', async () => {
  const dir = path.join(tmpHome(), 'sessions');
  const clock = new Clock();
  const reader = await open(dir, { now: clock.now });
  const writer = await open(dir, { now: clock.now });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    clock.advance(1000);
    ids.push((await writer.create(newSession())).id);
  }
  expect((await pageOf(reader)).map((s) => s.turn_count)).toEqual([1, 1, 1, 1, 1]);
  await pageOf(reader); // served from the cache
  clock.advance(1000);
  await writer.claimTurn(ids[2], STALE);
  await writer.completeTurn(ids[2], { success: true, backend_session_id: 'b', model: 'opus' }, true);
  const page = await pageOf(reader);
  expect(page[0]).toMatchObject({ id: ids[2], status: 'completed', turn_count: 2, model: 'opus' });
  expect(page).toHaveLength(5);
});

test('a record renamed in without a journal line (its writer died) is seen at the next page', async () => {
  const dir = path.join(tmpHome(), 'sessions');
  const clock = new Clock();
  const store = await open(dir, { now: clock.now });
  clock.advance(1000);
  const rec = await store.create(newSession());
  expect((await pageOf(store))[0]).toMatchObject({ id: rec.id, status: 'completed' });
  // What a writer does before its journal append: temp file, then rename over the record.
  const tmp = path.join(dir, '.tmp-0123456789abcdef');
  fs.writeFileSync(tmp, JSON.stringify({ ...rec, status: 'error', error_message: 'x' }, null, 2));
  fs.renameSync(tmp, path.join(dir, `${rec.id}.json`));
  const page = await pageOf(store);
  expect(page).toEqual([expect.objectContaining({ id: rec.id, status: 'error' })]);
});

test('records edited in place are dropped from the cache within a few pages', async () => {
  const dir = path.join(tmpHome(), 'sessions');
  const clock = new Clock();
  const store = await open(dir, { now: clock.now });
  const ids: string[] = [];
  const n = 3 * VERIFY_PER_READ;
  for (let i = 0; i < n; i++) {
    clock.advance(1000);
    ids.push((await store.create(newSession())).id);
  }
  expect(await pageOf(store)).toHaveLength(n);
  // Same status, so the index still matches: only the file's stat tells.
  for (const id of ids) {
    const file = path.join(dir, `${id}.json`);
    const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as SessionRecord;
    fs.writeFileSync(file, JSON.stringify({ ...rec, title: 'edited' }, null, 2));
  }
  let page: SessionRecord[] = [];
  for (let i = 0; i < n / VERIFY_PER_READ; i++) page = await pageOf(store);
  expect(page.map((s) => s.title)).toEqual(ids.map(() => 'edited'));
});

test('a small page is verified on every read', async () => {
  const dir = path.join(tmpHome(), 'sessions');
  const store = await open(dir);
  const rec = await store.create(newSession());
  await pageOf(store, 1);
  const file = path.join(dir, `${rec.id}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...rec, title: 'edited in place' }, null, 2));
  expect((await pageOf(store, 1))[0]?.title).toBe('edited in place');
});
