/**
 * The operator console in Chromium against a real server with the fake CLIs: a 401 asks for a key,
 * the overview shows the backends, a streamed prompt arrives incrementally, a job's events follow live
 * and resume after a reload without gaps or duplicates, cancel, continuing a session, usage charts
 * (admin and user views), a 429 that says when to retry, hostile text rendered safely. Every page
 * must log no console error and send no request to another origin.
 */
import type { Browser, Page } from 'playwright-core';
import { makeTestServer, waitFor, type TestServer } from '../helpers/server';
import { KEY_A, KEY_ADMIN, KEY_B } from '../helpers/keys';
import { launch, openTab, shot, startServer, type Tab } from './harness';

let browser: Browser;
let srv: TestServer;
let tab: Tab;
let page: Page;

beforeAll(async () => {
  [browser, srv] = await Promise.all([launch(), startServer()]);
  // the flows after the first start with the admin key already entered in this tab
  tab = await openTab(browser, srv.url, { key: KEY_ADMIN });
  page = tab.page;
});

afterAll(async () => {
  await tab?.close();
  await browser?.close();
  await srv?.close();
});

afterEach(async () => {
  if (process.env.CONSOLE_DEBUG) {
    await shot(page, `debug-${expect.getState().currentTestName?.slice(0, 20)}`);
    console.log(
      tab.errors,
      tab.requests.map((r) => r.url),
    );
  }
  expect(tab.foreign).toEqual([]);
  expect(tab.errors).toEqual([]);
  // the key is only ever sent in a header
  expect(tab.requests.filter((r) => r.url.includes(KEY_ADMIN))).toEqual([]);
  tab.errors.length = 0;
  tab.foreign.length = 0;
});

test('without a key the console asks for one (401), then the overview shows health and the backends', async () => {
  const fresh = await openTab(browser, srv.url);
  try {
    await firstVisit(fresh);
  } finally {
    await fresh.close();
  }
});

async function firstVisit(t: Tab): Promise<void> {
  const page = t.page;
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
    { timeout: 30000 },
  );
  await page.locator('#health').getByText('Version').waitFor();
  await page.locator('#whoami').getByText('ops (admin)').waitFor();
  // every API call carried the key in the Authorization header
  const api = t.requests.filter((r) => new URL(r.url).pathname.startsWith('/api/v1/') && r.headers.authorization);
  expect(api.length).toBeGreaterThan(0);
  expect(api.every((r) => r.headers.authorization === `Bearer ${KEY_ADMIN}`)).toBe(true);
  await shot(page, 'overview');
  expect(t.foreign).toEqual([]);
  // the browser logs the 401 answers that made the console ask for a key; nothing else
  expect(t.errors.filter((m) => !/status of 401/.test(m))).toEqual([]);
  expect(t.requests.filter((r) => r.url.includes(KEY_ADMIN))).toEqual([]);
}

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
  await page.fill('#p-prompt', 'a long job [TOOL] [SLOW:700]');
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
  await shot(page, 'overview-running');
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
  await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 1);
  const row = page.locator('#sessions tbody tr');
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
  await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 1);
  await expect(page.locator('#sessions tbody tr td.clip').textContent()).resolves.toBe(evil);
  expect(await page.locator('img').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});

test('Usage: charts of requests and tokens per day by backend, the table by key and backend; a user key sees only itself', async () => {
  // a run of another (user) key, so that the admin's table has two keys
  const run = await fetch(`${srv.url}/api/v1/prompt`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY_A}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ backend: 'codex', prompt: 'usage of team-a' }),
  });
  expect(run.status).toBe(200);
  // records are written after the responses (batched): wait until the server counts both keys
  const byKey = await waitFor(async () => {
    const u = await api<{ rows: { key: string; backend: string; requests: number }[]; totals: { requests: number } }>(
      '/api/v1/usage?group_by=key,backend',
    );
    return u.rows.some((r) => r.key === 'team-a') && u.rows.some((r) => r.key === 'ops') ? u : undefined;
  }, 30000);
  const perDay = await api<{ rows: { requests: number; input_tokens: number; output_tokens: number }[] }>(
    '/api/v1/usage?group_by=day,backend',
  );

  await page.goto(`${srv.url}/console#/usage`);
  await page.locator('#usage-scope').getByText('Admin key: usage of every key.').waitFor();
  await page.locator('#chart-requests rect.segment').first().waitFor();
  const sum = (sel: string) =>
    page.locator(sel).evaluateAll((rs) => rs.reduce((a, r) => a + Number(r.getAttribute('data-value')), 0));
  // the bars add up to what the API reports, and both charts have drawn segments
  expect(await sum('#chart-requests rect.segment')).toBe(perDay.rows.reduce((a, r) => a + r.requests, 0));
  expect(await sum('#chart-tokens rect.segment')).toBe(
    perDay.rows.reduce((a, r) => a + r.input_tokens + r.output_tokens, 0),
  );
  const series = await page
    .locator('#chart-requests rect.segment')
    .evaluateAll((rs) => [...new Set(rs.map((r) => r.getAttribute('data-series')))].sort());
  expect(series).toEqual(['claude', 'codex']);
  for (const r of byKey.rows) {
    const row = page.locator(`#usage-table tr[data-key="${r.key}"][data-backend="${r.backend}"]`);
    await expect(row.locator('td').nth(2).textContent()).resolves.toBe(r.requests.toLocaleString('en-US'));
  }
  // an admin may narrow to one key
  await page.selectOption('#u-key', 'team-a');
  await page.locator('#usage-table tr[data-key="ops"]').waitFor({ state: 'detached' });
  await page.selectOption('#u-key', '');
  await page.locator('#usage-table tr[data-key="ops"]').first().waitFor();
  await shot(page, 'usage');

  const user = await openTab(browser, srv.url);
  try {
    await user.page.goto(`${srv.url}/console#/usage`);
    await user.page.fill('#api-key', KEY_A);
    await user.page.getByRole('button', { name: 'Use key' }).click();
    await user.page.locator('#usage-scope').getByText('Usage of your key (team-a).').waitFor();
    await user.page.locator('#usage-table tbody tr').first().waitFor();
    const keys = await user.page
      .locator('#usage-table tbody tr')
      .evaluateAll((rs) => [...new Set(rs.map((r) => r.getAttribute('data-key')))]);
    expect(keys).toEqual(['team-a']);
    expect(await user.page.locator('#u-key').count()).toBe(0);
    await user.page.locator('#chart-requests rect.segment[data-series="codex"]').first().waitFor();
    expect(await user.page.locator('#chart-requests rect.segment[data-series="claude"]').count()).toBe(0);
    expect(user.foreign).toEqual([]);
    expect(user.errors.filter((m) => !/status of 401/.test(m))).toEqual([]);
  } finally {
    await user.close();
  }
});

test('a 429 says when to retry (a user key whose daily quota is used up)', async () => {
  const first = await fetch(`${srv.url}/api/v1/prompt`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY_B}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ backend: 'gemini', prompt: 'the one run of team-b', ephemeral: true }),
  });
  expect(first.status).toBe(200);
  const user = await openTab(browser, srv.url);
  try {
    await user.page.goto(`${srv.url}/console#/playground`);
    await user.page.fill('#api-key', KEY_B);
    await user.page.getByRole('button', { name: 'Use key' }).click();
    await user.page.locator('#whoami').getByText('team-b (user)').waitFor();
    await user.page.check('#p-mode-stream');
    await user.page.fill('#p-prompt', 'one more');
    await user.page.click('#p-run');
    const alert = user.page.locator('.error[data-status="429"]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/\(quota_exceeded\) — retry in \d+ s/);
    expect(user.foreign).toEqual([]);
    expect(user.errors.filter((m) => !/status of (401|429)/.test(m))).toEqual([]);
  } finally {
    await user.close();
  }
});

test('phone-sized viewport: pages fit the width, navigation stays reachable', async () => {
  const phone = await openTab(browser, srv.url, { viewport: { width: 390, height: 844 } });
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

test('with auth off (no keys configured) the console needs no key', async () => {
  const open = await makeTestServer();
  const t = await openTab(browser, open.url);
  try {
    await t.page.goto(`${open.url}/console#/overview`);
    await t.page.locator('#backends tr[data-backend="codex"]').waitFor();
    await t.page.locator('#whoami').getByText('anonymous (admin)').waitFor();
    expect(await t.page.getByRole('dialog').count()).toBe(0);
    expect(await t.page.locator('#key-button').count()).toBe(0);
    expect(t.requests.filter((r) => r.headers.authorization !== undefined)).toEqual([]);
    expect(t.foreign).toEqual([]);
    expect(t.errors).toEqual([]);
  } finally {
    await t.close();
    await open.close();
  }
});

/** A JSON call as the admin key (the envelope's data). */
async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${srv.url}${path}`, { headers: { Authorization: `Bearer ${KEY_ADMIN}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: T }).data;
}

/** The sequence numbers of the events table, in order. */
function seqs(p: Page): Promise<number[]> {
  return p.locator('#job-events tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-seq'))));
}
