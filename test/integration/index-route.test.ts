/**
 * `GET /`: a small JSON index pointing a newcomer at /docs, /openapi.json and /health (and the
 * console when it is served); no key needed; in the contract.
 */
import request from 'supertest';
import { expectMatchesSpec } from '../helpers/contract';
import { makeTestApp, type TestApp } from '../helpers/server';

const version = (require('../../package.json') as { version: string }).version;

describe('GET /', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({}, { apiKeys: ['index-Key-123456'] });
  });
  afterAll(() => t.close());

  test('answers the index without an API key', async () => {
    const res = await request(t.app).get('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['x-request-id']).toBeDefined();
    const links: Record<string, string> = { docs: '/docs', openapi: '/openapi.json', health: '/health' };
    // The console link appears exactly when /console is served.
    const consolePage = await request(t.app).get('/console');
    if (consolePage.status === 200) links.console = '/console';
    expect(res.body).toEqual({ name: 'clinvk', version, links });
    expectMatchesSpec('getIndex', 200, res.body);
    for (const link of Object.values(links)) {
      expect([link, (await request(t.app).get(link)).status]).toEqual([link, 200]);
    }
  });

  test('HEAD / answers the same status without a body; other methods are 405', async () => {
    const head = await request(t.app).head('/');
    expect(head.status).toBe(200);
    expect(head.text ?? '').toBe('');
    const post = await request(t.app)
      .post('/')
      .set('Authorization', 'Bearer index-Key-123456')
      .set('Content-Type', 'application/json')
      .send('{}');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });
});
