#!/usr/bin/env node
// Writes docs/configuration.md and config.example.yaml from the key declaration in
// src/config/keys.ts (run by `npm run generate`). TypeScript sources are loaded with the
// compiler's transpileModule (no build needed); `--check` fails when a file is out of date.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: filename,
  });
  module._compile(outputText, filename);
};

const ROOT = path.join(__dirname, '..');
const { renderConfigReference, renderConfigExample } = require(path.join(ROOT, 'src/config/reference.ts'));
const outputs = [
  [path.join(ROOT, 'docs/configuration.md'), renderConfigReference()],
  [path.join(ROOT, 'config.example.yaml'), renderConfigExample()],
];
const check = process.argv.includes('--check');
let stale = false;
for (const [file, text] of outputs) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current === text) continue;
  if (check) {
    console.error(`${path.relative(ROOT, file)} is out of date: run 'npm run generate'`);
    stale = true;
  } else fs.writeFileSync(file, text);
}
if (stale) process.exit(1);
