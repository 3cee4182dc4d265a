/**
 * The documentation keeps up with the code: every error code has a troubleshooting entry, every
 * configuration key is documented, local links resolve, and nothing cites the private spec.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listKeys } from '../../../src/config/derive';
import { CONFIG_KEYS } from '../../../src/config/keys';
import { ERROR_STATUS } from '../../../src/errors';

const root = path.join(__dirname, '../../..');
const read = (p: string) => fs.readFileSync(path.join(root, p), 'utf8');

type Schema = { enum?: unknown[]; [k: string]: unknown };

/** Every value of every `*ErrorCode` enum of the bundled contract. */
function contractErrorCodes(): string[] {
  const doc = JSON.parse(read('generated/openapi.json')) as { components: { schemas: Record<string, Schema> } };
  const codes = new Set<string>();
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    if (!/ErrorCode$/.test(name)) continue;
    expect(Array.isArray(schema.enum)).toBe(true);
    for (const c of schema.enum!) codes.add(String(c));
  }
  return [...codes].sort();
}

/** Codes that have a row in the error table of docs/troubleshooting.md, with the HTTP status given. */
function documentedCodes(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of read('docs/troubleshooting.md').split('\n')) {
    const m = /^\| `([a-z_]+)` \| ([^|]+) \|/.exec(line);
    if (m) out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

const docFiles = (): string[] => [
  'README.md',
  ...fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('docs/troubleshooting.md', () => {
  test('every error code of the contract has a row (meaning, cause, fix)', () => {
    const codes = contractErrorCodes();
    expect(codes).toEqual(expect.arrayContaining(['validation_error', 'backend_failed', 'canceled']));
    const documented = documentedCodes();
    expect(codes.filter((c) => !documented.has(c))).toEqual([]);
  });

  test('every HTTP error code is documented with its status', () => {
    const documented = documentedCodes();
    const wrong = Object.entries(ERROR_STATUS)
      .filter(([code, status]) => documented.get(code) !== String(status))
      .map(([code, status]) => `${code}: documented ${documented.get(code) ?? 'nowhere'}, is ${status}`);
    expect(wrong).toEqual([]);
  });

  test('one row per code', () => {
    const codes = read('docs/troubleshooting.md')
      .split('\n')
      .map((l) => /^\| `([a-z_]+)` \|/.exec(l)?.[1])
      .filter((c): c is string => c !== undefined);
    expect(codes.filter((c, i) => codes.indexOf(c) !== i)).toEqual([]);
  });

  test('the table rows have five filled cells', () => {
    const rows = read('docs/troubleshooting.md')
      .split('\n')
      .filter((l) => /^\| `[a-z_]+` \|/.test(l));
    for (const row of rows) {
      const cells = row.split(' | ').map((c) => c.replace(/^\| |\|$/g, '').trim());
      expect([row, cells.length, cells.every((c) => c.length > 0)]).toEqual([row, 5, true]);
    }
  });
});

describe('configuration reference', () => {
  test('every configuration key has a row in docs/configuration.md and an entry in config.example.yaml', () => {
    const reference = read('docs/configuration.md');
    const example = read('config.example.yaml');
    const missing: string[] = [];
    for (const key of listKeys(CONFIG_KEYS)) {
      const dotted = key.path.join('.');
      if (!reference.includes(`| \`${dotted}\` |`)) missing.push(`docs/configuration.md: ${dotted}`);
      const leaf = key.path[key.path.length - 1]!;
      if (!new RegExp(`^\\s*# ${leaf}:`, 'm').test(example)) missing.push(`config.example.yaml: ${dotted}`);
    }
    expect(missing).toEqual([]);
  });
});

describe('all documents', () => {
  test('README, docs and the OpenAPI documents do not cite the spec by section', () => {
    const files = [
      ...docFiles(),
      ...fs
        .readdirSync(path.join(root, 'openapi'))
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => `openapi/${f}`),
    ];
    const hits = files.flatMap((f) =>
      read(f)
        .split('\n')
        .map((l, i) => [l, i] as const)
        .filter(([l]) => /SPEC\b|§/.test(l))
        .map(([l, i]) => `${f}:${i + 1}: ${l.trim()}`),
    );
    expect(hits).toEqual([]);
  });

  test('relative links in README and docs point at files that exist', () => {
    const broken: string[] = [];
    for (const f of docFiles()) {
      for (const m of read(f).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target) || target.startsWith('#')) continue;
        const file = target.split('#')[0]!;
        if (!fs.existsSync(path.join(root, path.dirname(f), file))) broken.push(`${f}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  test('the README starts with exactly the two entry points', () => {
    const block = /```sh\n([\s\S]*?)```/.exec(read('README.md'))![1]!;
    expect(
      block
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => l.split('#')[0]!.trim()),
    ).toEqual(['make run', 'make test']);
  });
});
