/**
 * Contract fuzzing (SPEC §10.1): requests generated from the request schemas of the bundled
 * document — valid values, near misses and garbage — must never produce a 5xx or a response
 * outside the document. Deterministic (seeded PRNG). Executions are dry runs (config), so nothing
 * but argv rendering happens.
 */
import request from 'supertest';
import { contractDocument, expectMatchesSpec, expectStreamMatchesSpec } from '../helpers/contract';
import { makeTestApp, type TestApp } from '../helpers/server';

type Schema = Record<string, any>;

/** mulberry32: small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const doc = contractDocument();

function deref(s: Schema): Schema {
  let cur = s;
  while (cur && cur.$ref)
    cur = cur.$ref
      .split('/')
      .slice(1)
      .reduce((o: any, k: string) => o[k], doc);
  // allOf (streamPrompt's body: PromptRequest narrowed): later parts narrow the properties of earlier ones
  if (cur?.allOf) {
    const parts = (cur.allOf as Schema[]).map(deref);
    return {
      ...Object.assign({}, ...parts),
      properties: Object.assign({}, ...parts.map((p) => p.properties ?? {})),
      required: parts.flatMap((p) => p.required ?? []),
    };
  }
  return cur;
}

const GARBAGE: unknown[] = [
  null,
  true,
  -1,
  0,
  1.5,
  1e12,
  '',
  ' ',
  '\u0000',
  '\ud800',
  '--help',
  '../../etc',
  'x'.repeat(5000),
  [],
  {},
  [1, 'a'],
  { a: 1 },
];

/** Valid strings by property name (valid mode). */
const VALID_STRING: Record<string, () => string> = {
  workdir: () => t.workdir,
  model: () => 'sonnet',
  session_id: () => 'abc',
  name: () => 'step',
};

class Gen {
  /** When set, values stay inside the schema (for the accepted share of requests). */
  valid = false;
  constructor(private readonly rnd: () => number) {}
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }

  /** A value for `schema`: mostly valid, sometimes a near miss or garbage. */
  value(schema: Schema, depth = 0, key = ''): unknown {
    const s = deref(schema);
    const v = this.valid;
    if (!v && (this.chance(0.08) || depth > 4)) return this.pick(GARBAGE);
    if (s.oneOf || s.anyOf) return this.value(this.pick(s.oneOf ?? s.anyOf), depth + 1, key);
    if (s.enum) return v || this.chance(0.9) ? this.pick(s.enum) : `${this.pick(s.enum)}X`;
    switch (s.type) {
      case 'string':
        if (v) return (VALID_STRING[key] ?? (() => 'hi'))();
        return this.pick([
          'hi',
          'What is 2+2?',
          'sonnet',
          '/tmp',
          'fast',
          'claude',
          'codex/gpt-5',
          '  ',
          'a'.repeat(s.maxLength ? s.maxLength + 1 : 3),
        ]);
      case 'integer':
        if (v) return s.minimum ?? 1;
        return this.pick([s.minimum ?? 0, s.maximum ?? 10, (s.minimum ?? 0) - 1, (s.maximum ?? 10) + 1, 3]);
      case 'number':
        return this.pick([0, 0.5, 2]);
      case 'boolean':
        return v || this.chance(0.9) ? this.chance(0.5) : 'true';
      case 'array': {
        const n = v ? Math.max(s.minItems ?? 0, 1) : this.pick([0, 1, 2, 3, (s.maxItems ?? 3) + 1]);
        return Array.from({ length: n }, () => this.value(s.items ?? {}, depth + 1, key));
      }
      case 'object':
      default: {
        const out: Record<string, unknown> = {};
        for (const [k, p] of Object.entries<Schema>(s.properties ?? {})) {
          const required = (s.required ?? []).includes(k);
          if (
            v &&
            (k === 'extra' ||
              k === 'metadata' ||
              k === 'session_id' ||
              k === 'pass_session_id' ||
              k === 'persist_sessions')
          )
            continue;
          if (required ? v || this.chance(0.95) : this.chance(0.4)) out[k] = this.value(p, depth + 1, k);
        }
        if (!v && this.chance(0.1)) out[this.pick(['promt', 'Backend', 'foo', 'tools'])] = 1;
        return out;
      }
    }
  }
}

const POST_OPS: [string, string][] = [
  ['/api/v1/prompt', 'executePrompt'],
  ['/api/v1/prompt/stream', 'streamPrompt'],
  ['/api/v1/parallel', 'executeParallel'],
  ['/api/v1/chain', 'executeChain'],
  ['/api/v1/compare', 'executeCompare'],
  ['/openai/v1/chat/completions', 'openaiChatCompletions'],
  ['/anthropic/v1/messages', 'anthropicCreateMessage'],
];

function requestSchema(path: string): Schema {
  return doc.paths[path].post.requestBody.content['application/json'].schema;
}

/** supertest parser: every body as text (NDJSON is not buffered by default). */
function textBody(res: request.Response, cb: (err: Error | null, body: string) => void): void {
  const stream = res as unknown as NodeJS.ReadableStream;
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (text += chunk));
  stream.on('end', () => cb(null, text));
}

let t: TestApp;
beforeAll(async () => {
  t = await makeTestApp({ unified_flags: { dry_run: true } });
});
afterAll(() => t.close());

test.each(POST_OPS)('fuzz POST %s: no 5xx, every response in the contract', async (path, operationId) => {
  const gen = new Gen(prng(path.length * 7919));
  const schema = requestSchema(path);
  const statuses = new Map<number, number>();
  let streams = 0;
  for (let i = 0; i < 60; i++) {
    gen.valid = i % 3 === 0;
    const body = gen.value(schema);
    const res = await request(t.app)
      .post(path)
      .send(JSON.stringify(body))
      .set('Content-Type', 'application/json')
      .buffer(true)
      .parse(textBody);
    const text = res.body as string;
    const type = String(res.headers['content-type'] ?? '');
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500 && res.status !== 503)
      throw new Error(`${res.status} for ${JSON.stringify(body).slice(0, 500)}: ${text}`);
    if (type.startsWith('application/json')) expectMatchesSpec(operationId, res.status, JSON.parse(text));
    else {
      // streams (streamPrompt, executePrompt with output_format stream-json, compat stream: true):
      // every event against the schema the contract names for it
      expect(type).toMatch(/^(application\/x-ndjson|text\/event-stream)/);
      expectStreamMatchesSpec(operationId, res.status, type, text);
      streams++;
    }
  }
  // The generator reaches both accepted and rejected requests.
  expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
  expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
  // the stream operation streams whenever it accepts a request
  if (operationId === 'streamPrompt') expect(streams).toBe(statuses.get(200));
  // executePrompt's output_format stream-json case is read as an NDJSON stream (one minimal body
  // makes sure the case is reached whatever the seed generated)
  if (operationId === 'executePrompt') {
    const res = await request(t.app)
      .post(path)
      .send(JSON.stringify({ backend: 'claude', prompt: 'x', output_format: 'stream-json' }))
      .set('Content-Type', 'application/json')
      .buffer(true)
      .parse(textBody);
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^application\/x-ndjson/);
    expectStreamMatchesSpec(operationId, res.status, String(res.headers['content-type']), res.body as string);
  }
  expect(t.starts()).toEqual([]);
});

test('fuzz GET /api/v1/sessions query parameters', async () => {
  const gen = new Gen(prng(42));
  for (let i = 0; i < 40; i++) {
    const q = new URLSearchParams();
    for (const name of ['backend', 'status', 'limit', 'offset', 'x']) {
      if (gen.chance(0.5))
        q.append(name, String(gen.pick(['claude', 'error', '0', '1', '1000', '1001', '-1', 'abc', '', '%00'])));
    }
    const res = await request(t.app).get(`/api/v1/sessions?${q.toString()}`);
    expect(res.status).toBeLessThan(500);
    expectMatchesSpec('listSessions', res.status, res.body);
  }
});

test('unified_flags.dry_run: every execution is a dry run, even with "dry_run": false', async () => {
  for (const [path, body] of [
    ['/api/v1/prompt', { backend: 'claude', prompt: 'hi', dry_run: false }],
    ['/api/v1/parallel', { tasks: [{ backend: 'claude', prompt: 'hi' }], dry_run: false }],
    ['/api/v1/chain', { steps: [{ backend: 'codex', prompt: 'hi' }], dry_run: false }],
    ['/api/v1/compare', { backends: ['gemini'], prompt: 'hi', dry_run: false }],
  ] as const) {
    const res = await request(t.app).post(path).send(body);
    expect(res.status).toBe(200);
  }
  expect(t.starts()).toEqual([]);
});
