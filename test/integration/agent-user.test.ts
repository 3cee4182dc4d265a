/**
 * `server.agent_user` (docs/security.md, "Agent user"): when clinvk runs as root, the CLIs run as
 * that user — its uid, gid, groups and HOME — and cannot read `$CLINVK_HOME` or the server's
 * environment. The test creates a throwaway system user (removed afterwards), so it needs root, as
 * CI has; elsewhere it fails saying so rather than passing without having checked anything.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load';
import { createServerApp, type AppBundle } from '../../src/http/server';
import { createSilentLogger } from '../../src/observability/logger';
import { lookupAgentUser } from '../../src/security/agent-user';
import { securityStartupProblems } from '../../src/security/startup';
import { expectMatchesSpec } from '../helpers/contract';
import { FAKE_BIN } from '../helpers/server';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const user = `clinvk-t-${crypto.randomBytes(4).toString('hex')}`;

interface LogLine {
  event: string;
  cli?: string;
  argv?: string[];
  uid?: number;
  gid?: number;
  groups?: number[];
  env?: Record<string, string | null>;
  envKeys?: string[];
  path?: string;
  ok?: boolean;
  error?: string;
}

let root = '';
let bundle: AppBundle | undefined;
let home = '';
let logFile = '';
let workdir = '';

beforeAll(async () => {
  if (!asRoot) return;
  execFileSync('useradd', [
    '--system',
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    user,
  ]);
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-agent-')));
  // The agent may pass through the temp root (not list it); its own places are open to it. The
  // fakes are copied there because the checkout may sit below a directory only root can enter.
  fs.chmodSync(root, 0o711);
  const fixtures = path.join(root, 'fixtures');
  for (const d of ['bin', 'samples', 'cli-help']) {
    fs.cpSync(path.resolve(FAKE_BIN, '..', d), path.join(fixtures, d), { recursive: true });
  }
  execFileSync('chmod', ['-R', 'a+rX', fixtures]);
  workdir = path.join(root, 'work');
  const stateDir = path.join(root, 'fake-state');
  for (const d of [workdir, stateDir]) {
    fs.mkdirSync(d);
    fs.chmodSync(d, 0o777);
  }
  logFile = path.join(root, 'fake.log');
  fs.writeFileSync(logFile, '', { mode: 0o666 });
  fs.chmodSync(logFile, 0o666);
  // A fresh install: clinvk creates its home itself.
  home = path.join(root, 'home');
  const env = { FAKE_CLI_LOG: logFile, FAKE_CLI_STATE_DIR: stateDir, FAKE_CLI_LOG_ENV: 'HOME,USER,LOGNAME' };
  const backend = (name: string) => ({ command: path.join(fixtures, 'bin', name), env });
  const configFile = path.join(root, 'config.yaml');
  fs.writeFileSync(
    configFile,
    stringify({
      server: { default_workdir: workdir, kill_grace_secs: 1, agent_user: user },
      backends: { claude: backend('claude'), codex: backend('codex'), gemini: backend('gemini') },
    }),
  );
  const { config } = loadConfig({
    flags: { config: configFile },
    env: { CLINVK_HOME: home, HOME: root },
    cwd: workdir,
  });
  expect(securityStartupProblems(config, { hasKeys: false })).toEqual([]);
  bundle = await createServerApp(config, createSilentLogger());
});

afterAll(async () => {
  await bundle?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
  if (asRoot) {
    try {
      execFileSync('userdel', [user], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
});

const readLog = (): LogLine[] =>
  fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine);

test('the CLI runs as the agent user and cannot read $CLINVK_HOME or the server environment', async () => {
  if (!asRoot) {
    throw new Error(
      'this test needs root (CI runs as root): it creates a system user to show that server.agent_user confines the CLIs',
    );
  }
  const agent = lookupAgentUser(user)!;
  expect(agent.uid).not.toBe(0);
  // A session gives $CLINVK_HOME something worth reading.
  const first = await request(bundle!.app)
    .post('/api/v1/prompt')
    .set('Content-Type', 'application/json')
    .send({ backend: 'claude', prompt: 'first turn' });
  expect(first.status).toBe(200);
  const sessionFile = path.join(home, 'sessions', `${first.body.data.session_id}.json`);
  expect(fs.existsSync(sessionFile)).toBe(true);
  expect(fs.statSync(home).mode & 0o777).toBe(0o700);

  const targets = [home, sessionFile, `/proc/${process.pid}/environ`];
  for (const backend of ['claude', 'codex', 'gemini']) {
    const res = await request(bundle!.app)
      .post('/api/v1/prompt')
      .set('Content-Type', 'application/json')
      .send({ backend, prompt: `probe ${targets.map((p) => `[READ:${p}]`).join(' ')}`, ephemeral: true });
    expect([backend, res.status]).toEqual([backend, 200]);
    expectMatchesSpec('executePrompt', res.status, res.body);
  }
  const log = readLog();
  const starts = log.filter(
    (e) => e.event === 'start' && e.argv?.[0] !== '--version' && !e.argv?.some((a) => a.startsWith('--delete-session')),
  );
  expect(starts.map((s) => s.cli)).toEqual(['claude', 'claude', 'codex', 'gemini']);
  for (const s of starts) {
    expect({ cli: s.cli, uid: s.uid, gid: s.gid, groups: [...(s.groups ?? [])].sort() }).toEqual({
      cli: s.cli,
      uid: agent.uid,
      gid: agent.gid,
      groups: [...agent.groups].sort(),
    });
    expect(s.env).toMatchObject({ HOME: '/nonexistent', USER: user, LOGNAME: user });
  }
  const reads = log.filter((e) => e.event === 'read');
  expect(reads.map((r) => [r.cli, r.path, r.ok, r.error])).toEqual(
    ['claude', 'codex', 'gemini'].flatMap((cli) => targets.map((p) => [cli, p, false, 'EACCES'])),
  );
});
