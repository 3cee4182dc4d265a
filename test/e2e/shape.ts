/**
 * Output shape of a CLI run compared with the captured samples (test/fixtures/samples), for the
 * drift report: values differ from run to run, the shape (line kinds and the key paths with their
 * JSON types) does not — unless a CLI release changed its format.
 */

/** Object keys whose names are data (model names, tool names, roles): compared as `*`. */
const DATA_KEYS = new Set(['modelUsage', 'models', 'byName', 'roles', 'errorsByType']);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** `path:type` for every node of a JSON value (array elements under `path[]`). */
export function keyPaths(v: unknown, path = '', out = new Set<string>()): Set<string> {
  out.add(`${path || '.'}:${typeOf(v)}`);
  if (Array.isArray(v)) {
    for (const e of v) keyPaths(e, `${path}[]`, out);
  } else if (v && typeof v === 'object') {
    const dataKeys = DATA_KEYS.has(path.split('.').pop() ?? '');
    for (const [k, child] of Object.entries(v)) keyPaths(child, path ? `${path}.${dataKeys ? '*' : k}` : k, out);
  }
  return out;
}

/** What kind of line this is: `type`, plus `subtype`, a stream event's type or a role when present. */
export function lineKind(v: any): string {
  if (!v || typeof v !== 'object') return typeOf(v);
  const parts = [v.type ?? '(no type)'];
  if (typeof v.subtype === 'string') parts.push(v.subtype);
  if (v.event && typeof v.event.type === 'string') parts.push(v.event.type);
  if (typeof v.role === 'string') parts.push(v.role);
  if (v.item && typeof v.item.type === 'string') parts.push(v.item.type);
  return parts.join('/');
}

/** The JSON documents of an output: JSON lines, or one (pretty-printed) document. */
export function documents(text: string): unknown[] {
  const trimmed = text.trim();
  if (!trimmed) return [];
  try {
    return [JSON.parse(trimmed)];
  } catch {
    return trimmed
      .split('\n')
      .filter((l) => l.trim().startsWith('{'))
      .map((l) => JSON.parse(l) as unknown);
  }
}

/**
 * The first difference between the shape of `live` and of `sample`, or undefined when they agree:
 * `line 3: sample has assistant, the CLI printed result` or
 * `line 1 (result/success): missing usage.iterations:array; new usage.foo:number`.
 */
export function firstShapeDifference(sample: string, live: string): string | undefined {
  const a = documents(sample);
  const b = documents(live);
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (i >= b.length) return `line ${i + 1}: sample has ${lineKind(a[i])}, the CLI printed nothing more`;
    if (i >= a.length)
      return `line ${i + 1}: the CLI printed an extra ${lineKind(b[i])}: ${JSON.stringify(b[i]).slice(0, 300)}`;
    const ka = lineKind(a[i]);
    const kb = lineKind(b[i]);
    if (ka !== kb)
      return `line ${i + 1}: sample has ${ka}, the CLI printed ${kb}: ${JSON.stringify(b[i]).slice(0, 300)}`;
    const pa = keyPaths(a[i]);
    const pb = keyPaths(b[i]);
    const missing = [...pa].filter((p) => !pb.has(p));
    const added = [...pb].filter((p) => !pa.has(p));
    if (missing.length || added.length) {
      const list = (xs: string[]) =>
        xs.length > 8 ? `${xs.slice(0, 8).join(', ')} and ${xs.length - 8} more` : xs.join(', ');
      const parts = [];
      if (missing.length) parts.push(`missing ${list(missing)}`);
      if (added.length) parts.push(`new ${list(added)}`);
      return `line ${i + 1} (${ka}): ${parts.join('; ')}`;
    }
  }
  return undefined;
}
