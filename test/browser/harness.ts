/**
 * Browser harness: Debian Chromium driven by playwright-core (never a downloaded browser), a clinvk
 * server with the fake CLIs and named keys, and a page that records console errors, page errors and
 * every request — requests to another origin are aborted and reported.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { FAKE_BIN, makeTestServer, type TestServer } from '../helpers/server';
import { teamKeys } from '../helpers/keys';

export const ARTIFACTS = path.resolve(__dirname, '../../.tmp/browser');

/** The Chromium to drive: $CHROMIUM_PATH, else the Debian package's /usr/bin/chromium. */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
    (p): p is string => !!p,
  );
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error('chromium not found: install the Debian package (apt-get install -y chromium)');
  return found;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--disable-gpu'] });
}

/**
 * A server with named keys (team-a, team-b, ops) whose backends are the fake CLIs, reached through
 * links in a temp directory (so screenshots show a neutral path, not this checkout's).
 */
export async function startServer(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const bin = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-console-')), 'bin');
  fs.mkdirSync(bin);
  const backends: Record<string, { command: string }> = {};
  for (const name of ['claude', 'codex', 'gemini']) {
    fs.symlinkSync(path.join(FAKE_BIN, name), path.join(bin, name));
    backends[name] = { command: path.join(bin, name) };
  }
  // team-b may start one execution per day (the quota flow)
  const keys = teamKeys({ 'team-b': { requests_per_day: 1 } });
  const srv = await makeTestServer({ auth: { keys }, backends, ...overrides });
  const close = srv.close;
  srv.close = async () => {
    await close();
    fs.rmSync(path.dirname(bin), { recursive: true, force: true });
  };
  return srv;
}

export interface RecordedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
}

export interface Tab {
  context: BrowserContext;
  page: Page;
  /** Console messages of type error and uncaught page errors. */
  errors: string[];
  requests: RecordedRequest[];
  /** Requests to any other origin (aborted). */
  foreign: string[];
  close(): Promise<void>;
}

/** A fresh browser context on the console; `key` is put into its sessionStorage as if typed earlier. */
export async function openTab(
  browser: Browser,
  base: string,
  opts: { viewport?: { width: number; height: number }; key?: string } = {},
): Promise<Tab> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1280, height: 860 },
    colorScheme: 'light',
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  if (opts.key) await context.addInitScript((k) => sessionStorage.setItem('clinvk.console.key', k), opts.key);
  const origin = new URL(base).origin;
  const tab: Tab = {
    context,
    page: undefined as unknown as Page,
    errors: [],
    requests: [],
    foreign: [],
    close: () => context.close(),
  };
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (new URL(url).origin !== origin) {
      tab.foreign.push(url);
      await route.abort();
    } else {
      await route.continue();
    }
  });
  const page = await context.newPage();
  tab.page = page;
  page.on('console', (m) => {
    if (m.type() === 'error') tab.errors.push(m.text());
  });
  page.on('pageerror', (e) => tab.errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    const rec: RecordedRequest = { url: r.url(), method: r.method(), headers: {} };
    tab.requests.push(rec);
    r.allHeaders().then(
      (h) => (rec.headers = h),
      () => undefined,
    );
  });
  return tab;
}

/** Saves a screenshot under .tmp/browser/ (a test artifact, never committed by the run). */
export async function shot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}
