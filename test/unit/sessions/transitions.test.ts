import {
  claimedByDeadProcess,
  claimRecord,
  completeRecord,
  holdsValidClaim,
  newRecord,
  recordInterruptedTurn,
  releaseRecord,
} from '../../../src/sessions/transitions';
import type { SessionRecord } from '../../../src/sessions/types';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const ID = 'c'.repeat(32);

function record(over: Partial<SessionRecord> = {}): SessionRecord {
  const base = newRecord(
    ID,
    { backend: 'codex', working_dir: '/w', tags: ['api'], status: 'completed', turn_count: 1 },
    T0,
  );
  return { ...base, ...over };
}

describe('newRecord', () => {
  test('timestamps, zero usage, copies of the inputs; optional fields only when given', () => {
    const tags = ['api'];
    const rec = newRecord(ID, { backend: 'claude', working_dir: '/p', tags, status: 'active', turn_count: 0 }, T0);
    expect(rec).toEqual({
      id: ID,
      backend: 'claude',
      created_at: '2026-01-01T00:00:00.000Z',
      last_used: '2026-01-01T00:00:00.000Z',
      working_dir: '/p',
      status: 'active',
      turn_count: 0,
      token_usage: { input_tokens: 0, output_tokens: 0 },
      tags: ['api'],
    });
    tags.push('later');
    expect(rec.tags).toEqual(['api']);
  });

  test('initial_prompt keeps 4096 characters (code points, not UTF-16 units); empty metadata is not stored', () => {
    const rec = newRecord(
      ID,
      {
        backend: 'claude',
        working_dir: '/p',
        tags: [],
        status: 'completed',
        turn_count: 1,
        initial_prompt: '😀'.repeat(5000),
        model: 'haiku',
        metadata: {},
      },
      T0,
    );
    expect(Array.from(rec.initial_prompt ?? '')).toHaveLength(4096);
    expect(rec.model).toBe('haiku');
    expect(rec).not.toHaveProperty('metadata');
  });
});

describe('claims', () => {
  test('a claim is valid while active and younger than the stale limit', () => {
    const rec = record({ status: 'active', last_used: T0.toISOString() });
    expect(holdsValidClaim(rec, 1000, at(999))).toBe(true);
    expect(holdsValidClaim(rec, 1000, at(1000))).toBe(false);
    expect(holdsValidClaim({ ...rec, status: 'completed' }, 1000, at(0))).toBe(false);
  });

  test('claim → release restores the previous state; a release after a newer claim changes nothing', () => {
    const rec = record({ status: 'error', last_used: T0.toISOString() });
    const claim = claimRecord(rec, at(5000));
    expect(claim).toEqual({
      id: ID,
      previousStatus: 'error',
      previousLastUsed: '2026-01-01T00:00:00.000Z',
      claimedAt: '2026-01-01T00:00:05.000Z',
    });
    expect(rec).toMatchObject({ status: 'active', last_used: '2026-01-01T00:00:05.000Z' });
    const stolen = { ...rec };
    claimRecord(stolen, at(9000));
    expect(releaseRecord(stolen, claim)).toBe(false);
    expect(stolen.status).toBe('active');
    expect(releaseRecord(rec, claim)).toBe(true);
    expect(rec).toMatchObject({ status: 'error', last_used: '2026-01-01T00:00:00.000Z' });
    expect(releaseRecord(rec, claim)).toBe(false); // no longer active
  });
});

describe('completeRecord', () => {
  test('success: counts the turn, adds usage, clears the error, keeps unreported ids', () => {
    const rec = record({
      error_message: 'old',
      backend_session_id: 'b-1',
      token_usage: { input_tokens: 1, output_tokens: 1 },
    });
    completeRecord(rec, { success: true, usage: { input_tokens: 2, output_tokens: 3, cached_tokens: 1 } }, true);
    expect(rec).toMatchObject({ turn_count: 2, status: 'completed', backend_session_id: 'b-1' });
    expect(rec.token_usage).toEqual({ input_tokens: 3, output_tokens: 4, cached_tokens: 1 });
    expect(rec).not.toHaveProperty('error_message');
  });

  test('failure: error status and message (default "turn failed"); usage not stored when disabled', () => {
    const rec = record();
    completeRecord(
      rec,
      {
        success: false,
        usage: { input_tokens: 9, output_tokens: 9 },
        backend_session_id: 'b-2',
        backend_cumulative_usage: { input_tokens: 20, output_tokens: 5 },
        model: 'o4',
      },
      false,
    );
    expect(rec).toMatchObject({
      turn_count: 2,
      status: 'error',
      error_message: 'turn failed',
      backend_session_id: 'b-2',
      backend_cumulative_usage: { input_tokens: 20, output_tokens: 5 },
      model: 'o4',
      token_usage: { input_tokens: 0, output_tokens: 0 },
    });
    completeRecord(rec, { success: false, error_message: 'timed out after 5 s' }, true);
    expect(rec).toMatchObject({ turn_count: 3, error_message: 'timed out after 5 s', model: 'o4' });
  });
});

describe('claim holders', () => {
  const alive = { host: 'h', pid: 10, start_time: '1' };
  const dead = { host: 'h', pid: 11, start_time: '2' };
  const isDead = (h: { pid: number }) => h.pid === dead.pid;

  test('a new active record is claimed by its creator; a completed one by nobody', () => {
    const input = { backend: 'claude' as const, working_dir: '/w', tags: [], turn_count: 0 };
    expect(newRecord(ID, { ...input, status: 'active' }, T0, alive).claimed_by).toEqual(alive);
    expect(newRecord(ID, { ...input, status: 'completed' }, T0, alive)).not.toHaveProperty('claimed_by');
  });

  test('a claim of a dead holder is invalid at once; of a live one it follows the time rule', () => {
    const rec = record({ status: 'active', last_used: T0.toISOString(), claimed_by: dead });
    expect(claimedByDeadProcess(rec, isDead)).toBe(true);
    expect(holdsValidClaim(rec, 60_000, at(1), isDead)).toBe(false);
    expect(holdsValidClaim(rec, 60_000, at(1))).toBe(true); // nobody is dead without a check
    const live = { ...rec, claimed_by: alive };
    expect(claimedByDeadProcess(live, isDead)).toBe(false);
    expect(holdsValidClaim(live, 60_000, at(1), isDead)).toBe(true);
    expect(holdsValidClaim(live, 60_000, at(60_000), isDead)).toBe(false);
    expect(claimedByDeadProcess({ ...rec, status: 'error' }, isDead)).toBe(false);
  });

  test('the interrupted turn is recorded: turn_count + 1, error, "server restarted", no holder', () => {
    const rec = record({ status: 'active', turn_count: 4, claimed_by: dead });
    recordInterruptedTurn(rec);
    expect(rec).toMatchObject({ status: 'error', turn_count: 5, error_message: 'server restarted' });
    expect(rec).not.toHaveProperty('claimed_by');
  });

  test('claim sets the holder, release restores the previous one, completion removes it', () => {
    const rec = record({ status: 'active', last_used: T0.toISOString(), claimed_by: dead });
    const claim = claimRecord(rec, at(10), alive);
    expect(rec.claimed_by).toEqual(alive);
    expect(claim.previousClaimedBy).toEqual(dead);
    expect(releaseRecord(rec, claim)).toBe(true);
    expect(rec.claimed_by).toEqual(dead);
    const done = record();
    const c2 = claimRecord(done, at(20), alive);
    expect(releaseRecord(done, c2)).toBe(true);
    expect(done).not.toHaveProperty('claimed_by');
    claimRecord(done, at(30), alive);
    completeRecord(done, { success: true }, true);
    expect(done).not.toHaveProperty('claimed_by');
  });
});
