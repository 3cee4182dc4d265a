import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ADAPTER_ORDER, ADAPTERS } from '../../../src/backends/adapters';
import { installCommand } from '../../../src/backends/onboarding';
import { compareSemver, inRange, parseSemver, parseVersionOutput } from '../../../src/backends/version';
import { VersionProbe, versionWarnings } from '../../../src/backends/version-probe';

const HELP = path.join(__dirname, '../../fixtures/cli-help');

describe('version parsing and ranges', () => {
  test.each(ADAPTER_ORDER)('%s: the real --version output parses to the pinned, verified version', (name) => {
    const facts = ADAPTERS[name].onboarding;
    const text = fs.readFileSync(path.join(HELP, `${name}--version.txt`), 'utf8');
    const v = parseVersionOutput(text, facts.versionPattern);
    expect(v).toBe(facts.pinnedVersion);
    expect(inRange(v!, facts.verified)).toBe(true);
    expect(installCommand(facts)).toMatch(new RegExp(`^npm install -g @[a-z-]+/[a-z-]+@${facts.pinnedVersion}$`));
  });

  test('range edges', () => {
    const r = { min: '2.1.0', below: '2.2.0', label: '2.1.x' };
    expect(inRange('2.1.0', r)).toBe(true);
    expect(inRange('2.1.999', r)).toBe(true);
    expect(inRange('2.2.0', r)).toBe(false);
    expect(inRange('2.0.9', r)).toBe(false);
    expect(inRange('garbage', r)).toBe(false);
    expect(compareSemver(parseSemver('0.171.0')!, parseSemver('0.17.0')!)).toBe(1);
    expect(parseSemver('x1.2.3')).toBeUndefined();
  });

  test('other formats do not parse as a version', () => {
    expect(parseVersionOutput('codex-cli 0.171.0\n', ADAPTERS.claude.onboarding.versionPattern)).toBeUndefined();
    expect(parseVersionOutput('Usage: gemini\n0.61.0 extra\n', ADAPTERS.gemini.onboarding.versionPattern)).toBe(
      undefined,
    );
  });
});

describe('VersionProbe', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-version-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A fake `claude` that counts its runs in `count` and prints `out`. */
  function script(body: string): string {
    const p = path.join(dir, 'claude');
    fs.writeFileSync(p, `#!/bin/sh\necho run >> "${path.join(dir, 'count')}"\n${body}\n`, { mode: 0o755 });
    return p;
  }
  const runs = () =>
    fs.existsSync(path.join(dir, 'count'))
      ? fs.readFileSync(path.join(dir, 'count'), 'utf8').split('\n').length - 1
      : 0;

  test('runs --version once per path and modification time; peek never waits', async () => {
    const p = script("echo '2.1.5 (Claude Code)'");
    const probe = new VersionProbe();
    expect(await probe.peek('claude', p)).toBeUndefined(); // started in the background
    await probe.settled();
    expect(await probe.peek('claude', p)).toEqual({ version: '2.1.5', verified: true });
    expect(await probe.get('claude', p)).toEqual({ version: '2.1.5', verified: true });
    expect(runs()).toBe(1);
    // A new binary at the same path (another modification time) is probed again.
    fs.writeFileSync(p, `#!/bin/sh\necho run >> "${path.join(dir, 'count')}"\necho '3.0.0 (Claude Code)'\n`);
    fs.utimesSync(p, new Date(), new Date(Date.now() + 5000));
    expect(await probe.get('claude', p)).toEqual({ version: '3.0.0', verified: false });
    expect(runs()).toBe(2);
    expect(versionWarnings({ version: '3.0.0', verified: false }, ADAPTERS.claude.onboarding)).toEqual([
      'version 3.0.0 is outside the verified range 2.1.x (clinvk is tested with 2.1.197; it still runs)',
    ]);
  });

  test('peek re-reads the modification time at most once per peekStatTtlMs', async () => {
    const p = script("echo '2.1.5 (Claude Code)'");
    let t = 1000;
    const probe = new VersionProbe({ peekStatTtlMs: 1000, now: () => t });
    await probe.peek('claude', p);
    await probe.settled();
    expect(await probe.peek('claude', p)).toEqual({ version: '2.1.5', verified: true });
    fs.writeFileSync(p, `#!/bin/sh\necho run >> "${path.join(dir, 'count')}"\necho '3.0.0 (Claude Code)'\n`);
    fs.utimesSync(p, new Date(), new Date(Date.now() + 5000));
    t += 999; // within the TTL: the answer of the last stat
    expect(await probe.peek('claude', p)).toEqual({ version: '2.1.5', verified: true });
    expect(runs()).toBe(1);
    t += 1; // stale: the new binary is noticed (probed in the background)
    expect(await probe.peek('claude', p)).toBeUndefined();
    await probe.settled();
    expect(await probe.peek('claude', p)).toEqual({ version: '3.0.0', verified: false });
    expect(runs()).toBe(2);
    // get() always reads the modification time
    expect(await probe.get('claude', p)).toEqual({ version: '3.0.0', verified: false });
  });

  test('a --version that hangs is killed after the limit; failures and odd output are reported', async () => {
    const slow = script('sleep 30');
    const t0 = Date.now();
    const info = await new VersionProbe({ timeoutMs: 300 }).get('claude', slow);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(info).toEqual({ error: '--version did not answer within 0.3 s' });
    const failing = script('echo boom >&2; exit 3');
    expect(await new VersionProbe().get('claude', failing)).toEqual({ error: '--version exited with 3: boom' });
    const odd = script('echo hello');
    expect(await new VersionProbe().get('claude', odd)).toEqual({ error: 'unrecognised --version output: "hello"' });
    expect(versionWarnings({ error: 'x' }, ADAPTERS.claude.onboarding)).toEqual(['could not read the version: x']);
  });

  test('the environment of the backend is used', async () => {
    const p = script('echo "$MY_VERSION (Claude Code)"');
    const probe = new VersionProbe({ env: () => ({ ...process.env, MY_VERSION: '2.1.77' }) });
    expect((await probe.get('claude', p)).version).toBe('2.1.77');
  });
});
