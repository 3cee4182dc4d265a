/**
 * The README quickstart works as written: every curl command of the README runs against a server
 * with the fake CLIs, succeeds, and answers JSON of the same shape as the output the README shows.
 * (test/e2e/readme.test.ts does the same with the real CLIs.)
 */
import { spawnSync } from 'node:child_process';
import { runReadmeCurls } from '../helpers/readme';
import { makeTestServer, type TestServer } from '../helpers/server';

const hasCurl = spawnSync('curl', ['--version']).status === 0;

(hasCurl ? describe : describe.skip)('README quickstart', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await makeTestServer();
  });
  afterAll(() => s.close());

  test('every curl command works and answers what the README shows', async () => {
    const { ran } = await runReadmeCurls(s.url);
    expect(ran).toBeGreaterThanOrEqual(6);
  });
});
