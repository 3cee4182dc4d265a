/**
 * The session record file format: pretty-printed JSON with a fixed key order. Parsing is lenient
 * with legacy records (missing optional fields get their defaults, unknown fields are kept) and
 * strict about what identifies a record (id, backend, status, timestamps).
 */
import { isBackendName, type TokenUsage } from '../../backends/types';
import { parseProcessIdentity } from '../../lib/process-identity';
import type { SessionRecord } from '../types';

export const SESSION_STATUSES: ReadonlySet<string> = new Set(['active', 'completed', 'error', 'paused']);

/** The documented key order of a record file; keys the server does not know follow in their own order. */
const RECORD_KEYS = [
  'id',
  'backend',
  'created_at',
  'last_used',
  'working_dir',
  'backend_session_id',
  'model',
  'initial_prompt',
  'status',
  'turn_count',
  'token_usage',
  'tags',
  'title',
  'parent_id',
  'error_message',
  'metadata',
  'backend_cumulative_usage',
  'owner',
  'claimed_by',
  'node',
] as const;
const KNOWN_KEYS: ReadonlySet<string> = new Set<string>(RECORD_KEYS);
const OPTIONAL_STRINGS = [
  'node',
  'backend_session_id',
  'model',
  'initial_prompt',
  'title',
  'parent_id',
  'error_message',
  'owner',
] as const;

/** A full session id: 32 lowercase hex, or a legacy 16-hex id. */
export function isSessionId(v: unknown): v is string {
  return typeof v === 'string' && (v.length === 32 || v.length === 16) && /^[0-9a-f]+$/.test(v);
}

export function isInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

export function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Usage object with non-negative integer counts; undefined when `v` is not an object. */
function parseUsage(v: unknown): TokenUsage | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const n = (x: unknown): number => (isFiniteNumber(x) && x > 0 ? Math.floor(x) : 0);
  const u: TokenUsage = { input_tokens: n(o.input_tokens), output_tokens: n(o.output_tokens) };
  if (o.cached_tokens !== undefined && o.cached_tokens !== null) u.cached_tokens = n(o.cached_tokens);
  if (o.reasoning_tokens !== undefined && o.reasoning_tokens !== null) u.reasoning_tokens = n(o.reasoning_tokens);
  return u;
}

/**
 * Parses and normalises a record file. Required: an object whose `id` is the file's id, a known
 * `backend` and `status`, and parseable `created_at`/`last_used`. Missing optional fields get their
 * defaults (legacy records); unknown fields are kept. Returns the reason as a string when invalid.
 */
export function parseRecord(text: string, id: string): SessionRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `invalid JSON: ${(e as Error).message}`;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o.id !== id) return 'id does not match the file name';
  if (!isBackendName(o.backend)) return 'invalid backend';
  if (typeof o.status !== 'string' || !SESSION_STATUSES.has(o.status)) return 'invalid status';
  for (const k of ['created_at', 'last_used'] as const) {
    if (typeof o[k] !== 'string' || !Number.isFinite(Date.parse(o[k] as string))) return `invalid ${k}`;
  }
  const rec: Record<string, unknown> = { ...o };
  rec.working_dir = typeof o.working_dir === 'string' ? o.working_dir : '';
  rec.turn_count = isInteger(o.turn_count) && o.turn_count >= 0 ? o.turn_count : 0;
  rec.token_usage = parseUsage(o.token_usage) ?? { input_tokens: 0, output_tokens: 0 };
  rec.tags = Array.isArray(o.tags) ? o.tags.filter((t): t is string => typeof t === 'string') : [];
  for (const k of OPTIONAL_STRINGS) if (o[k] !== undefined && typeof o[k] !== 'string') delete rec[k];
  if (o.metadata !== undefined) {
    if (o.metadata && typeof o.metadata === 'object' && !Array.isArray(o.metadata)) {
      const md: Record<string, string> = {};
      for (const [k, val] of Object.entries(o.metadata as Record<string, unknown>)) {
        if (typeof val === 'string') md[k] = val;
      }
      rec.metadata = md;
    } else delete rec.metadata;
  }
  if (o.backend_cumulative_usage !== undefined) {
    const u = parseUsage(o.backend_cumulative_usage);
    if (u) rec.backend_cumulative_usage = u;
    else delete rec.backend_cumulative_usage;
  }
  if (o.claimed_by !== undefined) {
    const holder = parseProcessIdentity(o.claimed_by);
    if (holder) rec.claimed_by = holder;
    else delete rec.claimed_by;
  }
  return rec as unknown as SessionRecord;
}

/** Pretty-printed JSON in the documented key order (unknown legacy keys kept at the end). */
export function serializeRecord(rec: SessionRecord): string {
  const src = rec as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of RECORD_KEYS) if (src[k] !== undefined) out[k] = src[k];
  for (const k of Object.keys(src)) if (!KNOWN_KEYS.has(k) && src[k] !== undefined) out[k] = src[k];
  return `${JSON.stringify(out, null, 2)}\n`;
}
