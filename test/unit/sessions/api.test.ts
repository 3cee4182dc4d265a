import * as fs from 'fs';
import * as path from 'path';
import { createSessionStore, startRetention, toSessionInfo } from '../../../src/sessions';
import type { SessionRecord, SessionStore } from '../../../src/sessions/types';
import { cleanupHomes, newSession, recordingLogger, tmpHome } from './helpers';

afterAll(() => cleanupHomes());

describe('toSessionInfo', () => {
  const full: SessionRecord = {
    metadata: { k: 'v' },
    id: '3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d',
    backend: 'codex',
    created_at: '2026-11-26T19:21:46.308Z',
    last_used: '2026-11-26T20:00:00.000Z',
    working_dir: '/home/alice/project',
    backend_session_id: 'thread-1',
    model: 'o4',
    initial_prompt: 'hi',
    status: 'error',
    turn_count: 2,
    token_usage: { input_tokens: 5, output_tokens: 6, cached_tokens: 1, reasoning_tokens: 2 },
    tags: ['api'],
    title: 't',
    parent_id: 'p',
    error_message: 'boom',
    backend_cumulative_usage: { input_tokens: 9, output_tokens: 9 },
  };

  test('keys in the §3.8 order; internal fields never exposed', () => {
    const info = toSessionInfo(full);
    expect(Object.keys(info)).toEqual([
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
      'title',
      'error_message',
      'metadata',
    ]);
    expect(JSON.stringify(info)).not.toMatch(/backend_session_id|parent_id|backend_cumulative_usage|thread-1/);
    expect(info.token_usage).toEqual({ input_tokens: 5, output_tokens: 6, cached_tokens: 1, reasoning_tokens: 2 });
  });

  test('absent or empty optional keys are omitted; timestamps normalised to UTC milliseconds', () => {
    const rec = {
      id: '0123456789abcdef',
      backend: 'gemini',
      created_at: '2025-01-01T12:00:00.123456789+01:00',
      last_used: '2025-01-01T12:00:00Z',
      working_dir: '',
      status: 'completed',
      turn_count: 0,
      token_usage: { input_tokens: 0, output_tokens: 0 },
      tags: [],
      metadata: {},
      title: '',
    } as SessionRecord;
    expect(toSessionInfo(rec)).toEqual({
      id: '0123456789abcdef',
      backend: 'gemini',
      created_at: '2025-01-01T11:00:00.123Z',
      last_used: '2025-01-01T12:00:00.000Z',
      status: 'completed',
      turn_count: 0,
      token_usage: { input_tokens: 0, output_tokens: 0 },
    });
  });
});

describe('createSessionStore', () => {
  test('opens $CLINVK_HOME/sessions (mode 0700)', async () => {
    const home = tmpHome();
    const store = await createSessionStore({ home, session: { store: 'file' } }, recordingLogger());
    const rec = await store.create(newSession());
    expect(fs.existsSync(path.join(home, 'sessions', `${rec.id}.json`))).toBe(true);
    expect(fs.statSync(path.join(home, 'sessions')).mode & 0o777).toBe(0o700);
    expect(await store.health()).toEqual({ available: true, session_count: 1 });
    await store.close();
  });

  test('an unusable home does not throw: health reports it', async () => {
    const home = tmpHome();
    fs.writeFileSync(path.join(home, 'sessions'), '');
    const store = await createSessionStore({ home, session: { store: 'file' } });
    const h = await store.health();
    expect(h.available).toBe(false);
    expect(typeof h.error).toBe('string');
    await store.close();
  });

  test('unknown store kind is rejected', async () => {
    await expect(createSessionStore({ home: tmpHome(), session: { store: 'redis' as 'file' } })).rejects.toThrow(
      /unknown session store/,
    );
  });
});

describe('startRetention', () => {
  function fakeStore(removed = 3): SessionStore & { calls: Array<[Date, number]> } {
    const calls: Array<[Date, number]> = [];
    return {
      calls,
      purgeOlderThan: jest.fn(async (cutoff: Date, stale: number) => {
        calls.push([cutoff, stale]);
        return removed;
      }),
    } as unknown as SessionStore & { calls: Array<[Date, number]> };
  }

  afterEach(() => jest.useRealTimers());

  test('runs at start and every interval; logs the number removed at info; stop() ends it', async () => {
    jest.useFakeTimers();
    const store = fakeStore();
    const logger = recordingLogger();
    const now = new Date('2026-02-01T00:00:00.000Z');
    const h = startRetention(store, {
      retentionDays: 30,
      intervalSecs: 3600,
      staleClaimMs: 123,
      logger,
      now: () => now,
    });
    await h.running;
    expect(store.calls).toHaveLength(1);
    expect(store.calls[0][0].toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(store.calls[0][1]).toBe(123);
    expect(logger.calls).toEqual([
      expect.objectContaining({ level: 'info', meta: expect.objectContaining({ removed: 3 }) }),
    ]);
    jest.advanceTimersByTime(3600_000);
    await h.running;
    expect(store.calls).toHaveLength(2);
    h.stop();
    jest.advanceTimersByTime(3 * 3600_000);
    expect(store.calls).toHaveLength(2);
  });

  test('0 days disables retention', () => {
    jest.useFakeTimers();
    const store = fakeStore();
    const h = startRetention(store, { retentionDays: 0, intervalSecs: 1, staleClaimMs: 1, logger: recordingLogger() });
    jest.advanceTimersByTime(10_000);
    expect(store.calls).toHaveLength(0);
    h.stop();
  });

  test('a failing purge is logged at warn and retried at the next interval', async () => {
    jest.useFakeTimers();
    const logger = recordingLogger();
    const store = {
      purgeOlderThan: jest.fn().mockRejectedValueOnce(new Error('disk gone')).mockResolvedValue(0),
    } as unknown as SessionStore;
    const h = startRetention(store, { retentionDays: 1, intervalSecs: 60, staleClaimMs: 1, logger });
    await h.running;
    expect(logger.calls[0]).toMatchObject({ level: 'warn', meta: { error: 'disk gone' } });
    jest.advanceTimersByTime(60_000);
    await h.running;
    expect(logger.calls[1]).toMatchObject({ level: 'info', meta: expect.objectContaining({ removed: 0 }) });
    h.stop();
  });

  test('the real store purges expired sessions', async () => {
    const home = tmpHome();
    const store = await createSessionStore({ home, session: { store: 'file' } });
    const rec = await store.create(newSession());
    const h = startRetention(store, {
      retentionDays: 1,
      intervalSecs: 3600,
      staleClaimMs: 1000,
      logger: recordingLogger(),
      now: () => new Date(Date.now() + 2 * 86400_000),
    });
    await h.running;
    h.stop();
    await expect(store.resolve(rec.id)).rejects.toMatchObject({ code: 'session_not_found' });
    await store.close();
  });
});
