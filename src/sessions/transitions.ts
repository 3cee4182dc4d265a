/**
 * The state changes of a session record, as pure functions shared by every store implementation:
 * creation, a turn's claim, its release when the turn failed before spawning, and its completion.
 */
import { addUsage } from '../backends/usage';
import type { ClaimHolder, NewSession, SessionRecord, TurnClaim, TurnOutcome } from './types';

/** `error_message` of a turn whose process died while it ran. */
export const INTERRUPTED_TURN_MESSAGE = 'server restarted';

/** Whether a claim holder is provably dead (never true when that cannot be checked). */
export type HolderCheck = (holder: ClaimHolder) => boolean;

const nobodyIsDead: HolderCheck = () => false;

/** `initial_prompt` keeps the first 4096 characters (code points) of the first turn's prompt. */
export const INITIAL_PROMPT_MAX_CHARS = 4096;

function truncateChars(s: string, max: number): string {
  if (s.length <= max) return s;
  const codePoints = Array.from(s);
  return codePoints.length <= max ? s : codePoints.slice(0, max).join('');
}

/** A new record (`created_at = last_used = now`, zero usage); an `active` one is claimed by `holder`. */
export function newRecord(id: string, input: NewSession, now: Date, holder?: ClaimHolder): SessionRecord {
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
  if (input.owner !== undefined) rec.owner = input.owner;
  if (rec.status === 'active' && holder) rec.claimed_by = { ...holder };
  return rec;
}

/** An `active` session whose claim holder is provably dead: its turn was interrupted. */
export function claimedByDeadProcess(rec: SessionRecord, isDead: HolderCheck): boolean {
  return rec.status === 'active' && rec.claimed_by !== undefined && isDead(rec.claimed_by);
}

/**
 * A claim is valid while the session is `active`, its holder is not provably dead, and its
 * `last_used` (the claim time) is newer than `now − staleClaimMs`; an older claim belongs to a
 * crashed process and may be taken over.
 */
export function holdsValidClaim(
  rec: SessionRecord,
  staleClaimMs: number,
  now: Date,
  isDead: HolderCheck = nobodyIsDead,
): boolean {
  if (rec.status !== 'active' || claimedByDeadProcess(rec, isDead)) return false;
  return Date.parse(rec.last_used) > now.getTime() - staleClaimMs;
}

/**
 * Records, in place, the turn of a dead claim holder as failed (`turn_count + 1`, `error`,
 * `server restarted`): the session then accepts the next turn.
 */
export function recordInterruptedTurn(rec: SessionRecord): void {
  rec.turn_count += 1;
  rec.status = 'error';
  rec.error_message = INTERRUPTED_TURN_MESSAGE;
  delete rec.claimed_by;
}

/** Claims a turn in place (`active`, `last_used = now`, held by `holder`); returns what a release restores. */
export function claimRecord(rec: SessionRecord, now: Date, holder?: ClaimHolder): TurnClaim {
  const claim: TurnClaim = { id: rec.id, previousStatus: rec.status, previousLastUsed: rec.last_used };
  if (rec.claimed_by) claim.previousClaimedBy = rec.claimed_by;
  rec.status = 'active';
  rec.last_used = now.toISOString();
  if (holder) rec.claimed_by = { ...holder };
  else delete rec.claimed_by;
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
  if (claim.previousClaimedBy && claim.previousStatus === 'active') rec.claimed_by = claim.previousClaimedBy;
  else delete rec.claimed_by;
  return true;
}

/** Records a finished turn in place: turn count, ids, usage, status, error message, model. */
export function completeRecord(rec: SessionRecord, outcome: TurnOutcome, storeTokenUsage: boolean): void {
  rec.turn_count += 1;
  delete rec.claimed_by;
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
  if (outcome.node !== undefined) rec.node = outcome.node;
}
