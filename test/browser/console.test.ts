/**
 * The operator console in Chromium against a real server with the fake CLIs: a 401 asks for a key,
 * the overview shows the backends, a streamed prompt arrives incrementally, a job's events follow live
 * and resume after a reload without gaps or duplicates, cancel, continuing a session. Every page
 * must log no console error and send no request to another origin.
 */
import type { Browser, Page } from 'playwright-core';
import type { TestServer } from '../helpers/server';
import { KEY_ADMIN } from '../helpers/keys';
import { launch, openTab, shot, startServer, type Tab } from './harness';

let browser: Browser;
let srv: TestServer;
let tab: Tab;
let page: Page;

beforeAll(async () => {
  [browser, srv] = await Promise.all([launch(), startServer()]);
  tab = await openTab(browser, srv.url);
  page = tab.page;
});

afterAll(async () => {
  await tab?.close();
  await browser?.close();
  await srv?.close();
});

/**
 * Errors the browser itself logs for failed responses the flows provoke on purpose: the 401s of the
 * first flow, and a 404 for /api/v1/me on a server without it.
 */
function unexpectedErrors(): string[] {
  let meMissing = tab.responses.filter((r) => r.status === 404 && new URL(r.url).pathname === '/api/v1/me').length;
  return tab.errors.filter((m) => {
    if (/status of 401/.test(m)) return false;
    if (/status of 404/.test(m) && meMissing > 0) {
      meMissing -= 1;
      return false;
    }
    return true;
  });
}

afterEach(async () => {
  if (process.env.CONSOLE_DEBUG) {
    await shot(page, `debug-${expect.getState().currentTestName?.slice(0, 20)}`);
    console.log(
      tab.errors,
      tab.requests.map((r) => r.url),
    );
  }
  expect(tab.foreign).toEqual([]);
  expect(unexpectedErrors()).toEqual([]);
  // the key is only ever sent in a header
  expect(tab.requests.filter((r) => r.url.includes(KEY_ADMIN))).toEqual([]);
  tab.errors.length = 0;
  tab.responses.length = 0;
  tab.foreign.length = 0;
});

test('without a key the console asks for one (401), then the overview shows health and the backends', async () => {
  const res = await page.goto(`${srv.url}/console`);
  expect(res!.status()).toBe(200);
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await expect(dialog.textContent()).resolves.toContain('This server needs an API key.');
  await page.fill('#api-key', KEY_ADMIN);
  await page.getByRole('button', { name: 'Use key' }).click();
  await dialog.waitFor({ state: 'detached' });

  await page.locator('#backends tr[data-backend="gemini"]').waitFor();
  expect(
    await page.locator('#backends tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-backend'))),
  ).toEqual(['claude', 'codex', 'gemini']);
  // versions come from a background probe of each executable: they show up on a later refresh
  await page.waitForFunction(
    () => document.querySelector('#backends tr[data-backend="claude"] .version')?.textContent?.includes('2.1.197'),
    undefined,
    { timeout: 20000 },
  );
  await page.locator('#health').getByText('Version').waitFor();
  // every API call carried the key in the Authorization header
  const api = tab.requests.filter((r) => new URL(r.url).pathname.startsWith('/api/v1/') && r.headers.authorization);
  expect(api.length).toBeGreaterThan(0);
  expect(api.every((r) => r.headers.authorization === `Bearer ${KEY_ADMIN}`)).toBe(true);
  await shot(page, 'overview');
});

test('Playground: a streamed prompt shows its text while it arrives', async () => {
  await page.goto(`${srv.url}/console#/playground`);
  await page.locator('#p-backend').waitFor();
  await page.selectOption('#p-backend', 'claude');
  await page.check('#p-mode-stream');
  await page.fill('#p-prompt', 'hello console [SLOW:250]');
  // every distinct text the output element shows, in order
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    new MutationObserver(() => {
      const t = document.querySelector('#p-output')?.textContent ?? '';
      if (t && seen[seen.length - 1] !== t) seen.push(t);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.click('#p-run');
  await page.locator('#p-status[data-state="done"]').waitFor({ timeout: 30000 });
  const final = await page.locator('#p-output').textContent();
  expect(final).toMatch(/^MOCK-REPLY: [0-9a-f]{12}$/);
  const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
  // the reply arrived in pieces: an earlier, shorter prefix of the final text was on screen first
  expect(seen.length).toBeGreaterThanOrEqual(2);
  expect(seen[0]!.length).toBeLessThan(final!.length);
  expect(final!.startsWith(seen[0]!)).toBe(true);
  await shot(page, 'playground');

  await page.click('#p-dry');
  await page.locator('#p-argv li').first().waitFor();
  const argv = await page.locator('#p-argv li').allTextContents();
  expect(argv[0]).toMatch(/\/claude$/);
  expect(argv).toContain('hello console [SLOW:250]');
});

test('Jobs: a job follows its events live, a reload mid-run resumes without gaps or duplicates', async () => {
  await page.goto(`${srv.url}/console#/playground`);
  await page.locator('#p-backend').waitFor();
  await page.selectOption('#p-backend', 'claude');
  await page.check('#p-mode-job');
  await page.fill('#p-prompt', 'a long job [TOOL] [SLOW:400]');
  await page.click('#p-run');
  await page.waitForURL(/#\/jobs\/[0-9a-f]{32}$/);
  const id = page.url().split('/').pop()!;
  // live: some events are on screen while the job still runs
  await page.locator('#job-events tr[data-seq="3"]').waitFor({ timeout: 20000 });
  await page.locator('#job-status[data-status="running"]').waitFor();
  const before = await seqs(page);
  expect(before.length).toBeGreaterThanOrEqual(3);
  const elapsed1 = await page.locator('#job-elapsed').textContent();
  expect(elapsed1).toMatch(/^\d+s$/);

  const mark = tab.requests.length;
  await page.reload();
  await page.locator('#job-status[data-status="succeeded"]').waitFor({ timeout: 30000 });
  await page.locator('#job-events tr[data-type="done"]').waitFor();
  const after = await seqs(page);
  // every sequence exactly once, 1..n, and n is what the server stored
  expect(after).toEqual(Array.from({ length: after.length }, (_, i) => i + 1));
  const job = (await (
    await fetch(`${srv.url}/api/v1/jobs/${id}`, { headers: { Authorization: `Bearer ${KEY_ADMIN}` } })
  ).json()) as {
    data: { events: { count: number; last_sequence: number } };
  };
  expect(after.length).toBe(job.data.events.last_sequence);
  // the reloaded page asked only for what it had not seen yet
  const resumed = tab.requests.slice(mark).filter((r) => r.url.endsWith(`/api/v1/jobs/${id}/events`));
  expect(resumed.length).toBeGreaterThanOrEqual(1);
  const lastId = Number(resumed[0]!.headers['last-event-id']);
  expect(lastId).toBeGreaterThanOrEqual(before.length);
  expect(resumed[0]!.headers.accept).toBe('text/event-stream');
  // the latest tool call and the output
  await expect(page.locator('#job-last-tool').textContent()).resolves.toContain('Bash');
  await expect(page.locator('#job-output').textContent()).resolves.toMatch(/MOCK-REPLY: [0-9a-f]{12}/);
  await expect(page.locator('#job-event-count').textContent()).resolves.toBe(String(after.length));
  await shot(page, 'job');

  await page.goto(`${srv.url}/console#/jobs`);
  await page.locator(`#jobs tr[data-job="${id}"]`).waitFor();
  await page.selectOption('#f-status', 'failed');
  await page.locator(`#jobs tr[data-job="${id}"]`).waitFor({ state: 'detached' });
  await page.selectOption('#f-status', 'succeeded');
  await page.locator(`#jobs tr[data-job="${id}"]`).waitFor();
  await shot(page, 'jobs');
});

test('Jobs: Cancel stops a running job; the overview lists running executions and cancels them', async () => {
  await page.goto(`${srv.url}/console#/playground`);
  await page.locator('#p-backend').waitFor();
  await page.check('#p-mode-job');
  await page.fill('#p-prompt', 'sleeping job [SLEEP:60000]');
  await page.click('#p-run');
  await page.waitForURL(/#\/jobs\/[0-9a-f]{32}$/);
  await page.locator('#job-status[data-status="running"]').waitFor({ timeout: 20000 });
  await page.click('#job-cancel');
  await page.locator('#job-status[data-status="canceled"]').waitFor({ timeout: 20000 });
  await page.locator('#job-events tr[data-type="error"]').getByText('canceled').waitFor();

  // a second one, cancelled from the overview's list of running executions
  await page.goto(`${srv.url}/console#/playground`);
  await page.locator('#p-backend').waitFor();
  await page.click('#p-run');
  await page.waitForURL(/#\/jobs\/[0-9a-f]{32}$/);
  const id = page.url().split('/').pop()!;
  await page.goto(`${srv.url}/console#/overview`);
  const row = page.locator('#executions tr', { has: page.locator(`a[href="#/jobs/${id}"]`) });
  await row.waitFor({ timeout: 20000 });
  await row.getByRole('button', { name: 'Cancel' }).click();
  await row.waitFor({ state: 'detached', timeout: 20000 });
  const job = (await (
    await fetch(`${srv.url}/api/v1/jobs/${id}`, { headers: { Authorization: `Bearer ${KEY_ADMIN}` } })
  ).json()) as {
    data: { status: string };
  };
  expect(job.data.status).toBe('canceled');
});

test('Sessions: list, detail, and continuing a session streams the answer', async () => {
  await page.goto(`${srv.url}/console#/sessions`);
  await page.locator('#sessions tbody tr').first().waitFor();
  await shot(page, 'sessions');
  await page.fill('#s-text', 'hello console');
  const row = page.locator('#sessions tbody tr');
  await expect(row.count()).resolves.toBe(1);
  await row.first().locator('a').click();
  await page.locator('#session-turns').waitFor();
  const turns = Number(await page.locator('#session-turns').textContent());
  await page.fill('#continue-prompt', 'and once more [SLOW:150]');
  await page.click('#continue-run');
  await page.locator('#continue-status[data-state="done"]').waitFor({ timeout: 30000 });
  await expect(page.locator('#continue-output').textContent()).resolves.toMatch(/^MOCK-REPLY: [0-9a-f]{12}$/);
  await page.waitForFunction((n) => Number(document.querySelector('#session-turns')?.textContent) === n + 1, turns);
  await shot(page, 'session');
});

test('agent output and API strings are text; the Markdown view is sanitized (no raw HTML, no script runs)', async () => {
  const evil =
    'pwned **bold** <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> [x](javascript:window.__pwned=3)';
  await page.goto(`${srv.url}/console#/playground`);
  await page.locator('#p-backend').waitFor();
  await page.check('#p-mode-stream');
  await page.check('#p-dryrun');
  await page.fill('#p-prompt', evil);
  await page.click('#p-run');
  await page.locator('#p-status[data-state="done"]').waitFor({ timeout: 20000 });
  // as text: the characters as they are
  await expect(page.locator('#p-output').textContent()).resolves.toContain('<img src=x onerror="window.__pwned=1">');
  // as Markdown: formatting survives, markup does not
  await page.getByLabel('Render Markdown').check();
  await page.locator('#p-output strong').getByText('bold').waitFor();
  expect(await page.locator('#p-output img, #p-output script, #p-output [onerror]').count()).toBe(0);
  // raw HTML in the Markdown shows as its characters
  await expect(page.locator('#p-output').textContent()).resolves.toContain('<img src=x onerror=');
  const hrefs = await page.locator('#p-output a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  expect(hrefs.filter((h) => h && /^javascript:/i.test(h))).toEqual([]);
  await page.uncheck('#p-dryrun');

  // the dry run's session shows the prompt as text in the list
  await page.goto(`${srv.url}/console#/sessions`);
  await page.fill('#s-text', 'pwned');
  await expect(page.locator('#sessions tbody tr td.clip').first().textContent()).resolves.toBe(evil);
  expect(await page.locator('img').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});

test('phone-sized viewport: pages fit the width, navigation stays reachable', async () => {
  const phone = await openTab(browser, srv.url, { width: 390, height: 844 });
  try {
    await phone.page.goto(`${srv.url}/console#/playground`);
    await phone.page.fill('#api-key', KEY_ADMIN);
    await phone.page.getByRole('button', { name: 'Use key' }).click();
    await phone.page.locator('#p-backend').waitFor();
    for (const p of ['playground', 'overview', 'jobs', 'sessions']) {
      await phone.page.getByRole('link', { name: p[0]!.toUpperCase() + p.slice(1), exact: true }).click();
      await phone.page.locator(`#page-${p}`).waitFor();
      const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect([p, overflow]).toEqual([p, 0]);
    }
    await phone.page.locator('#backends, #jobs, #sessions').first().waitFor();
    await shot(phone.page, 'phone-sessions');
    expect(phone.foreign).toEqual([]);
    expect(phone.errors.filter((m) => !/status of 401/.test(m) && !/status of 404/.test(m))).toEqual([]);
  } finally {
    await phone.close();
  }
});

/** The sequence numbers of the events table, in order. */
function seqs(p: Page): Promise<number[]> {
  return p.locator('#job-events tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-seq'))));
}
