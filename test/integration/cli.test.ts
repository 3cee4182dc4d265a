/**
 * The built `clinvk` command as a user runs it (bin/clinvk.js → dist/): serve prints the banner
 * after binding, answers, and exits 0 on SIGTERM; invalid configuration exits 2.
 * `make test` builds dist/ before running jest.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestEnv, type TestEnv } from '../helpers/server';

const BIN = path.resolve(__dirname, '../../bin/clinvk.js');
const MAIN = path.resolve(__dirname, '../../dist/src/cli/main.js');

describe('clinvk command', () => {
  let env: TestEnv;
  beforeAll(() => {
    // Never skipped silently: `make test` builds first; a bare `npx jest` needs `npm run build`.
    if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
    env = makeTestEnv();
  });
  afterAll(() => env?.cleanup());

  const childEnv = () => ({ ...process.env, CLINVK_HOME: env.home, CLINVK_API_KEYS: '', CLINVK_CONFIG: '' });

  test('before a build, bin/clinvk.js prints one line saying to run `make build` (exit 1, no stack)', () => {
    // A copy of the launcher in a checkout without dist/.
    const root = fs.mkdtempSync(path.join(env.root, 'unbuilt-'));
    fs.mkdirSync(path.join(root, 'bin'));
    fs.copyFileSync(BIN, path.join(root, 'bin', 'clinvk.js'));
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'clinvk.js'), 'serve'], {
      env: childEnv(),
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`clinvk: not built yet: run \`make build\` (or \`npm run build\`) in ${root}\n`);
  });

  test('version', () => {
    const r = spawnSync(process.execPath, [BIN, 'version'], { env: childEnv(), encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      `clinvk ${JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')).version}\n`,
    );
  });

  test('invalid configuration → exit 2 naming the key', () => {
    const file = path.join(env.root, 'bad.yaml');
    fs.writeFileSync(file, 'server:\n  rate_limit_rps: -1\n');
    const r = spawnSync(process.execPath, [BIN, 'serve', '--config', file], { env: childEnv(), encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('config error: server.rate_limit_rps: must be >= 0 (got -1)');
    const p = spawnSync(process.execPath, [BIN, 'serve'], {
      env: { ...childEnv(), CLINVK_PORT: 'abc' },
      encoding: 'utf8',
    });
    expect(p.status).toBe(2);
  });

  test('cluster mode: a file store or no PostgreSQL URL → exit 2 with the reason, nothing listens', () => {
    const cluster = { ...childEnv(), CLINVK_CLUSTER: 'true', CLINVK_REDIS_URL: 'redis://127.0.0.1:6379' };
    const file = path.join(env.root, 'cluster-file-store.yaml');
    fs.writeFileSync(file, 'jobs:\n  store: file\n');
    const r = spawnSync(process.execPath, [BIN, 'serve', '--config', file, '--port', '0'], {
      env: { ...cluster, CLINVK_POSTGRES_URL: 'postgres://postgres@127.0.0.1:5432/test' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'config error: jobs.store: a cluster keeps its records in PostgreSQL: file is not allowed with cluster.enabled (use postgres or leave it unset)\n',
    );
    const noUrl = spawnSync(process.execPath, [BIN, 'serve', '--port', '0'], { env: cluster, encoding: 'utf8' });
    expect(noUrl.status).toBe(2);
    expect(noUrl.stdout).toBe('');
    expect(noUrl.stderr).toBe(
      'config error: cluster.enabled: cluster mode needs cluster.postgres_url (or CLINVK_POSTGRES_URL)\n',
    );
  });

  test('serve: banner after bind, working endpoints, graceful exit 0 on SIGTERM', async () => {
    const file = path.join(env.root, 'config.yaml');
    const child = spawn(process.execPath, [BIN, 'serve', '--config', file, '--port', '0', '--log-level', 'error'], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 20_000);
      child.stdout.on('data', () => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    expect(out).toContain('Available endpoints:');
    expect(out).toMatch(/Metrics\s+GET\s+\/metrics\s+\(disabled: server\.metrics_enabled\)/);
    expect(out).toMatch(/Backends\s+claude \(\S+\/claude\) {2}codex \(\S+\/codex\) {2}gemini \(\S+\/gemini\)\n/);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    const prompt = await fetch(`${url}/api/v1/prompt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ backend: 'claude', prompt: 'hi', ephemeral: true }),
    });
    expect(prompt.status).toBe(200);
    expect(((await prompt.json()) as { data: { output: string } }).data.output).toBe('MOCK-REPLY: 8f434346648f');
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });
});
