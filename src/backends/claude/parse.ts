/** claude non-stream parsing and the result-object rules shared with the stream parser. */
import type { ParsedResult, ProcessExit } from '../types';
import { claudeUsage } from '../usage';
import { compact, exitText, isRecord, nonEmpty, splitLines, str, tryParseJson, type JsonObject } from '../util';

function isResult(v: unknown): v is JsonObject {
  return isRecord(v) && v.type === 'result';
}

/**
 * The `result` object of json-mode stdout: a single object, or (with `--verbose`) an array whose
 * last `result` element counts; as a fallback, the last JSON line that is a result object.
 */
export function findClaudeResult(stdout: string): JsonObject | undefined {
  const whole = tryParseJson(stdout.trim());
  if (isResult(whole)) return whole;
  if (Array.isArray(whole)) return whole.filter(isResult).pop();
  return splitLines(stdout)
    .map((l) => tryParseJson(l.trim()))
    .filter(isResult)
    .pop();
}

/** The model actually used: the (first) key of `modelUsage`. */
function claudeModel(result: JsonObject): string | undefined {
  return isRecord(result.modelUsage) ? Object.keys(result.modelUsage)[0] : undefined;
}

/**
 * Error text of a failed run, first that applies. A `subtype` of `success` is not used as
 * an error text (API errors carry it together with `is_error: true`).
 */
export function claudeErrorText(result: JsonObject | undefined, stderr: string, exit: ProcessExit): string {
  if (result) {
    const text = result.is_error === true ? nonEmpty(result.result) : undefined;
    const errors = Array.isArray(result.errors) ? result.errors.filter((e) => typeof e === 'string') : [];
    const subtype = result.subtype !== 'success' ? nonEmpty(result.subtype) : undefined;
    const fromResult = text ?? (errors.length > 0 ? errors.join('; ') : undefined) ?? subtype;
    if (fromResult !== undefined) return fromResult;
  } else if (exit.code === 0) {
    return 'claude produced no result';
  }
  return nonEmpty(stderr.trim()) ?? exitText('claude', exit);
}

/** Applies the success rule and builds the parsed result from a result object (or none). */
export function evaluateClaudeResult(result: JsonObject | undefined, stderr: string, exit: ProcessExit): ParsedResult {
  const success = exit.code === 0 && result !== undefined && result.is_error !== true;
  return compact({
    success,
    // An API error's `result` is the error text, not an answer.
    output: result?.is_error === true ? '' : (str(result?.result) ?? ''),
    error: success ? undefined : claudeErrorText(result, stderr, exit),
    backendSessionId: nonEmpty(result?.session_id),
    usage: claudeUsage(result?.usage),
    model: result ? claudeModel(result) : undefined,
  });
}

export function parseClaudeResult(stdout: string, stderr: string, exit: ProcessExit): ParsedResult {
  return evaluateClaudeResult(findClaudeResult(stdout), stderr, exit);
}
