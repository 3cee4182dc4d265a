import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileUsageStore } from '../../../src/usage/file/file-store';
import { dayStart } from '../../../src/usage/types';
import { rec } from './store-contract';

describe('FileUsageStore', () => {
  let dir: string;
  let store: FileUsageStore;
  const repairs: string[] = [];

  beforeEach(async () => {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-usage-')), 'usage');
    repairs.length = 0;
    store = new FileUsageStore(dir, { rollupIntervalMs: 0, onRepair: (m) => repairs.push(m) });
    await store.open();
  });

  afterEach(async () => {
    await store.close().catch(() => undefined);
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  const reopen = async (): Promise<FileUsageStore> => {
    await store.close();
    store = new FileUsageStore(dir, { rollupIntervalMs: 0, onRepair: (m) => repairs.push(m) });
    await store.open();
    return store;
  };

  const batch = [
    rec(),
    rec({ key: 'team-b', backend: 'codex', model: undefined, input_tokens: 7, output_tokens: 3, cached_tokens: 0 }),
    rec({ time: '2026-11-21T23:59:59.999Z', status: 'failed', duration_ms: 50 }),
    rec({ time: '2026-11-21T00:00:00.000Z', key: 'team-b', status: 'timeout', output_tokens: 0 }),
  ];

  it('appends records into one file per UTC day (0600)', async () => {
    await store.append(batch);
    expect(fs.readdirSync(dir).sort()).toEqual(['2026-11-20.ndjson', '2026-11-21.ndjson']);
    expect(fs.statSync(path.join(dir, '2026-11-20.ndjson')).mode & 0o777).toBe(0o600);
    const lines = fs.readFileSync(path.join(dir, '2026-11-21.ndjson'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual([batch[2], batch[3]]);
  });

  it('survives a restart from rollups, and from records alone when the rollups are gone', async () => {
    await store.append(batch);
    const q = { from: dayStart('2026-11-20'), to: dayStart('2026-11-22'), groupBy: ['key'] as const };
    const before = await store.query({ ...q, groupBy: [...q.groupBy] });
    await reopen();
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.rollup.json'))).toHaveLength(2);
    expect(await store.query({ ...q, groupBy: [...q.groupBy] })).toEqual(before);
    // records appended after the rollup was written (a crash before the next rollup write)
    await store.close();
    fs.appendFileSync(path.join(dir, '2026-11-20.ndjson'), JSON.stringify(rec({ key: 'team-c' })) + '\n');
    store = new FileUsageStore(dir, { rollupIntervalMs: 0 });
    await store.open();
    const after = await store.query({ ...q, groupBy: [...q.groupBy] });
    expect(after.rows.map((r) => [r.key, r.requests])).toEqual([
      ['team-a', 2],
      ['team-b', 2],
      ['team-c', 1],
    ]);
    await store.close();
    for (const n of fs.readdirSync(dir)) if (n.endsWith('.rollup.json')) fs.rmSync(path.join(dir, n));
    store = new FileUsageStore(dir, { rollupIntervalMs: 0 });
    await store.open();
    expect(await store.query({ ...q, groupBy: [...q.groupBy] })).toEqual(after);
  });

  it('cuts a torn last line (a crash mid-append) and rebuilds a garbled rollup', async () => {
    await store.append(batch);
    await store.close();
    fs.appendFileSync(path.join(dir, '2026-11-20.ndjson'), '{"time":"2026-11-20T1');
    fs.writeFileSync(path.join(dir, '2026-11-21.rollup.json'), '{garbled');
    store = new FileUsageStore(dir, { rollupIntervalMs: 0, onRepair: (m) => repairs.push(m) });
    await store.open();
    // days whose rollup does not cover their records are loaded (and repaired) when first needed
    expect(repairs).toEqual([]);
    expect((await store.dailyUsage('2026-11-20')).get('team-a')).toEqual({ requests: 1, tokens: 15 });
    expect(repairs).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, '2026-11-20.ndjson'), 'utf8').endsWith('}\n')).toBe(true);
    await store.append([rec({ key: 'team-z' })]);
    const res = await store.query({ from: dayStart('2026-11-20'), to: dayStart('2026-11-22'), groupBy: ['key'] });
    expect(repairs).toHaveLength(2);
    expect(res.totals.requests).toBe(5);
    const lines = fs.readFileSync(path.join(dir, '2026-11-20.ndjson'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).key)).toEqual(['team-a', 'team-b', 'team-z']);
  });

  it('prune removes the files of the days before the given one', async () => {
    await store.append(batch);
    await store.prune('2026-11-21');
    expect(fs.readdirSync(dir)).toEqual(['2026-11-21.ndjson']);
  });

  it('a closed store refuses calls', async () => {
    await store.close();
    await expect(store.append([rec()])).rejects.toThrow('closed');
  });
});
