/** Session store factory and API projection. */
import * as path from 'path';
import type { SchemaSessionInfo } from '../../generated/types';
import type { TokenUsage } from '../backends/types';
import { databaseFromConfig, type ClusterDbConfig, type PostgresDatabase } from '../db/postgres';
import { FileSessionStore, type StoreLogger } from './file';
import type { SessionRecord, SessionStore } from './types';

export { FileSessionStore, parseRecord, serializeRecord } from './file';
export type { FileSessionStoreOptions, StoreLogger } from './file';
export { startRetention } from './retention';
export type { RetentionHandle, RetentionOptions } from './retention';
export type {
  ListFilter,
  ListPage,
  NewSession,
  SessionRecord,
  SessionStatus,
  SessionStore,
  StoreHealth,
  TurnClaim,
  TurnOutcome,
} from './types';

export interface SessionStoreConfig {
  /** Resolved `$CLINVK_HOME`. */
  home: string;
  /** The database of the postgres store (`cluster.postgres_url` …). */
  cluster?: ClusterDbConfig['cluster'];
  session: { store: 'file' | 'postgres' };
}

/**
 * Opens the configured store (`session.store`): `file` under `$CLINVK_HOME/sessions`, or `postgres`
 * on `db` (the process's shared database; one is made from `cluster.*` when not given). Never
 * throws for an unusable directory or an unreachable database (both show in `health()`).
 */
export async function createSessionStore(
  config: SessionStoreConfig,
  logger?: StoreLogger,
  db?: PostgresDatabase,
): Promise<SessionStore> {
  const kind: string = config.session.store;
  if (kind === 'postgres') {
    const { PostgresSessionStore } = await import('./postgres');
    return PostgresSessionStore.open({
      db:
        db ??
        databaseFromConfig(
          { cluster: config.cluster ?? { postgres_schema: 'public', postgres_pool_size: 10 } },
          logger,
        ),
      logger,
    });
  }
  if (kind !== 'file') throw new Error(`unknown session store: ${kind}`);
  return FileSessionStore.open({ dir: path.join(config.home, 'sessions'), logger });
}

/** The API's SessionInfo, as generated from the contract. */
export type SessionInfo = SchemaSessionInfo;

/** Normalised timestamps already computed (a list page repeats the same records). */
const TIMESTAMPS = new Map<string, string>();
const TIMESTAMP_MEMO_SIZE = 8192;

/** RFC 3339 UTC with milliseconds (legacy records may hold other offsets or nanoseconds). */
function timestamp(v: string): string {
  let out = TIMESTAMPS.get(v);
  if (out !== undefined) return out;
  const t = Date.parse(v);
  out = Number.isFinite(t) ? new Date(t).toISOString() : v;
  if (TIMESTAMPS.size >= TIMESTAMP_MEMO_SIZE) TIMESTAMPS.clear();
  TIMESTAMPS.set(v, out);
  return out;
}

function usage(u: TokenUsage): TokenUsage {
  const out: TokenUsage = { input_tokens: u.input_tokens, output_tokens: u.output_tokens };
  if (u.cached_tokens !== undefined) out.cached_tokens = u.cached_tokens;
  if (u.reasoning_tokens !== undefined) out.reasoning_tokens = u.reasoning_tokens;
  return out;
}

/**
 * Projects a record onto SessionInfo in the API key order. Optional keys are omitted when absent
 * or empty (empty string, empty array, empty object). Never exposes `backend_session_id`,
 * `parent_id` or `backend_cumulative_usage`.
 */
export function toSessionInfo(record: SessionRecord): SessionInfo {
  const info: SessionInfo = {
    id: record.id,
    backend: record.backend,
    created_at: timestamp(record.created_at),
    last_used: timestamp(record.last_used),
  };
  if (record.working_dir) info.working_dir = record.working_dir;
  if (record.model) info.model = record.model;
  if (record.initial_prompt) info.initial_prompt = record.initial_prompt;
  if (record.status) info.status = record.status;
  if (record.turn_count !== undefined && record.turn_count !== null) info.turn_count = record.turn_count;
  if (record.token_usage) info.token_usage = usage(record.token_usage);
  if (record.tags && record.tags.length > 0) info.tags = [...record.tags];
  if (record.title) info.title = record.title;
  if (record.error_message) info.error_message = record.error_message;
  if (record.metadata && Object.keys(record.metadata).length > 0) info.metadata = { ...record.metadata };
  if (record.owner) info.owner = record.owner;
  return info;
}
