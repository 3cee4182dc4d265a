/**
 * Small pure helpers shared by the three adapters (JSON-line handling, safe field access, argv
 * building, stderr/exit text). Nothing here throws on bad input.
 */
import type { ProcessExit, StreamFinish, StreamParser, UnifiedEvent } from './types';

export type JsonObject = Record<string, unknown>;

export function isRecord(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value when it is a string, else undefined. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The value when it is a non-empty string, else undefined. */
export function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Parses JSON text; undefined on any error. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** One stdout line → a JSON object, or undefined for blank, non-JSON or non-object lines. */
export function parseJsonLine(line: string): JsonObject | undefined {
  const t = line.trim();
  if (!t.startsWith('{')) return undefined;
  const v = tryParseJson(t);
  return isRecord(v) ? v : undefined;
}

/** Splits text into lines on `\n`, removing a trailing `\r` from each. */
export function splitLines(text: string): string[] {
  return text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** Copy of `obj` without the keys whose value is undefined (keeps event payloads tidy). */
export function compact<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** `args` when `cond` holds, else `[]` (for building argv arrays declaratively). */
export function when(cond: unknown, ...args: string[]): string[] {
  return cond ? args : [];
}

/** `<backend> exited with code <n>` (or the signal when there is no code). */
export function exitText(backend: string, exit: ProcessExit): string {
  if (exit.code !== null) return `${backend} exited with code ${exit.code}`;
  return `${backend} was terminated by ${exit.signal ?? 'a signal'}`;
}

/**
 * Non-blank stderr lines that are not noise, from the last block (lines after the last blank line
 * that still has non-noise lines after it), at most `max` lines, joined with `\n`; undefined when
 * nothing is left.
 */
export function lastStderrBlock(stderr: string, isNoise: (line: string) => boolean, max = 10): string | undefined {
  const lines = splitLines(stderr).filter((l) => !isNoise(l));
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  let start = lines.length;
  while (start > 0 && lines[start - 1].trim() !== '') start--;
  const block = lines
    .slice(Math.max(start, lines.length - max))
    .join('\n')
    .trim();
  return block === '' ? undefined : block;
}

/**
 * Base class of the JSON-lines stream parsers: `push` parses the line, ignores anything that is not
 * a JSON object, and never throws (a handler error drops the line).
 */
export abstract class JsonLineParser implements StreamParser {
  push(line: string): UnifiedEvent[] {
    const obj = parseJsonLine(line);
    if (!obj) return [];
    try {
      return this.handle(obj);
    } catch {
      return [];
    }
  }

  protected abstract handle(obj: JsonObject): UnifiedEvent[];
  abstract finish(exit: ProcessExit, stderr: string): StreamFinish;
}

/** Remembers tool id → tool name so that results can be labelled (`""` when unknown). */
export class ToolNames {
  private readonly names = new Map<string, string>();

  remember(id: string | undefined, name: string): void {
    if (id !== undefined) this.names.set(id, name);
  }

  nameOf(id: string | undefined): string {
    return (id !== undefined ? this.names.get(id) : undefined) ?? '';
  }
}
