/**
 * The JobStore operations nodes share a queue with, on the file store and on PostgreSQL (two store
 * instances with their own pools on one schema, as two processes): each queued job is claimed
 * exactly once however the claims race, a released job is claimable again, a take-over needs the
 * current holder, and (PostgreSQL) a node that no longer holds a job writes nothing.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileJobStore } from '../../../src/jobs/file/file-store';
import { PostgresJobStore } from '../../../src/jobs/postgres';
import type { JobRecord, JobStore } from '../../../src/jobs/types';
import { SchemaPool, sql } from '../../helpers/postgres';

const schemas = new SchemaPool();
afterAll(() => schemas.dropAll());

interface Pair {
  /** Two handles on one store (two processes for PostgreSQL; one store for files). */
  stores: [JobStore, JobStore];
  schema?: string;
  close(): Promise<void>;
}

const BACKINGS: [string, () => Promise<Pair>][] = [
  [
    'file',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-claims-'));
      const store = new FileJobStore(dir);
      await store.open();
      return {
        stores: [store, store],
        close: async () => {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
  [
    'postgres',
    async () => {
      const schema = schemas.schema();
      const a = new PostgresJobStore({ db: schemas.database(schema) });
      const b = new PostgresJobStore({ db: schemas.database(schema) });
      a.coordinator('node-a', 10_000);
      b.coordinator('node-b', 10_000);
      await a.open();
      await b.open();
      return { stores: [a, b], schema, close: async () => void (await Promise.all([a.close(), b.close()])) };
    },
  ],
];

async function record(store: JobStore, status: JobRecord['status'] = 'queued'): Promise<JobRecord> {
  return {
    id: randomBytes(16).toString('hex'),
    operation: 'prompt',
    status,
    created_at: new Date().toISOString(),
    owner: 'anonymous',
    summary: 'x',
    queue_seq: await store.nextQueueSeq(),
    request: { backend: 'claude', prompt: 'x' },
    request_id: 'r',
    events: { count: 0, last_sequence: 0 },
  };
}

describe.each(BACKINGS)('%s job store: claims', (_name, open) => {
  let pair: Pair;
  beforeEach(async () => {
    pair = await open();
  });
  afterEach(() => pair.close());

  test('racing claims of 40 queued jobs: listed in queue order, each claimed exactly once', async () => {
    const [a, b] = pair.stores;
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await record(i % 2 ? b : a);
      await (i % 2 ? b : a).put(r);
      ids.push(r.id);
    }
    expect((await a.queued()).map((e) => e.id)).toEqual(ids);
    const results = await Promise.all(
      ids.flatMap((id) => [a.claim(id, 'node-a'), b.claim(id, 'node-b'), a.claim(id, 'node-a')]),
    );
    const won = results.filter((r): r is JobRecord => r !== undefined);
    expect(won.map((r) => r.id).sort()).toEqual([...ids].sort());
    for (const r of won) expect(['node-a', 'node-b']).toContain(r.node);
    expect(await a.queued()).toEqual([]);
    expect(await b.claim(ids[0], 'node-b')).toBeUndefined();
  });

  test('release, take-over, held elsewhere', async () => {
    const [a, b] = pair.stores;
    const r = await record(a);
    await a.put(r);
    expect((await a.claim(r.id, 'node-a'))?.node).toBe('node-a');
    await b.release(r.id, 'node-b'); // not the holder: nothing changes
    expect(await b.queued()).toEqual([]);
    expect((await b.heldElsewhere('node-b')).map((x) => x.id)).toEqual([r.id]);
    expect(await a.heldElsewhere('node-a')).toEqual([]);
    await a.release(r.id, 'node-a');
    expect(await b.queued()).toEqual([{ id: r.id, queue_seq: r.queue_seq }]);
    expect((await b.get(r.id))?.node).toBeUndefined();

    const claimed = (await b.claim(r.id, 'node-b'))!;
    claimed.status = 'running';
    await b.put(claimed);
    expect(await a.takeOver(r.id, 'node-x', 'node-a')).toBeUndefined();
    expect((await a.takeOver(r.id, 'node-b', 'node-a'))?.node).toBe('node-a');
    expect(await b.takeOver(r.id, 'node-b', 'node-b')).toBeUndefined();
    // a running job no node holds (written before nodes existed) is everyone's to end
    const legacy = await record(a, 'running');
    await a.put(legacy);
    expect((await b.heldElsewhere('node-b')).map((x) => x.id)).toContain(legacy.id);
    expect((await b.takeOver(legacy.id, undefined, 'node-b'))?.node).toBe('node-b');
  });
});

describe('postgres job store: a node that lost a job', () => {
  let pair: Pair;
  beforeEach(async () => {
    pair = await BACKINGS[1][1]();
  });
  afterEach(() => pair.close());

  test('cannot overwrite its record or add events after the other node took it over', async () => {
    const [a, b] = pair.stores;
    const r = await record(a);
    await a.put(r);
    const mine = (await a.claim(r.id, 'node-a'))!;
    mine.status = 'running';
    await a.put(mine);
    await a.appendEvents(r.id, [{ sequence: 1, line: '{"type":"message","sequence":1}' }]);
    const taken = (await b.takeOver(r.id, 'node-a', 'node-b'))!;
    taken.status = 'failed';
    taken.error = { code: 'server_restarted', message: 'gone' };
    await b.appendEvents(r.id, [{ sequence: 2, line: '{"type":"error","sequence":2}' }]);
    await b.put(taken);
    // the old holder wakes up
    mine.status = 'succeeded';
    await a.put(mine);
    await a.appendEvents(r.id, [{ sequence: 3, line: '{"type":"done","sequence":3}' }]);
    expect((await a.get(r.id))?.status).toBe('failed');
    expect((await a.readEvents(r.id, 0)).map((e) => e.sequence)).toEqual([1, 2]);
    const rows = await sql<{ node: string }>(`SELECT node FROM "${pair.schema}".jobs WHERE id = $1`, [r.id]);
    expect(rows).toEqual([{ node: 'node-b' }]);
  });
});
