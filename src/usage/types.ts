/**
 * Usage accounting: one record per finished execution (a synchronous or streamed prompt, each
 * aggregate item, each OpenAI/Anthropic compatible call, each job run) and the storage interface.
 * `UsageStore` knows nothing about files, so a networked implementation (PostgreSQL) can replace the
 * embedded one (`file/`) without touching its callers.
 *
 * Days are UTC days written `YYYY-MM-DD`. A record belongs to the day of its `time`.
 */
import type { BackendName } from '../backends/types';

export const USAGE_STATUSES = ['succeeded', 'failed', 'timeout', 'canceled'] as const;
/** How an execution ended: `failed` covers every failure that is not a timeout or a cancel. */
export type UsageStatus = (typeof USAGE_STATUSES)[number];

export const API_STYLES = ['native', 'openai', 'anthropic'] as const;
export type UsageApiStyle = (typeof API_STYLES)[number];

/** One finished execution (the effective values it ran with: an audit trail). */
export interface UsageRecord {
  /** RFC 3339 (UTC, `…Z`) time the execution STARTED (its CLI was spawned); decides its day. */
  time: string;
  /** Name of the API key it ran for (`anonymous` when authentication is off). Never a key or hash. */
  key: string;
  api_style: UsageApiStyle;
  /** `prompt`, `parallel`, `chain`, `compare` (native, also for jobs), `chat.completions`, `messages`. */
  operation: string;
  backend: BackendName;
  /** Model passed to the CLI (after aliases), or the configured default; absent when none. */
  model?: string;
  working_dir: string;
  approval_mode: string;
  sandbox_mode: string;
  status: UsageStatus;
  duration_ms: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  /** True when the CLI reported no usage and the tokens are `ceil(utf8 bytes / 4)` estimates. */
  estimated: boolean;
  session_id?: string;
  job_id?: string;
  request_id: string;
}

export const USAGE_GROUP_FIELDS = ['day', 'key', 'backend', 'model', 'api_style', 'status'] as const;
export type UsageGroupField = (typeof USAGE_GROUP_FIELDS)[number];

/** Sums over a set of records. */
export interface UsageTotals {
  /** Number of records. */
  requests: number;
  /** Records whose status is not `succeeded`. */
  failed: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  duration_ms: number;
}

/**
 * One row of a grouped query: the requested group fields, then the totals. `model` is null for
 * records without a model; `day` is `YYYY-MM-DD`.
 */
export type UsageRow = Partial<Record<Exclude<UsageGroupField, 'model'>, string>> & {
  model?: string | null;
} & UsageTotals;

export interface UsageQuery {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /** Non-empty, without repeats, in the order the rows are grouped and sorted by. */
  groupBy: readonly UsageGroupField[];
  /** Only records of this key name. */
  key?: string;
}

export interface UsageQueryResult {
  /**
   * One row per distinct combination of the group fields among the matching records, sorted by the
   * group fields in `groupBy` order (strings ascending by code unit; a null model sorts first).
   */
  rows: UsageRow[];
  /** Sums over every matching record. */
  totals: UsageTotals;
}

/** What one key used on one day (quota checks). */
export interface DailyUsage {
  /** Records of the day (executions started that day and finished). */
  requests: number;
  /** input + output tokens of those records. */
  tokens: number;
}

/**
 * Where usage records are kept. Implementations must be safe for concurrent calls from one process;
 * the embedded file store assumes one server process per `$CLINVK_HOME` (a networked store is shared).
 */
export interface UsageStore {
  /** Loads or connects (start-up); prepares whatever `dailyUsage` needs to be fast. */
  open(): Promise<void>;
  /**
   * Appends a batch of records (any days, any order). Durable when the promise resolves (for the
   * file store: written to the file system; a process crash loses nothing that resolved). Records
   * are never updated; appending the same batch twice counts it twice.
   */
  append(records: readonly UsageRecord[]): Promise<void>;
  /** Aggregates the records with `from <= time < to` (and of `key`, when given). */
  query(q: UsageQuery): Promise<UsageQueryResult>;
  /**
   * Per key name, the records of one UTC day (`YYYY-MM-DD`): how the daily quota counters are
   * rebuilt at start-up. Keys without records that day are absent.
   */
  dailyUsage(day: string): Promise<Map<string, DailyUsage>>;
  /** Deletes every record of the days before `beforeDay` (`YYYY-MM-DD`; that day itself is kept). Retention. */
  prune(beforeDay: string): Promise<void>;
  /** Releases resources; later calls fail. Everything appended before is durable. */
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------ day helpers

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of the UTC day containing `ms`. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Epoch ms of 00:00 UTC of `day` (`YYYY-MM-DD`). */
export function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00.000Z`);
}

/** Epoch ms of the next UTC midnight after `ms`. */
export function nextMidnight(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS + DAY_MS;
}

/** Every day from the one containing `from` to the one containing `to - 1` (empty when `to <= from`). */
export function daysBetween(from: number, to: number): string[] {
  const out: string[] = [];
  for (let t = Math.floor(from / DAY_MS) * DAY_MS; t < to; t += DAY_MS) out.push(dayOf(t));
  return out;
}

export function emptyTotals(): UsageTotals {
  return { requests: 0, failed: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, duration_ms: 0 };
}
