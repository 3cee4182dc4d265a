import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiError } from '../../../src/errors';
import { FileJobStore } from '../../../src/jobs/file/file-store';
import { canonicalJson, replayed, requestHash } from '../../../src/jobs/idempotency';
import type { JobRecord } from '../../../src/jobs/types';

test('canonical JSON sorts object keys at every depth and keeps array order', () => {
  expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: null }], c: 'x' } })).toBe(
    '{"a":{"c":"x","d":[2,{"y":null,"z":1}]},"b":1}',
  );
  expect(canonicalJson(undefined)).toBe('null');
  expect(requestHash({ a: 1, b: 2 })).toBe(requestHash({ b: 2, a: 1 }));
  expect(requestHash({ a: [1, 2] })).not.toBe(requestHash({ a: [2, 1] }));
});

describe('replayed', () => {
  let dir: string;
  let store: FileJobStore;
  const record = (hash: string): JobRecord => ({
    id: 'a'.repeat(32),
    operation: 'prompt',
    status: 'queued',
    created_at: '2026-01-01T00:00:00.000Z',
    owner: 'team-a',
    summary: 'hi',
    queue_seq: 1,
    request: { backend: 'claude', prompt: 'hi' },
    idempotency: { key: 'k1', hash },
    request_id: 'r1',
    events: { count: 0, last_sequence: 0 },
  });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-jobs-'));
    store = new FileJobStore(dir);
    await store.open();
    await store.put(record(requestHash({ prompt: 'hi' })));
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the same owner, key and body return the earlier job', async () => {
    const earlier = await replayed(store, 'team-a', 'k1', requestHash({ prompt: 'hi' }));
    expect(earlier?.id).toBe('a'.repeat(32));
  });

  test('another owner or another key is a new job', async () => {
    expect(await replayed(store, 'team-b', 'k1', requestHash({ prompt: 'hi' }))).toBeUndefined();
    expect(await replayed(store, 'team-a', 'k2', requestHash({ prompt: 'hi' }))).toBeUndefined();
  });

  test('the same key with another body is an idempotency_conflict', async () => {
    const err = await replayed(store, 'team-a', 'k1', requestHash({ prompt: 'other' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('idempotency_conflict');
  });
});
