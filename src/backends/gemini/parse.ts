/** gemini non-stream parsing and the stderr rules shared with the stream parser. */
import type { ParsedResult, ProcessExit } from '../types';
import { geminiJsonUsage } from '../usage';
import {
  compact,
  exitText,
  isRecord,
  lastStderrBlock,
  nonEmpty,
  splitLines,
  tryParseJson,
  type JsonObject,
} from '../util';

const NOISE_PREFIXES = [
  'Warning: 256-color support not detected',
  'Ripgrep is not available',
  'YOLO mode is enabled',
  'Loaded cached credentials',
];

export function isGeminiNoise(line: string): boolean {
  return NOISE_PREFIXES.some((p) => line.startsWith(p)) || /^\s+at /.test(line);
}

/** Parses `lines` from index `start` to the end as one JSON object. */
function objectFrom(lines: string[], start: number): JsonObject | undefined {
  if (start < 0) return undefined;
  const v = tryParseJson(lines.slice(start).join('\n'));
  return isRecord(v) ? v : undefined;
}

/** stdout object: everything before the first line starting with `{` is ignored. */
export function geminiStdoutObject(stdout: string): JsonObject | undefined {
  const lines = splitLines(stdout);
  return objectFrom(
    lines,
    lines.findIndex((l) => l.startsWith('{')),
  );
}

/** The pretty-printed error object at the end of stderr: from the last line that is exactly `{`. */
export function geminiStderrObject(stderr: string): JsonObject | undefined {
  const lines = splitLines(stderr);
  return objectFrom(lines, lines.lastIndexOf('{'));
}

/** `error.message` of a gemini JSON object. */
export function geminiErrorMessage(obj: JsonObject | undefined): string | undefined {
  return obj && isRecord(obj.error) ? nonEmpty(obj.error.message) : undefined;
}

/** Last non-noise stderr lines, else `gemini exited with code <n>`. */
export function geminiStderrFallback(stderr: string, exit: ProcessExit): string {
  return lastStderrBlock(stderr, isGeminiNoise) ?? exitText('gemini', exit);
}

/** The main model of `stats.models` (the entry with the `main` role). */
function mainModel(stats: unknown): string | undefined {
  if (!isRecord(stats) || !isRecord(stats.models)) return undefined;
  return Object.entries(stats.models).find(([, m]) => isRecord(m) && isRecord(m.roles) && 'main' in m.roles)?.[0];
}

export function parseGeminiResult(stdout: string, stderr: string, exit: ProcessExit): ParsedResult {
  const out = geminiStdoutObject(stdout);
  const errObj = geminiStderrObject(stderr);
  const response = typeof out?.response === 'string' ? out.response : undefined;
  const success = exit.code === 0 && response !== undefined && out?.error == null;
  const error = success
    ? undefined
    : (geminiErrorMessage(out) ??
      geminiErrorMessage(errObj) ??
      (exit.code === 0 ? 'gemini produced no result' : geminiStderrFallback(stderr, exit)));
  return compact({
    success,
    output: response ?? '',
    error,
    backendSessionId: nonEmpty(out?.session_id) ?? nonEmpty(errObj?.session_id),
    usage: geminiJsonUsage(out?.stats),
    model: mainModel(out?.stats),
  });
}
