/**
 * Token usage normalisation helpers. Every function is total: bad input gives
 * `undefined` (nothing reported) or zeros for missing fields, never an exception.
 */
import type { TokenUsage } from './types';
import { isRecord } from './util';

/** A finite, non-negative number; anything else counts as 0. */
export function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Builds a TokenUsage, omitting the optional fields passed as undefined. */
export function makeUsage(input: number, output: number, cached?: number, reasoning?: number): TokenUsage {
  const u: TokenUsage = { input_tokens: input, output_tokens: output };
  if (cached !== undefined) u.cached_tokens = cached;
  if (reasoning !== undefined) u.reasoning_tokens = reasoning;
  return u;
}

/** `count(obj[key])` when the field is a number, else undefined (an optional field that is unknown). */
function optionalCount(obj: Record<string, unknown>, key: string): number | undefined {
  return isNumber(obj[key]) ? count(obj[key]) : undefined;
}

/** claude `usage`: input = input + cache creation + cache read; cached = cache read. */
export function claudeUsage(usage: unknown): TokenUsage | undefined {
  if (!isRecord(usage)) return undefined;
  const input =
    count(usage.input_tokens) + count(usage.cache_creation_input_tokens) + count(usage.cache_read_input_tokens);
  return makeUsage(input, count(usage.output_tokens), optionalCount(usage, 'cache_read_input_tokens'));
}

/** codex `turn.completed.usage` (input already includes the cached tokens). */
export function codexUsage(usage: unknown): TokenUsage | undefined {
  if (!isRecord(usage)) return undefined;
  return makeUsage(
    count(usage.input_tokens),
    count(usage.output_tokens),
    optionalCount(usage, 'cached_input_tokens'),
    optionalCount(usage, 'reasoning_output_tokens'),
  );
}

/** Sum of `key` over `items`, or undefined when no item has it as a number. */
function sumOptional(items: Record<string, unknown>[], key: string): number | undefined {
  return items.some((t) => isNumber(t[key])) ? items.reduce((s, t) => s + count(t[key]), 0) : undefined;
}

/** gemini json `stats.models`: summed over all models (router and main calls are both billed). */
export function geminiJsonUsage(stats: unknown): TokenUsage | undefined {
  if (!isRecord(stats) || !isRecord(stats.models)) return undefined;
  const tokens = Object.values(stats.models)
    .map((m) => (isRecord(m) ? m.tokens : undefined))
    .filter(isRecord);
  if (tokens.length === 0) return undefined;
  const input = tokens.reduce((s, t) => s + count(isNumber(t.prompt) ? t.prompt : t.input), 0);
  const output = tokens.reduce((s, t) => s + count(t.candidates), 0);
  return makeUsage(input, output, sumOptional(tokens, 'cached'), sumOptional(tokens, 'thoughts'));
}

/** gemini stream `result.stats` totals. */
export function geminiStreamUsage(stats: unknown): TokenUsage | undefined {
  if (!isRecord(stats)) return undefined;
  return makeUsage(count(stats.input_tokens), count(stats.output_tokens), optionalCount(stats, 'cached'));
}

/** Field-wise a − b floored at 0; optional fields are kept when present in `a` (missing in b = 0). */
export function subtractCumulative(reported: TokenUsage, previous: TokenUsage | undefined): TokenUsage {
  const minus = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined ? undefined : Math.max(0, count(a) - count(b));
  return makeUsage(
    minus(reported.input_tokens, previous?.input_tokens) ?? 0,
    minus(reported.output_tokens, previous?.output_tokens) ?? 0,
    minus(reported.cached_tokens, previous?.cached_tokens),
    minus(reported.reasoning_tokens, previous?.reasoning_tokens),
  );
}

/** Field-wise a + b (for session totals); an optional field is present when either side has it. */
export function addUsage(a: TokenUsage | undefined, b: TokenUsage | undefined): TokenUsage | undefined {
  if (!a || !b) return a ?? b;
  const plus = (x: number | undefined, y: number | undefined): number | undefined =>
    x === undefined && y === undefined ? undefined : count(x) + count(y);
  return makeUsage(
    count(a.input_tokens) + count(b.input_tokens),
    count(a.output_tokens) + count(b.output_tokens),
    plus(a.cached_tokens, b.cached_tokens),
    plus(a.reasoning_tokens, b.reasoning_tokens),
  );
}
