/**
 * `clinvk doctor` through the command line entry (`run`): every state as a table and as JSON, exit
 * codes, and no secret value in any output.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { run, type CliIo } from '../../../src/cli/main';
import type { DoctorReport } from '../../../src/doctor/checks';

const FAKE_BIN = path.resolve(__dirname, '../../fixtures/bin');
const SECRET = 'sk-ant-DO-NOT-PRINT-4242';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let tmp: string;
beforeEach(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-doctor-')));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs `clinvk doctor <args>` with HOME and CLINVK_HOME in the temp dir; PATH without the fakes unless given. */
async function doctor(args: string[], env: NodeJS.ProcessEnv = {}, config?: string) {
  const stdout = new Capture();
  const stderr = new Capture();
  const base: NodeJS.ProcessEnv = { HOME: tmp, CLINVK_HOME: path.join(tmp, '.clinvk'), PATH: '/nonexistent' };
  const argv = ['doctor', ...args];
  if (config !== undefined) {
    fs.writeFileSync(path.join(tmp, 'c.yaml'), config);
    argv.push('--config', path.join(tmp, 'c.yaml'));
  }
  // Port 0 keeps the port check away from whatever runs on 8080 on this machine.
  const io: CliIo = { stdout, stderr, env: { CLINVK_PORT: '0', ...base, ...env }, cwd: tmp };
  const code = await run(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

async function both(env: NodeJS.ProcessEnv = {}, config?: string) {
  const table = await doctor([], env, config);
  const json = await doctor(['--json'], env, config);
  return { table, json, report: JSON.parse(json.stdout) as DoctorReport };
}

const FAKES = { PATH: `${FAKE_BIN}:/usr/bin:/bin` };

test('no CLI installed: says what to install and how to log in, exit 1', async () => {
  const { table, json, report } = await both();
  expect(table.code).toBe(1);
  expect(json.code).toBe(1);
  expect(report.ok).toBe(false);
  expect(report.backends.map((b) => [b.name, b.status, b.summary])).toEqual([
    ['claude', 'fail', '"claude" not found on PATH'],
    ['codex', 'fail', '"codex" not found on PATH'],
    ['gemini', 'fail', '"gemini" not found on PATH'],
  ]);
  expect(report.backends[0]!.next_steps[0]).toBe('install it: npm install -g @anthropic-ai/claude-code@2.1.197');
  expect(report.backends[1]!.next_steps).toContain('install it: npm install -g @openai/codex@0.171.0');
  expect(report.backends[2]!.next_steps).toContain('install it: npm install -g @google/gemini-cli@0.61.0');
  expect(report.backends[1]!.next_steps.at(-1)).toMatch(/^then log in: run 'codex login'/);
  expect(table.stdout).toMatch(/^ {2}FAIL {2}claude {10}"claude" not found on PATH$/m);
  expect(table.stdout).toContain('→ install it: npm install -g @anthropic-ai/claude-code@2.1.197');
  expect(table.stdout).toContain('→ or, if you do not use gemini, set backends.gemini.enabled: false');
  expect(table.stdout).toContain('Result: 0 of 3 enabled backends usable.');
  expect(table.stderr).toBe('');
});

test('all good: fakes on PATH with credentials, versions verified, exit 0; secrets never printed', async () => {
  fs.mkdirSync(path.join(tmp, '.codex'));
  fs.writeFileSync(path.join(tmp, '.codex', 'auth.json'), JSON.stringify({ OPENAI_API_KEY: SECRET }));
  fs.mkdirSync(path.join(tmp, '.gemini'));
  fs.writeFileSync(
    path.join(tmp, '.gemini', 'settings.json'),
    JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } } }),
  );
  const env = { ...FAKES, ANTHROPIC_API_KEY: SECRET, GEMINI_API_KEY: SECRET, CLINVK_API_KEYS: `${SECRET}-api` };
  const { table, json, report } = await both(env);
  expect([table.code, json.code]).toEqual([0, 0]);
  expect(report.ok).toBe(true);
  expect(report.backends.map((b) => [b.name, b.status, b.version, b.verified])).toEqual([
    ['claude', 'ok', '2.1.197', true],
    ['codex', 'ok', '0.171.0', true],
    ['gemini', 'ok', '0.61.0', true],
  ]);
  expect(report.backends[0]!.command).toBe(path.join(FAKE_BIN, 'claude'));
  expect(report.backends[1]!.credentials.sources.filter((s) => s.present).map((s) => s.source)).toEqual([
    path.join(tmp, '.codex', 'auth.json'),
  ]);
  const selected = report.backends[2]!.credentials.sources.find((s) => s.source.endsWith('selectedType'));
  expect(selected).toMatchObject({ present: true, value: 'gemini-api-key' });
  expect(report.checks.find((c) => c.id === 'api_keys')).toEqual({
    id: 'api_keys',
    status: 'ok',
    summary: 'auth on: 1 keys from CLINVK_API_KEYS',
  });
  expect(table.stdout).toMatch(/^ {2}ok {4}claude {10}2\.1\.197 \(verified: 2\.1\.x\)$/m);
  expect(table.stdout).toContain('credentials: ANTHROPIC_API_KEY');
  expect(table.stdout).toContain("Everything needed is in place: start the server with 'clinvk serve'");
  for (const out of [table.stdout, table.stderr, json.stdout, json.stderr]) expect(out).not.toContain('DO-NOT-PRINT');
});

test('missing credentials: a warning with the login step, still exit 0', async () => {
  const { table, report } = await both({ ...FAKES, ANTHROPIC_API_KEY: SECRET });
  expect(table.code).toBe(0);
  const codex = report.backends[1]!;
  expect(codex.status).toBe('warn');
  expect(codex.credentials.found).toBe(false);
  expect(codex.warnings).toEqual([
    'no credentials found (the CLI may still have some doctor cannot see, e.g. a keychain)',
  ]);
  expect(codex.next_steps).toEqual([
    "run 'codex login' ('codex login --device-auth' on a headless machine; 'codex login status' shows the state), or set OPENAI_API_KEY",
  ]);
  expect(table.stdout).toMatch(/^ {2}warn {2}codex /m);
  expect(table.stdout).toContain(
    `credentials: none found (looked for OPENAI_API_KEY, ${path.join(tmp, '.codex', 'auth.json')})`,
  );
  expect(table.stdout).not.toContain(SECRET);
});

test('version outside the verified range: a warning naming the range and the install command, exit 0', async () => {
  const config = `backends:\n  claude:\n    env:\n      FAKE_CLI_VERSION: 2.3.0\n`;
  const { table, report } = await both({ ...FAKES, ANTHROPIC_API_KEY: SECRET }, config);
  expect(table.code).toBe(0);
  const claude = report.backends[0]!;
  expect(claude).toMatchObject({ status: 'warn', version: '2.3.0', verified: false, verified_range: '2.1.x' });
  expect(claude.warnings).toEqual([
    'version 2.3.0 is outside the verified range 2.1.x (clinvk is tested with 2.1.197; it still runs)',
  ]);
  expect(claude.next_steps).toEqual(['to run the tested version: npm install -g @anthropic-ai/claude-code@2.1.197']);
  expect(table.stdout).toMatch(/^ {2}warn {2}claude {10}2\.3\.0 \(not verified: 2\.1\.x\)$/m);
});

test('disabled backends are skipped; with none enabled doctor fails', async () => {
  const some = await both(FAKES, 'backends:\n  codex:\n    enabled: false\n  gemini:\n    enabled: false\n');
  expect(some.table.code).toBe(0);
  expect(some.report.backends.map((b) => b.status)).toEqual(['warn', 'skip', 'skip']);
  expect(some.report.backends[1]!.summary).toBe('disabled (backends.codex.enabled: false)');
  expect(some.table.stdout).toMatch(/^ {2}skip {2}codex {11}disabled \(backends\.codex\.enabled: false\)$/m);
  expect(some.table.stdout).toContain('Result: 1 of 1 enabled backends usable.');
  const none = await both(
    FAKES,
    'backends:\n  claude:\n    enabled: false\n  codex:\n    enabled: false\n  gemini:\n    enabled: false\n',
  );
  expect(none.table.code).toBe(1);
  expect(none.report.ok).toBe(false);
  expect(none.table.stdout).toContain('Result: no backend is enabled');
});

test('an invalid configuration fails the config check and lists the problems', async () => {
  const { table, report } = await both(FAKES, 'server:\n  rate_limit_rps: -1\n  tls: true\n');
  expect(table.code).toBe(1);
  expect(report.checks[0]).toEqual({
    id: 'config',
    status: 'fail',
    summary: 'invalid configuration (the checks below use the built-in defaults)',
    details: ['config error: server.rate_limit_rps: must be >= 0 (got -1)'],
  });
  expect(table.stdout).toContain('config error: server.rate_limit_rps: must be >= 0 (got -1)');
});

test('a port in use is a warning; an unwritable home a failure', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const { report } = await both({ ...FAKES, CLINVK_PORT: String(port) });
    expect(report.checks.find((c) => c.id === 'port')).toMatchObject({
      status: 'warn',
      summary: `127.0.0.1:${port} in use (is clinvk already running?)`,
    });
  } finally {
    server.close();
  }
  const file = path.join(tmp, 'not-a-dir');
  fs.writeFileSync(file, '');
  const bad = await both({ ...FAKES, CLINVK_HOME: path.join(file, 'home') });
  expect(bad.table.code).toBe(1);
  expect(bad.report.checks.find((c) => c.id === 'home')?.status).toBe('fail');
});

test('the session store is checked when $CLINVK_HOME exists', async () => {
  fs.mkdirSync(path.join(tmp, '.clinvk'));
  const { report } = await both(FAKES);
  expect(report.checks.find((c) => c.id === 'session_store')).toEqual({
    id: 'session_store',
    status: 'ok',
    summary: 'file store, 0 sessions',
  });
});

test('--probe runs one prompt per usable backend and reports latency and model', async () => {
  // The probe runs in the default workdir: never the home directory (an ancestor of the CLIs' state).
  const work = path.join(tmp, 'work');
  fs.mkdirSync(work, { recursive: true });
  const workdir = `server:\n  default_workdir: ${JSON.stringify(work)}\n`;
  const r = await doctor(['--json', '--probe'], { ...FAKES, ANTHROPIC_API_KEY: SECRET }, workdir);
  const report = JSON.parse(r.stdout) as DoctorReport;
  expect(r.code).toBe(0);
  for (const b of report.backends) {
    expect(b.probe).toMatchObject({ success: true });
    expect(b.probe!.latency_ms).toBeGreaterThan(0);
  }
  expect(report.backends[0]!.probe!.model).toBe('claude-opus-4-8[1m]');
  const failing = await doctor(
    ['--probe'],
    FAKES,
    `${workdir}backends:\n  claude:\n    extra_flags: ["--no-such-flag"]\n`,
  );
  expect(failing.code).toBe(1);
  expect(failing.stdout).toMatch(/probe: failed after \d+ ms: backend_failed: claude failed: /);
});

test('usage errors exit 2 and point at the command help', async () => {
  const r = await doctor(['--port', '1']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('option --port is not accepted by "clinvk doctor"');
  const help = await doctor(['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('Usage: clinvk doctor [--config <file>] [--json] [--probe]');
});
