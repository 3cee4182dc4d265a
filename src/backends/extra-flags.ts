/**
 * Request `extra` tokens: allow-list parsing and checking.
 */
import type { ValidationDetail } from '../errors';
import { isValidModel } from './model-and-prompt';
import type { BackendName, FlagSpec, FlagValueRule } from './types';

export const MAX_EXTRA_ITEMS = 32;
export const MAX_EXTRA_ITEM_BYTES = 4096;

/** A single-letter flag `-x`. */
const SHORT_FLAG = /^-[A-Za-z0-9]$/;

/** Well-formedness of one `allowed_extra_flags` entry (for the configuration schema). */
export const ALLOW_LIST_ENTRY_PATTERN = '^(--[A-Za-z0-9][A-Za-z0-9_-]*|-[A-Za-z0-9])( <[^<>\\s]+>)?$';
const ALLOW_LIST_ENTRY = new RegExp(ALLOW_LIST_ENTRY_PATTERN);

const ANY: FlagValueRule = { kind: 'any' };

/** Boolean flag specs. */
export function booleanFlags(...names: string[]): FlagSpec[] {
  return names.map((name) => ({ name, takesValue: false }));
}

/** Value-taking flag specs sharing one rule. */
export function valueFlags(rule: FlagValueRule, ...names: string[]): FlagSpec[] {
  return names.map((name) => ({ name, takesValue: true, rule }));
}

/**
 * Parses `backends.<b>.allowed_extra_flags`: `"--flag"` (boolean) or `"--flag <value>"`
 * (value-taking, any value). Throws on a malformed entry.
 */
export function parseAllowList(entries: string[]): FlagSpec[] {
  return entries.map((entry, i) => {
    if (typeof entry !== 'string' || !ALLOW_LIST_ENTRY.test(entry)) {
      throw new Error(
        `invalid allowed_extra_flags entry [${i}] ${JSON.stringify(entry)}: expected "--flag" or "--flag <value>"`,
      );
    }
    const [name, placeholder] = entry.split(' ');
    return placeholder === undefined ? { name, takesValue: false } : { name, takesValue: true, rule: ANY };
  });
}

/** Human description of a value rule (used in messages). */
function describeRule(rule: FlagValueRule): string {
  switch (rule.kind) {
    case 'any':
      return 'any text';
    case 'regex':
      return `must match ${String(rule.pattern)}`;
    case 'enum':
      return `must be one of: ${rule.values.join(', ')}`;
    case 'model':
      return 'must be a valid model name';
    case 'positive-decimal':
      return 'must be a decimal number greater than 0';
    case 'json':
      return 'must be JSON text';
  }
}

function isJson(v: string): boolean {
  try {
    JSON.parse(v);
    return true;
  } catch {
    return false;
  }
}

export function valueSatisfies(rule: FlagValueRule | undefined, v: string): boolean {
  const r = rule ?? ANY;
  switch (r.kind) {
    case 'any':
      return true;
    case 'regex':
      return r.pattern.test(v);
    case 'enum':
      return r.values.includes(v);
    case 'model':
      return isValidModel(v);
    case 'positive-decimal':
      return /^\d+(\.\d+)?$/.test(v) && Number(v) > 0;
    case 'json':
      return isJson(v);
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Size and character problems of one string token, or undefined. */
function tokenProblem(t: string): string | undefined {
  const bytes = Buffer.byteLength(t, 'utf8');
  if (bytes === 0) return 'must not be empty';
  if (bytes > MAX_EXTRA_ITEM_BYTES) return `must be at most ${MAX_EXTRA_ITEM_BYTES} bytes`;
  if (t.includes('\u0000')) return 'must not contain U+0000';
  if (LONE_SURROGATE.test(t)) return 'must be well-formed Unicode';
  return undefined;
}

/** Problem with `value` given to `spec`, or undefined. */
function valueProblem(spec: FlagSpec, value: string): string | undefined {
  if (value === '') return `value for ${spec.name} must not be empty`;
  if (value.startsWith('-')) return `value for ${spec.name} must not start with "-": ${value}`;
  if (!valueSatisfies(spec.rule, value)) {
    return `invalid value for ${spec.name}: ${value} (${describeRule(spec.rule ?? ANY)})`;
  }
  return undefined;
}

/** A token in flag form: `--name`, `--name=value`, `-x`; undefined otherwise. */
function splitFlag(t: string): { name: string; value?: string } | undefined {
  if (SHORT_FLAG.test(t)) return { name: t };
  if (!t.startsWith('--') || t.length <= 2) return undefined;
  const eq = t.indexOf('=');
  return eq < 0 ? { name: t } : { name: t.slice(0, eq), value: t.slice(eq + 1) };
}

/**
 * Classifies one token: a problem message, a value-taking flag that waits for its value in the next
 * token, or undefined when the token is fine. `expecting` is the flag whose value this token is.
 */
function tokenAt(
  backend: BackendName,
  t: unknown,
  expecting: FlagSpec | undefined,
  byName: Map<string, FlagSpec>,
): string | FlagSpec | undefined {
  if (typeof t !== 'string') return 'must be a string';
  const basic = tokenProblem(t);
  if (basic) return basic;
  if (expecting) return valueProblem(expecting, t);
  if (t === '--') return '"--" is not allowed';
  const flag = splitFlag(t);
  if (!flag) return t.startsWith('-') ? `flag not allowed for ${backend}: ${t}` : `unexpected argument: ${t}`;
  const spec = byName.get(flag.name);
  if (!spec) return `flag not allowed for ${backend}: ${t}`;
  if (!spec.takesValue) return flag.value !== undefined ? `flag ${spec.name} does not take a value: ${t}` : undefined;
  return flag.value === undefined ? spec : valueProblem(spec, flag.value);
}

/**
 * Checks request `extra` tokens against `allow` and returns every problem found, each
 * with `path` `${pathPrefix}[i]` (the count problem has `path` = `pathPrefix`).
 */
export function checkExtraFlags(
  backend: BackendName,
  tokens: unknown[],
  allow: FlagSpec[],
  pathPrefix: string,
): ValidationDetail[] {
  const problems: ValidationDetail[] = [];
  const at = (i: number, message: string): void => {
    problems.push({ path: `${pathPrefix}[${i}]`, message });
  };
  if (tokens.length > MAX_EXTRA_ITEMS) {
    problems.push({ path: pathPrefix, message: `must have at most ${MAX_EXTRA_ITEMS} items` });
  }
  const byName = new Map(allow.map((s) => [s.name, s]));
  let pending: { spec: FlagSpec; index: number } | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const expecting = pending;
    pending = undefined;
    const problem = tokenAt(backend, tokens[i], expecting?.spec, byName);
    if (typeof problem === 'string') at(i, problem);
    else if (problem) pending = { spec: problem, index: i };
  }
  if (pending) at(pending.index, `flag ${pending.spec.name} requires a value`);
  return problems;
}

/**
 * The flags among already-checked `extra` tokens, with their index and name (values of
 * value-taking flags skipped). Tokens that are not valid are ignored.
 */
export function extraFlagNames(tokens: unknown[], allow: FlagSpec[]): { index: number; name: string }[] {
  const byName = new Map(allow.map((s) => [s.name, s]));
  const out: { index: number; name: string }[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== 'string') continue;
    const flag = splitFlag(t);
    if (!flag) continue;
    out.push({ index: i, name: flag.name });
    if (byName.get(flag.name)?.takesValue && flag.value === undefined) i++;
  }
  return out;
}

/**
 * Option names in an argv (up to a `--`): `--name`, `--name=value` and `-x` tokens. Values clinvk
 * produces never start with `-`, and user text is replaced by placeholders before this is called.
 */
export function optionNamesOf(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of argv) {
    if (t === '--') break;
    if (!t.startsWith('-') || t === '-') continue;
    const eq = t.indexOf('=');
    out.push(eq < 0 ? t : t.slice(0, eq));
  }
  return out;
}
