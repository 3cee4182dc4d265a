import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ActiveJob } from '../../../src/jobs/active-job';
import { EventLog } from '../../../src/jobs/event-log';
import { EventHub } from '../../../src/jobs/fanout';
import { FileJobStore } from '../../../src/jobs/file/file-store';
import { emitEvent, emitTerminal, itemEvent, jobErrorCode } from '../../../src/jobs/job-events';
import type { JobRecord } from '../../../src/jobs/types';
import { memoryLogger } from '../../helpers/keys';

const ID = 'b'.repeat(32);
let dir: string;
let store: FileJobStore;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-jobs-'));
  store = new FileJobStore(dir);
  await store.open();
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function job(maxBytes: number, lastSequence = 0): ActiveJob {
  const record: JobRecord = {
    id: ID,
    operation: 'prompt',
    status: 'running',
    created_at: '2026-01-01T00:00:00.000Z',
    owner: 'default',
    backend: 'codex',
    session_id: 's1',
    summary: 'x',
    queue_seq: 1,
    request: {},
    request_id: 'r',
    events: { count: 0, last_sequence: lastSequence },
  };
  const hub = new EventHub(lastSequence);
  const log = new EventLog(ID, store, hub, maxBytes, memoryLogger().logger);
  return { record, hub, log, backend: 'codex', phase: 'running' };
}

const stored = async (j: ActiveJob) => {
  await j.log.finish();
  return (await store.readEvents(ID, 0)).map((e) => JSON.parse(e.line) as Record<string, any>);
};

test('events are numbered after the last sequence, in order, and the record counts them', async () => {
  const j = job(1 << 20, 4);
  emitEvent(j, itemEvent('message', 'codex', 0, { text: 'a' }), false, 1 << 20);
  emitEvent(j, itemEvent('message', 'claude', 1, { text: 'b' }), false, 1 << 20);
  emitTerminal(j, 'done', { exit_code: 0, duration_ms: 3 }, 1 << 20);
  const events = await stored(j);
  expect(events.map((e) => [e.sequence, e.type, e.item])).toEqual([
    [5, 'message', 0],
    [6, 'message', 1],
    [7, 'done', undefined],
  ]);
  // the terminal event of a prompt job names the job's backend and session
  expect(events[2]).toMatchObject({ backend: 'codex', session_id: 's1', content: { exit_code: 0, duration_ms: 3 } });
  expect(j.record.events).toEqual({ count: 3, last_sequence: 7 });
  expect(j.hub.finished).toBe(true);
});

test('nothing is emitted after the terminal event', async () => {
  const j = job(1 << 20);
  emitTerminal(j, 'error', { code: 'canceled', message: 'job canceled', exit_code: -1 }, 1 << 20);
  emitTerminal(j, 'done', { exit_code: 0, duration_ms: 0 }, 1 << 20);
  emitEvent(j, itemEvent('message', 'codex', 0, { text: 'late' }), false, 1 << 20);
  expect((await stored(j)).map((e) => e.type)).toEqual(['error']);
  expect(j.hub.lastSequence).toBe(1);
});

test('beyond the storage cap one truncated marker is stored, later events are not, the terminal one is', async () => {
  const cap = 400;
  const j = job(cap);
  for (let i = 0; i < 10; i++) emitEvent(j, itemEvent('message', 'codex', 0, { text: 'x'.repeat(60) }), false, cap);
  emitTerminal(j, 'done', { exit_code: 0, duration_ms: 1 }, cap);
  const events = await stored(j);
  const marker = events.find((e) => e.content?.stage === 'truncated');
  expect(marker?.content.message).toBe(`event storage limit of ${cap} bytes reached; later events are not stored`);
  expect(events.filter((e) => e.content?.stage === 'truncated')).toHaveLength(1);
  expect(events[events.length - 1].type).toBe('done');
  // sequences stay strictly increasing and the live stream has every one of them
  const seqs = events.map((e) => e.sequence);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(j.hub.lastSequence).toBe(12);
  expect(events.length).toBeLessThan(12);
});

test('unknown failure codes are reported as internal_error', () => {
  expect(jobErrorCode('backend_timeout')).toBe('backend_timeout');
  expect(jobErrorCode('rate_limited')).toBe('internal_error');
  expect(jobErrorCode(undefined)).toBe('internal_error');
});
