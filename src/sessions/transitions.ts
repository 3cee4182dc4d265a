/**
 * The state changes of a session record, as pure functions shared by every store implementation:
 * creation, a turn's claim, its release when the turn failed before spawning, and its completion.
 */
import { addUsage } from '../backends/usage';
import type { NewSession, SessionRecord, TurnClaim, TurnOutcome } from './types';

/** `initial_prompt` keeps the first 4096 characters (code points) of the first turn's prompt. */
export const INITIAL_PROMPT_MAX_CHARS = 4096;

function truncateChars(s: string, max: number): string {
  if (s.length <= max) return s;
  const codePoints = Array.from(s);
  return codePoints.length <= max ? s : codePoints.slice(0, max).join('');
}

/** A new record (`created_at = last_used = now`, zero usage). */
export function newRecord(id: string, input: NewSession, now: Date): SessionRecord {
  const at = now.toISOString();
  const rec: SessionRecord = {
    id,
    backend: input.backend,
    created_at: at,
    last_used: at,
    working_dir: input.working_dir,
    status: input.status,
    turn_count: input.turn_count,
    token_usage: { input_tokens: 0, output_tokens: 0 },
    tags: [...input.tags],
  };
  if (input.model !== undefined) rec.model = input.model;
  if (input.initial_prompt !== undefined) {
    rec.initial_prompt = truncateChars(input.initial_prompt, INITIAL_PROMPT_MAX_CHARS);
  }
  if (input.metadata && Object.keys(input.metadata).length > 0) rec.metadata = { ...input.metadata };
  return rec;
}

/**
 * A claim is valid while the session is `active` and its `last_used` (the claim time) is newer than
 * `now − staleClaimMs`; an older claim belongs to a crashed process and may be taken over.
 */
export function holdsValidClaim(rec: SessionRecord, staleClaimMs: number, now: Date): boolean {
  return rec.status === 'active' && Date.parse(rec.last_used) > now.getTime() - staleClaimMs;
}

/** Claims a turn in place (`active`, `last_used = now`); returns what a release restores. */
export function claimRecord(rec: SessionRecord, now: Date): TurnClaim {
  const claim: TurnClaim = { id: rec.id, previousStatus: rec.status, previousLastUsed: rec.last_used };
  rec.status = 'active';
  rec.last_used = now.toISOString();
  claim.claimedAt = rec.last_used;
  return claim;
}

/**
 * Restores status and `last_used` saved by `claim`, in place. False (nothing changed) when the
 * record no longer holds that claim (completed, or claimed again since).
 */
export function releaseRecord(rec: SessionRecord, claim: TurnClaim): boolean {
  if (rec.status !== 'active') return false;
  if (claim.claimedAt !== undefined && rec.last_used !== claim.claimedAt) return false;
  rec.status = claim.previousStatus;
  rec.last_used = claim.previousLastUsed;
  return true;
}

/** Records a finished turn in place: turn count, ids, usage, status, error message, model. */
export function completeRecord(rec: SessionRecord, outcome: TurnOutcome, storeTokenUsage: boolean): void {
  rec.turn_count += 1;
  if (outcome.backend_session_id) rec.backend_session_id = outcome.backend_session_id;
  if (storeTokenUsage && outcome.usage) rec.token_usage = addUsage(rec.token_usage, outcome.usage) ?? rec.token_usage;
  if (outcome.backend_cumulative_usage) rec.backend_cumulative_usage = { ...outcome.backend_cumulative_usage };
  if (outcome.success) {
    rec.status = 'completed';
    delete rec.error_message;
  } else {
    rec.status = 'error';
    rec.error_message = outcome.error_message ?? 'turn failed';
  }
  if (outcome.model !== undefined) rec.model = outcome.model;
}
