/**
 * `make check-generated` (part of `make test`) in a source archive without `.git`: the generated
 * files are compared by content — no git usage text, a pass when they match, a named failure when
 * one is stale.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const SKIP = new Set(['.git', 'node_modules', 'dist', '.tmp', 'coverage']);

/** Copies the checkout's files (working tree, no .git) to `to`. */
function copyTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(src, dst);
    else if (entry.isFile()) fs.copyFileSync(src, dst);
  }
}

const hasMake = spawnSync('make', ['--version']).status === 0;

(hasMake ? describe : describe.skip)('make check-generated without .git', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-archive-'));
    copyTree(ROOT, dir);
    // Dependencies as installed; `-o` below keeps make from re-running npm ci.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const checkGenerated = () =>
    spawnSync('make', ['-s', '-o', 'node_modules/.package-lock.json', 'check-generated'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, GIT_CEILING_DIRECTORIES: path.dirname(dir) },
    });

  test('up-to-date files pass without touching git', () => {
    expect(fs.existsSync(path.join(dir, '.git'))).toBe(false);
    const r = checkGenerated();
    const out = `${r.stdout}${r.stderr}`;
    expect(out).not.toMatch(/usage: git|not a git repository/);
    expect(out).toContain('generated/ is up to date');
    expect(r.status).toBe(0);
  });

  test('a stale generated file fails, naming the file', () => {
    fs.appendFileSync(path.join(dir, 'docs/configuration.md'), '\nedited by hand\n');
    const r = checkGenerated();
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain("docs/configuration.md is out of date: run 'npm run generate'");
  });
});
