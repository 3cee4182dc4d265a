import { createOpenApi } from '../../../src/http/openapi';
import { LruCache, OperationTable, ROUTE_CACHE_SIZE } from '../../../src/http/routing';

async function table(): Promise<OperationTable> {
  return new OperationTable(await createOpenApi({}));
}

describe('OperationTable', () => {
  it('routes like openapi-backend, with the path parameters of the exact path (also when cached)', async () => {
    const t = await table();
    const api = await createOpenApi({});
    const cases: [string, string][] = [
      ['GET', '/health'],
      ['GET', '/api/v1/sessions'],
      ['GET', '/api/v1/sessions/abc123'],
      ['DELETE', '/api/v1/sessions/abc123'],
      ['GET', '/api/v1/jobs/j1/events'],
      ['POST', '/api/v1/jobs/j1/cancel'],
      ['GET', '/openai/v1/models/claude'],
      ['GET', '/anthropic/v1/v1/models/m%20x'],
      ['POST', '/api/v1/prompt'],
    ];
    for (const [method, path] of cases) {
      const expected = api.router.matchOperation({ method, path, headers: {} })!;
      const parsed = api.router.parseRequest({ method, path, headers: {} }, expected);
      for (let i = 0; i < 2; i++) {
        const m = t.match(method, path);
        expect(m.kind).toBe('operation');
        if (m.kind !== 'operation') continue;
        expect(m.op.operationId).toBe(expected.operationId);
        expect(m.op.path).toBe(expected.path);
        expect(m.params).toEqual(parsed.params);
      }
    }
    // different ids on one template never share parameters
    const a = t.match('GET', '/api/v1/sessions/aaa');
    const b = t.match('GET', '/api/v1/sessions/bbb');
    expect(a.kind === 'operation' && a.params).toEqual({ id: 'aaa' });
    expect(b.kind === 'operation' && b.params).toEqual({ id: 'bbb' });
    expect(t.match('HEAD', '/health')).toBe(t.match('GET', '/health'));
  });

  it('answers 405 with the allowed methods and 404 for unknown paths', async () => {
    const t = await table();
    expect(t.match('POST', '/health')).toEqual({
      kind: 'method_not_allowed',
      allowed: ['GET', 'HEAD'],
      route: '/health',
    });
    expect(t.match('PUT', '/api/v1/sessions/x')).toEqual({
      kind: 'method_not_allowed',
      allowed: ['GET', 'HEAD', 'DELETE'],
      route: '/api/v1/sessions/{id}',
    });
    expect(t.match('GET', '/nope')).toEqual({ kind: 'not_found' });
    expect(t.match('GET', '/api/v1/sessions/')).toEqual({ kind: 'not_found' });
  });

  it('reports path segments that are not valid percent-encoding', async () => {
    const t = await table();
    const m = t.match('GET', '/api/v1/sessions/%ff');
    expect(m.kind === 'operation' && m.malformed).toEqual([
      { path: 'path.id', message: 'must be valid percent-encoded UTF-8' },
    ]);
  });

  it('keeps at most ROUTE_CACHE_SIZE answers', async () => {
    const t = await table();
    for (let i = 0; i < ROUTE_CACHE_SIZE + 50; i++) t.match('GET', `/api/v1/sessions/${i.toString(16)}`);
    expect(t.cachedRoutes).toBe(ROUTE_CACHE_SIZE);
    expect(t.match('GET', '/api/v1/sessions/0')).toMatchObject({ params: { id: '0' } });
  });

  it('validates declared query parameters with coercion and ignores undeclared ones', async () => {
    const t = await table();
    const m = t.match('GET', '/api/v1/sessions');
    if (m.kind !== 'operation') throw new Error('not routed');
    const ok = t.validate(m.op, m.params, { limit: '5', other: 'x' }, {}, undefined, 'GET', '/api/v1/sessions');
    expect(ok.errors).toBeNull();
    expect(ok.context.request.query).toEqual({ limit: 5 });
    const bad = t.validate(m.op, m.params, { limit: 'many' }, {}, undefined, 'GET', '/api/v1/sessions');
    expect(bad.errors?.map((e) => e.instancePath)).toEqual(['/query/limit']);
  });
});

describe('LruCache', () => {
  it('drops the least recently used entry', () => {
    const c = new LruCache<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1);
    c.set('c', 3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
  });
});
