/**
 * SessionStore contract. No file notions: a networked store can implement it.
 * Errors are `ApiError`s: `session_not_found`, `ambiguous_session_id`, `session_busy`,
 * `session_store_unavailable`, `internal_error` (unparsable record).
 */
import type { SchemaSessionStatus } from '../../generated/types';
import type { BackendName, TokenUsage } from '../backends/types';
import type { ProcessIdentity } from '../lib/process-identity';

/**
 * The process holding a session's claim (host, pid, pid start time): a claim whose holder is
 * provably dead is released at once instead of after the stale-claim time.
 */
export type ClaimHolder = ProcessIdentity;

export type SessionStatus = SchemaSessionStatus;

/** The stored record (snake_case). */
export interface SessionRecord {
  id: string;
  backend: BackendName;
  created_at: string;
  last_used: string;
  working_dir: string;
  backend_session_id?: string;
  model?: string;
  initial_prompt?: string;
  status: SessionStatus;
  turn_count: number;
  token_usage: TokenUsage;
  tags: string[];
  title?: string;
  parent_id?: string;
  error_message?: string;
  metadata?: Record<string, string>;
  backend_cumulative_usage?: TokenUsage;
  /**
   * Name of the API key that created the session (`anonymous` when auth was off). Absent on
   * records written before ownership existed: such a session belongs to no one (admins only).
   */
  owner?: string;
  /** Set while `status` is `active`: the process that claimed the running turn. */
  claimed_by?: ClaimHolder;
  /**
   * Cluster mode: the worker node whose CLI state holds this conversation (continuations run
   * there). Internal, never shown in the API.
   */
  node?: string;
}

export interface NewSession {
  backend: BackendName;
  working_dir: string;
  model?: string;
  initial_prompt?: string;
  tags: string[];
  metadata?: Record<string, string>;
  /** The creating key's name; absent → a session of no one (admins only), like a legacy record. */
  owner?: string;
  /** `active` for a real turn (claimed by the creator), `completed` with turn_count 1 for a dry run. */
  status: 'active' | 'completed';
  turn_count: number;
}

export interface ListFilter {
  backend?: BackendName;
  status?: SessionStatus;
  /** Only sessions of this owner (a user key's own, or an admin's `owner` filter); undefined → every session. */
  owner?: string;
  limit: number;
  offset: number;
}

export interface ListPage {
  sessions: SessionRecord[];
  total: number;
}

/** What a turn's claim saved so a failure before spawning can restore it. */
export interface TurnClaim {
  id: string;
  previousStatus: SessionStatus;
  previousLastUsed: string;
  /** `last_used` written by the claim: a release only restores a record still holding this claim. */
  claimedAt?: string;
  /** The holder of the claim that was taken over (a stale one), restored by a release. */
  previousClaimedBy?: ClaimHolder;
}

export interface TurnOutcome {
  success: boolean;
  error_message?: string;
  backend_session_id?: string;
  /** Per-turn usage to add to `token_usage` (already de-cumulated for codex). */
  usage?: TokenUsage;
  /** codex: the new cumulative usage reported for the thread. */
  backend_cumulative_usage?: TokenUsage;
  /** This turn's model (as requested, before alias resolution); undefined → unchanged. */
  model?: string;
  /** Cluster mode: the worker that ran the turn (kept as the session's `node`); undefined → unchanged. */
  node?: string;
}

export interface StoreHealth {
  available: boolean;
  session_count: number;
  error?: string;
}

export interface SessionStore {
  /** Creates a record with a fresh 32-hex id. */
  create(input: NewSession): Promise<SessionRecord>;
  /**
   * Exact id or unique prefix (input already validated as `^[0-9a-f]{1,32}$`). With `owner`, only
   * that owner's sessions exist for this call: another owner's (or an unowned) session answers
   * `session_not_found` exactly like an absent one, and an ambiguous prefix counts only the owner's
   * matches. Without `owner`, every session (an admin).
   */
  resolve(idOrPrefix: string, owner?: string): Promise<SessionRecord>;
  list(filter: ListFilter): Promise<ListPage>;
  /**
   * Claims a turn on a session: fails with `session_busy` when a valid claim is held
   * (status active and last_used newer than now − staleClaimMs). Sets status active, last_used now.
   */
  claimTurn(id: string, staleClaimMs: number): Promise<TurnClaim>;
  /** Restores status/last_used after a claimed turn failed before spawning. */
  releaseClaim(claim: TurnClaim): Promise<void>;
  /** Records a finished turn (turn_count += 1, usage, status, error_message, ids, model). */
  completeTurn(id: string, outcome: TurnOutcome, storeTokenUsage: boolean): Promise<SessionRecord>;
  /** Deletes by full id; `session_busy` when a valid claim is held. Returns the deleted id. */
  delete(id: string, staleClaimMs: number): Promise<string>;
  /** Deletes a just-created record (spawn failed) regardless of status. */
  discard(id: string): Promise<void>;
  count(): Promise<number>;
  health(): Promise<StoreHealth>;
  /** Deletes sessions whose last_used is older than `cutoff` and that hold no valid claim. */
  purgeOlderThan(cutoff: Date, staleClaimMs: number): Promise<number>;
  close(): Promise<void>;
}
