/**
 * The published shape of the package: `npm pack` gives a tarball with the built dist, the bin and
 * the contract (no sources, tests or dev files), and in a clean directory outside the repository
 * `npm install ./clinvk-x.tgz && npx clinvk serve` starts a server whose `clinvk/client` export
 * works. Needs the build (`make test` builds first); dependencies come from the registry or the npm
 * cache.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../helpers/server';

const ROOT = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);

let dir: string;
let server: ChildProcess | undefined;

beforeAll(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-pack-')));
});
afterAll(() => {
  if (server?.pid && server.exitCode === null) {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {}
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

test('npm pack → npm install → npx clinvk serve, and the clinvk/client export', async () => {
  expect(fs.existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'))).toBe(true);
  expect(fs.existsSync(path.join(ROOT, 'dist', 'src', 'client', 'index.d.ts'))).toBe(true);

  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 1 << 26 });
  const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const files = info.files.map((f) => f.path);
  for (const f of [
    'package.json',
    'bin/clinvk.js',
    'dist/src/cli/main.js',
    'dist/src/client/index.js',
    'dist/src/client/index.d.ts',
    'dist/generated/operations.js',
    'dist/generated/types.d.ts',
    'generated/openapi.json',
    'generated/openapi.yaml',
  ]) {
    expect([f, files.includes(f)]).toEqual([f, true]);
  }
  // no sources, tests, contract sources, scripts, source maps or local state
  const dev = files.filter(
    (f) =>
      /^(src|test|openapi|scripts|node_modules|\.tmp|coverage)\//.test(f) ||
      /\.map$/.test(f) ||
      (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)) ||
      /^(tsconfig.*|jest\.config\.js|eslint\.config\.mjs|Makefile|redocly\.yaml|\.prettierrc.*)$/.test(f),
  );
  expect(dev).toEqual([]);

  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=dev', path.join(dir, info.filename)],
    { cwd: app, maxBuffer: 1 << 26, timeout: 240_000 },
  );

  const port = await freePort();
  const home = path.join(dir, 'home');
  server = spawn('npx', ['--no-install', 'clinvk', 'serve', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: app,
    env: { ...process.env, CLINVK_HOME: home, CLINVK_API_KEYS: '' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (server!.exitCode !== null) throw new Error(`clinvk serve exited ${server!.exitCode}: ${output}`);
      return fetch(`${base}/health`).then(
        (r) => r.status,
        () => 0,
      );
    },
    60_000,
    200,
  );
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { info: { title: string } };
  expect(doc.info.title).toBe('clinvk API');

  // the client as an installed package resolves it (exports), in CommonJS and ESM
  const script = `const { createClient } = require('clinvk/client');
createClient({ baseUrl: process.argv[1] }).listBackends().then((d) => console.log(JSON.stringify(d.backends.map((b) => b.name))));`;
  const cjs = await run(process.execPath, ['-e', script, base], { cwd: app });
  expect(JSON.parse(cjs.stdout)).toEqual(['claude', 'codex', 'gemini']);
  const esm = await run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { createClient } from 'clinvk/client'; console.log((await createClient({ baseUrl: process.argv[1] }).healthCheck()).status);`,
      base,
    ],
    { cwd: app },
  );
  expect(['ok', 'degraded']).toContain(esm.stdout.trim());

  process.kill(-server.pid!, 'SIGTERM');
  await waitFor(() => server!.exitCode !== null || server!.signalCode !== null, 20_000);
}, 480_000);
