#!/usr/bin/env node
'use strict';
/**
 * `make e2e`: installs the real CLIs into a cache directory outside the repository (reused when
 * present), runs the end-to-end jest project (test/e2e/jest.config.js) against them and prints a
 * per-backend summary.
 *
 *   node test/e2e/run.js [--versions pinned|latest] [-- <jest arguments>]
 *
 * pinned (default): the versions of test/e2e/cli-versions.json. latest: the newest published
 * versions — the drift report: per backend, which checks failed and the first differing line; a
 * CLI that does not install or run on this Node is reported as such, not as a clinvk failure.
 *
 * Cache: $CLINVK_E2E_CACHE, else $XDG_CACHE_HOME/clinvk-e2e, else ~/.cache/clinvk-e2e; one
 * directory per package and version.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '../..');
const BACKENDS = ['claude', 'codex', 'gemini'];

function parseArgs(argv) {
  const out = { versions: process.env.CLI_VERSIONS || 'pinned', jest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.jest = argv.slice(i + 1);
      break;
    }
    if (a === '--versions') out.versions = argv[++i];
    else if (a.startsWith('--versions=')) out.versions = a.slice('--versions='.length);
    else out.jest.push(a);
  }
  if (!out.versions) out.versions = 'pinned';
  if (out.versions !== 'pinned' && out.versions !== 'latest') {
    throw new Error(`CLI_VERSIONS must be "pinned" or "latest" (got ${JSON.stringify(out.versions)})`);
  }
  return out;
}

function cacheRoot() {
  const dir = process.env.CLINVK_E2E_CACHE
    ? path.resolve(process.env.CLINVK_E2E_CACHE)
    : path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'clinvk-e2e');
  const rel = path.relative(REPO, dir);
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) {
    throw new Error(`the CLI cache must be outside the repository (got ${dir}); set CLINVK_E2E_CACHE`);
  }
  return dir;
}

function firstLine(s) {
  return (
    String(s || '')
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) || ''
  );
}

function run(cmd, args, opts) {
  return spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** A minimal environment for installing and probing (no keys, a throw-away HOME). */
function probeEnv(home) {
  return {
    PATH: process.env.PATH,
    HOME: home,
    TMPDIR: home,
    LANG: 'C.UTF-8',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    ...(process.env.npm_config_registry ? { npm_config_registry: process.env.npm_config_registry } : {}),
    ...(process.env.npm_config_cache ? { npm_config_cache: process.env.npm_config_cache } : {}),
  };
}

function npmCommand() {
  return process.platform === 'win32' ? 'npm.cmd' : 'npm';
}

/**
 * Installs `pkg@version` into `<cache>/<pkg>@<version>` unless already there. Install scripts of
 * dependencies are not run (they would download prebuilt binaries); the CLI package's own
 * postinstall is (claude's links its platform binary into place).
 */
function install(cache, backend, pkg, version, scratch) {
  const dir = path.join(cache, `${pkg.replace('/', '+')}@${version}`);
  const marker = path.join(dir, '.clinvk-e2e-installed');
  const result = { dir, cached: fs.existsSync(marker) };
  if (result.cached) return result;
  fs.mkdirSync(cache, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ name: 'clinvk-e2e-cli', private: true }));
  const env = probeEnv(scratch);
  const npm = run(
    npmCommand(),
    ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', '-E', `${pkg}@${version}`],
    { cwd: tmp, env, timeout: 600_000 },
  );
  if (npm.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const err = (npm.stderr || '').split('\n').find((l) => /npm (error|ERR!)/.test(l) && !/A complete log/.test(l));
    throw new Error(`npm install ${pkg}@${version} failed: ${err || firstLine(npm.stderr) || `exit ${npm.status}`}`);
  }
  const pkgDir = path.join(tmp, 'node_modules', ...pkg.split('/'));
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const post = manifest.scripts && manifest.scripts.postinstall;
  if (post) {
    const r = run('sh', ['-c', post], { cwd: pkgDir, env, timeout: 300_000 });
    if (r.status !== 0) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(`postinstall of ${pkg}@${version} failed: ${firstLine(r.stderr) || firstLine(r.stdout)}`);
    }
  }
  fs.writeFileSync(path.join(tmp, '.clinvk-e2e-installed'), `${pkg}@${version}\n`);
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    // Another run installed the same version meanwhile: use that one.
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(marker)) throw err;
  }
  return result;
}

function binOf(dir, pkg, backend) {
  const pkgDir = path.join(dir, 'node_modules', ...pkg.split('/'));
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin && manifest.bin[backend];
  if (!bin) throw new Error(`${pkg} has no "${backend}" executable`);
  // The .bin link is what a user runs (and node scripts find node on PATH through it).
  const link = path.join(dir, 'node_modules', '.bin', backend);
  return fs.existsSync(link) ? link : path.join(pkgDir, bin);
}

function resolveVersion(mode, pkg, pinned, scratch) {
  if (mode === 'pinned') return pinned;
  const r = run(npmCommand(), ['view', `${pkg}@latest`, 'version'], { env: probeEnv(scratch), timeout: 120_000 });
  const v = firstLine(r.stdout);
  if (r.status !== 0 || !/^\d+\.\d+\.\d+/.test(v)) {
    throw new Error(`cannot resolve ${pkg}@latest: ${firstLine(r.stderr) || `exit ${r.status}`}`);
  }
  return v;
}

function prepare(mode, cache, scratch) {
  const wanted = JSON.parse(fs.readFileSync(path.join(__dirname, 'cli-versions.json'), 'utf8'));
  const clis = {};
  for (const backend of BACKENDS) {
    const { package: pkg, version: pinned } = wanted[backend];
    const info = { package: pkg, version: mode === 'pinned' ? pinned : 'latest', ok: false };
    clis[backend] = info;
    const t0 = Date.now();
    try {
      info.version = resolveVersion(mode, pkg, pinned, scratch);
      const { dir, cached } = install(cache, backend, pkg, info.version, scratch);
      info.installMs = Date.now() - t0;
      info.cached = cached;
      info.bin = binOf(dir, pkg, backend);
      const probe = run(info.bin, ['--version'], { env: probeEnv(scratch), cwd: scratch, timeout: 120_000 });
      info.reported = firstLine(probe.stdout);
      if (probe.status !== 0 || !info.reported) {
        info.problem = `does not run on Node ${process.version}: \`${backend} --version\` exited ${
          probe.status ?? probe.signal
        }: ${firstLine(probe.stderr) || firstLine(probe.stdout) || '(no output)'}`;
      } else {
        info.ok = true;
      }
    } catch (err) {
      info.problem = `does not install on Node ${process.version}: ${err.message}`;
    }
  }
  return clis;
}

// ---------------------------------------------------------------- report

/** The first informative line of a jest failure message (ANSI colours removed). */
function firstDifference(messages) {
  const lines = messages
    .join('\n')
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim());
  const received = lines.find((l) => /^Received( string| array| value)?:/.test(l));
  const head = lines.find((l) => l && !/^at /.test(l)) || '';
  const detail = received && received !== head ? ` — ${received}` : '';
  return `${head}${detail}`.slice(0, 400);
}

function report(mode, clis, results) {
  const byBackend = {};
  for (const file of results.testResults || []) {
    const base = path.basename(file.name).replace(/\.test\.ts$/, '');
    const key = BACKENDS.includes(base) ? base : base === 'all' ? 'all three' : base;
    const bucket = (byBackend[key] = byBackend[key] || { passed: 0, failed: [], skipped: 0, suiteError: '' });
    if (file.testExecError || (file.failureMessage && !file.assertionResults.length)) {
      bucket.suiteError = firstDifference([file.failureMessage || String(file.testExecError.message || '')]);
    }
    for (const t of file.assertionResults) {
      if (t.status === 'passed') bucket.passed++;
      else if (t.status === 'failed') bucket.failed.push({ title: t.title, line: firstDifference(t.failureMessages) });
      else bucket.skipped++;
    }
  }
  const out = [];
  out.push('');
  out.push(
    mode === 'latest'
      ? 'Drift report: clinvk against the newest published CLIs'
      : 'End-to-end suite: clinvk against the pinned CLIs',
  );
  const extra = Object.keys(byBackend).filter((k) => !BACKENDS.includes(k) && k !== 'all three');
  for (const key of [...BACKENDS, 'all three', ...extra]) {
    const b = byBackend[key] || { passed: 0, failed: [], skipped: 0, suiteError: '' };
    const cli = clis[key];
    const label = cli ? `${key} (${cli.package}@${cli.version})` : key;
    if (cli && !cli.ok) {
      out.push(`  ${label}: NOT CHECKED — ${cli.problem}`);
      continue;
    }
    const verdict = b.failed.length || b.suiteError ? 'FAILED' : 'ok';
    out.push(`  ${label}: ${verdict} — ${b.passed} passed, ${b.failed.length} failed, ${b.skipped} skipped`);
    if (b.suiteError) out.push(`    suite error: ${b.suiteError}`);
    for (const f of b.failed) {
      out.push(`    ✗ ${f.title}`);
      out.push(`      first difference: ${f.line}`);
    }
  }
  return out.join('\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const cache = cacheRoot();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-e2e-run-'));
  const scratch = path.join(work, 'probe-home');
  fs.mkdirSync(scratch);
  const t0 = Date.now();
  const clis = prepare(args.versions, cache, scratch);
  const installMs = Date.now() - t0;
  for (const b of BACKENDS) {
    const c = clis[b];
    const how = c.cached ? 'cached' : `installed in ${((c.installMs || 0) / 1000).toFixed(1)} s`;
    console.log(`e2e: ${b}: ${c.package}@${c.version} ${c.ok ? `${how}, reports "${c.reported}"` : `— ${c.problem}`}`);
  }
  console.log(`e2e: CLIs ready in ${(installMs / 1000).toFixed(1)} s (cache ${cache})`);
  const clisFile = path.join(work, 'clis.json');
  fs.writeFileSync(clisFile, JSON.stringify(clis, null, 2));
  const resultsFile = path.join(work, 'results.json');
  const t1 = Date.now();
  const jestBin = require.resolve('jest/bin/jest', { paths: [REPO] });
  const code = await new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        jestBin,
        '-c',
        path.join(__dirname, 'jest.config.js'),
        '--ci',
        '--json',
        '--outputFile',
        resultsFile,
        ...args.jest,
      ],
      { cwd: REPO, stdio: 'inherit', env: { ...process.env, CLINVK_E2E_CLIS: clisFile } },
    );
    child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0)));
  });
  const runMs = Date.now() - t1;
  let results;
  try {
    results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  } catch {
    console.error('e2e: jest wrote no results');
    process.exit(code || 1);
  }
  console.log(report(args.versions, clis, results));
  console.log(`e2e: CLIs ${(installMs / 1000).toFixed(1)} s, tests ${(runMs / 1000).toFixed(1)} s`);
  console.log(
    `e2e: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped`,
  );
  fs.rmSync(work, { recursive: true, force: true });
  const broken = BACKENDS.some((b) => !clis[b].ok);
  process.exit(code || (broken ? 1 : 0));
}

main().catch((err) => {
  console.error(`e2e: ${err.message}`);
  process.exit(2);
});
