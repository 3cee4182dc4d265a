import * as fs from 'fs';
import * as path from 'path';
import { GroupCommitter } from '../../../../src/sessions/file/group-commit';
import { JournalIndex } from '../../../../src/sessions/file/journal-index';
import { newRecord } from '../../../../src/sessions/transitions';
import type { SessionRecord } from '../../../../src/sessions/types';
import { cleanupHomes, newSession, recordingLogger, tmpHome } from '../helpers';

afterEach(() => cleanupHomes());

const T0 = new Date('2026-01-01T00:00:00.000Z');
const idOf = (n: number): string => n.toString(16).padStart(32, '0');
const rec = (n: number, over: Partial<SessionRecord> = {}): SessionRecord => ({
  ...newRecord(idOf(n), newSession(), T0),
  ...over,
});

function setup(holdMaxMs?: number) {
  const dir = tmpHome();
  const journal = new JournalIndex({ dir, logger: recordingLogger(), compactMinLines: 1000, onUnreadable() {} });
  const holds: number[] = [];
  let batches = 0;
  const committer = new GroupCommitter({
    dir,
    journal,
    index: () => journal.current(''),
    withLock: async (fn) => {
      holds.push(Date.now());
      await journal.syncLocked();
      return fn();
    },
    afterBatch: () => batches++,
    holdMaxMs,
  });
  return { dir, journal, committer, holds, batches: () => batches };
}

const onDisk = (dir: string, n: number): SessionRecord | undefined => {
  const p = path.join(dir, `${idOf(n)}.json`);
  return fs.existsSync(p) ? (JSON.parse(fs.readFileSync(p, 'utf8')) as SessionRecord) : undefined;
};

test('plans arriving while a batch is in flight are written together, under one lock hold', async () => {
  const { dir, journal, committer, holds, batches } = setup();
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      committer.submit((txn) => {
        txn.put(rec(i + 1));
        return i;
      }),
    ),
  );
  expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
  // The first plan starts a batch at once; the 19 others queue behind it and share the next one,
  // written in the same lock hold unless the first batch took longer than the hold limit.
  expect(holds.length).toBeGreaterThanOrEqual(1);
  expect(holds.length).toBeLessThanOrEqual(2);
  expect(batches()).toBe(2);
  for (let i = 1; i <= 20; i++) expect(onDisk(dir, i)).toMatchObject({ id: idOf(i) });
  expect(journal.current('').readable).toBe(20);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
});

test('back-to-back batches share one lock hold (within the hold limit)', async () => {
  const { dir, committer, holds, batches } = setup(60_000);
  await Promise.all(Array.from({ length: 5 }, (_, i) => committer.submit((txn) => txn.put(rec(i + 1)))));
  expect(holds).toHaveLength(1);
  expect(batches()).toBe(2);
  for (let i = 1; i <= 5; i++) expect(onDisk(dir, i)).toMatchObject({ id: idOf(i) });
});

test('with no hold limit left, each batch takes the lock again', async () => {
  const { committer, holds, batches } = setup(0);
  await Promise.all(Array.from({ length: 5 }, (_, i) => committer.submit((txn) => txn.put(rec(i + 1)))));
  expect(holds).toHaveLength(2);
  expect(batches()).toBe(2);
});

test('a plan sees the changes of the plans before it in its batch; a plan that throws leaves no trace', async () => {
  const { dir, committer } = setup();
  await committer.submit((txn) => txn.put(rec(1, { turn_count: 1 })));
  const bump = () =>
    committer.submit((txn) => {
      const r = txn.read(idOf(1));
      if (r.kind !== 'ok') throw new Error('missing');
      r.record.turn_count += 1;
      txn.put(r.record);
      return r.record.turn_count;
    });
  const failing = committer.submit((txn) => {
    txn.put(rec(2));
    txn.remove(idOf(1));
    throw new Error('changed my mind');
  });
  const results = await Promise.allSettled([bump(), failing, bump(), bump()]);
  expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
    2,
    'changed my mind',
    3,
    4,
  ]);
  expect(onDisk(dir, 1)?.turn_count).toBe(4);
  expect(onDisk(dir, 2)).toBeUndefined();
  // Create then remove in one batch: nothing on disk, nothing in the index.
  await Promise.all([
    committer.submit((txn) => txn.put(rec(3))),
    committer.submit((txn) => {
      expect(txn.exists(idOf(3))).toBe(true);
      txn.remove(idOf(3));
    }),
  ]);
  expect(onDisk(dir, 3)).toBeUndefined();
});

test('a failed write rejects the plans that wrote, with the I/O error; the others settle normally', async () => {
  const { dir, journal, committer } = setup();
  await committer.submit((txn) => txn.put(rec(9)));
  // A non-empty directory where record 5 must go: its rename fails.
  fs.mkdirSync(path.join(dir, `${idOf(5)}.json`));
  fs.writeFileSync(path.join(dir, `${idOf(5)}.json`, 'x'), 'x');
  await new Promise((r) => setImmediate(r)); // the committer is idle again
  // While this batch is in flight, the next four plans queue up and then run as one batch.
  const first = committer.submit((txn) => txn.put(rec(1)));
  const batch = [
    committer.submit((txn) => txn.put(rec(4))),
    committer.submit((txn) => txn.put(rec(5))),
    committer.submit(() => 'read only'),
    committer.submit(() => {
      throw new Error('own error');
    }),
  ];
  const settled = await Promise.allSettled(batch);
  await first;
  expect(settled[0]).toMatchObject({ status: 'rejected', reason: { code: expect.stringMatching(/^E/) } });
  expect(settled[1]).toMatchObject({ status: 'rejected', reason: { code: expect.stringMatching(/^E/) } });
  expect(settled[2]).toEqual({ status: 'fulfilled', value: 'read only' });
  expect(settled[3]).toMatchObject({ status: 'rejected', reason: { message: 'own error' } });
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  // The next batch repairs the index from whatever reached the disk.
  fs.rmSync(path.join(dir, `${idOf(5)}.json`), { recursive: true });
  await committer.submit((txn) => txn.put(rec(6)));
  const index = journal.current('');
  expect([1, 4, 6, 9].map((n) => index.has(idOf(n)) === (onDisk(dir, n) !== undefined))).toEqual([
    true,
    true,
    true,
    true,
  ]);
  expect(index.has(idOf(5))).toBe(false);
});
