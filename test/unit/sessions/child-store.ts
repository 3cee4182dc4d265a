/**
 * Child processes that use the real TypeScript session store: `storeChildScript(body)` is a plain-JS
 * script that installs a `require` hook compiling `.ts` files with the already-installed
 * `@swc/core` (CommonJS), loads `FileSessionStore` and runs `body` (an async function body with
 * `FileSessionStore`, `argv` and `load(<path from the repository root>)` in scope). No build step and no extra package are needed.
 */
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../../..');

export function storeChildScript(body: string): string {
  return `
'use strict';
const fs = require('fs');
const swc = require(${JSON.stringify(require.resolve('@swc/core', { paths: [ROOT] }))});
require.extensions['.ts'] = (mod, filename) => {
  const out = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  mod._compile(out.code, filename);
};
const load = (rel) => require(${JSON.stringify(ROOT)} + '/' + rel);
const { FileSessionStore } = load('src/sessions/file/index.ts');
const argv = process.argv.slice(2);
(async () => {
${body}
})().catch((e) => { console.error((e && e.stack) || e); process.exit(1); });
`;
}
