/** GET /api/v1/usage and GET /api/v1/me: query parameters → store query → response body. */
import { allowedBackends, type Principal } from '../auth/principal';
import { BACKEND_NAMES } from '../backends/types';
import { validationError, type ValidationDetail } from '../errors';
import type { UsageService } from './service';
import { dayStart, nextMidnight, USAGE_GROUP_FIELDS, type UsageGroupField, type UsageQueryResult } from './types';

const DAY_MS = 86_400_000;
const DAY_ONLY = /^\d{4}-\d{2}-\d{2}$/;

export interface UsageParams {
  from?: string;
  to?: string;
  group_by?: string;
  key?: string;
}

export interface UsageReport extends UsageQueryResult {
  from: string;
  to: string;
  group_by: UsageGroupField[];
}

/** RFC 3339 without milliseconds when they are zero. */
function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Epoch ms of an RFC 3339 timestamp or of 00:00 UTC of a `YYYY-MM-DD` day; undefined when not a real instant. */
function instant(text: string): number | undefined {
  if (DAY_ONLY.test(text)) {
    const ms = dayStart(text);
    return Number.isNaN(ms) || iso(ms).slice(0, 10) !== text ? undefined : ms;
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2026-02-30 over to March: the calendar date must survive the round trip
  const date = text.slice(0, 10);
  const local = new Date(`${date}T00:00:00Z`);
  return Number.isNaN(local.getTime()) || local.toISOString().slice(0, 10) !== date ? undefined : ms;
}

/**
 * The usage report of a request. A user key sees only its own records (its `key` parameter is
 * ignored, exactly like an admin filtering by the user's own name); an admin may filter by `key`.
 */
export async function usageReport(usage: UsageService, params: UsageParams, who: Principal): Promise<UsageReport> {
  const problems: ValidationDetail[] = [];
  const now = usage.clock();
  const to = params.to === undefined ? nextMidnight(now) : instant(params.to);
  const from = params.from === undefined ? nextMidnight(now) - 7 * DAY_MS : instant(params.from);
  if (to === undefined) problems.push({ path: 'query.to', message: 'must be an RFC 3339 timestamp or YYYY-MM-DD' });
  if (from === undefined) {
    problems.push({ path: 'query.from', message: 'must be an RFC 3339 timestamp or YYYY-MM-DD' });
  }
  const groupBy = (params.group_by ?? 'day').split(',') as UsageGroupField[];
  const seen = new Set<string>();
  for (const f of groupBy) {
    if (!USAGE_GROUP_FIELDS.includes(f)) problems.push({ path: 'query.group_by', message: `unknown field: ${f}` });
    else if (seen.has(f)) problems.push({ path: 'query.group_by', message: `repeats ${f}` });
    seen.add(f);
  }
  if (from !== undefined && to !== undefined && to < from) {
    problems.push({ path: 'query.to', message: 'must not be before from' });
  }
  if (problems.length > 0) throw validationError(problems);
  const key = who.role === 'admin' ? params.key : who.name;
  const result = await usage.query({ from: from!, to: to!, groupBy, ...(key !== undefined ? { key } : {}) });
  return { from: iso(from!), to: iso(to!), group_by: groupBy, rows: result.rows, totals: result.totals };
}

/** GET /api/v1/me. */
export async function currentKey(usage: UsageService, who: Principal) {
  return {
    name: who.name,
    role: who.role,
    backends: allowedBackends(who, BACKEND_NAMES),
    limits: {
      requests_per_day: who.limits.requests_per_day,
      tokens_per_day: who.limits.tokens_per_day,
      max_concurrent: who.limits.max_concurrent,
    },
    today: await usage.today(who.name),
  };
}
