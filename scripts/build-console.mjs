#!/usr/bin/env node
// Builds the operator console (console/) into dist/console/: the minified page script (Preact and the
// pages), the Markdown chunk it loads on demand (marked, DOMPurify), one stylesheet, index.html and the
// icon. No source maps, no inline script.
// `--quiet` prints nothing; otherwise the sizes of what was written.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'console');
const out = path.join(root, 'dist', 'console');

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

await build({
  entryPoints: [
    { in: path.join(src, 'src', 'main.tsx'), out: 'app' },
    { in: path.join(src, 'app.css'), out: 'app' },
  ],
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  splitting: true,
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  target: ['es2022'],
  platform: 'browser',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  sourcemap: false,
  charset: 'utf8',
  define: { 'process.env.NODE_ENV': '"production"' },
  tsconfig: path.join(src, 'tsconfig.json'),
  logLevel: 'warning',
});
for (const f of ['index.html', 'favicon.svg']) fs.copyFileSync(path.join(src, f), path.join(out, f));

if (!process.argv.includes('--quiet')) {
  let total = 0;
  let gz = 0;
  for (const f of fs.readdirSync(out).sort()) {
    const buf = fs.readFileSync(path.join(out, f));
    const z = zlib.gzipSync(buf, { level: 9 }).length;
    total += buf.length;
    gz += z;
    console.log(`dist/console/${f}: ${buf.length} bytes (${z} gzip)`);
  }
  console.log(`dist/console total: ${total} bytes (${gz} gzip)`);
}
