/**
 * The examples of the OpenAPI documents: every request body and every operation's main (first 2xx)
 * JSON response has one, each validates against its schema, and every request example is accepted
 * by the server as is (so /docs "Try it out" sends a valid body), answering what the contract says.
 */
import request from 'supertest';
import { contractDocument, expectMatchesSpec, expectValidSchema } from '../helpers/contract';
import { makeTestApp, type TestApp } from '../helpers/server';

type AnyObject = Record<string, any>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const doc = contractDocument();

interface Op {
  id: string;
  method: string;
  path: string;
  op: AnyObject;
}

const ops: Op[] = Object.entries(doc.paths as AnyObject).flatMap(([p, item]) =>
  METHODS.filter((m) => item[m]).map((m) => ({ id: item[m].operationId as string, method: m, path: p, op: item[m] })),
);

/** Follows a local `$ref` (`#/components/...`). */
function deref(node: AnyObject): AnyObject {
  let n = node;
  while (n?.$ref)
    n = n.$ref
      .split('/')
      .slice(1)
      .reduce((o: AnyObject, k: string) => o[k], doc);
  return n;
}

function refName(schema: AnyObject): string {
  if (typeof schema?.$ref !== 'string') throw new Error(`not a $ref: ${JSON.stringify(schema)}`);
  return schema.$ref.split('/').pop()!;
}

const withBody = ops.filter((o) => deref(o.op.requestBody ?? {})?.content?.['application/json']);

/** The operation's main answer: its 202 when it has one (createJob), else its first 2xx with a JSON body. */
function mainResponse(o: Op): { status: number; media: AnyObject } | undefined {
  const entries = Object.entries(o.op.responses as AnyObject).sort(([a], [b]) =>
    a === '202' ? -1 : b === '202' ? 1 : a.localeCompare(b),
  );
  for (const [status, r] of entries) {
    if (!/^2\d\d$/.test(status)) continue;
    const media = deref(r)?.content?.['application/json'];
    if (media) return { status: Number(status), media };
  }
  return undefined;
}

// The OpenAPI document itself is its own example.
const NO_RESPONSE_EXAMPLE = new Set(['getOpenApiJson']);

describe('examples in the OpenAPI documents', () => {
  test('every request body has an example that validates against its schema', () => {
    expect(withBody.length).toBeGreaterThanOrEqual(9);
    const missing: string[] = [];
    for (const o of withBody) {
      const media = deref(o.op.requestBody).content['application/json'];
      if (media.example === undefined) {
        missing.push(o.id);
        continue;
      }
      expectValidSchema(refName(media.schema), media.example);
    }
    expect(missing).toEqual([]);
  });

  test("every operation's main JSON response has an example that matches the contract", () => {
    const missing: string[] = [];
    let checked = 0;
    for (const o of ops) {
      const main = mainResponse(o);
      if (!main || NO_RESPONSE_EXAMPLE.has(o.id)) continue;
      if (main.media.example === undefined) {
        missing.push(`${o.id} ${main.status}`);
        continue;
      }
      expectMatchesSpec(o.id, main.status, main.media.example);
      checked += 1;
    }
    expect(missing).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(25);
  });
});

describe('request examples sent to the server as they are (fake CLIs)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(() => t.close());

  test.each(withBody.map((o) => [o.id, o] as const))('%s', async (_id, o) => {
    const media = deref(o.op.requestBody).content['application/json'];
    expect(o.method).toBe('post'); // every operation with a request body is a POST
    const res = await request(t.app)
      .post(o.path)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(media.example));
    const main = mainResponse(o);
    const expected = main?.status ?? 200;
    expect([res.status, res.status === expected ? '' : res.text]).toEqual([expected, '']);
    const type = res.headers['content-type'] ?? '';
    if (type.startsWith('application/json')) {
      expectMatchesSpec(o.id, res.status, res.body);
    } else {
      // The stream operation: NDJSON events ending with `done`.
      expect(type).toMatch(/^application\/x-ndjson/);
      const events = res.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string });
      for (const ev of events) expectValidSchema('NativeStreamEvent', ev);
      expect(events[events.length - 1]!.type).toBe('done');
    }
  });
});
