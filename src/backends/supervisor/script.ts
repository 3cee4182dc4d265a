/**
 * Where the supervisor program is. Built (dist/): `main.js` beside this file. Run from the
 * TypeScript sources (jest, ts loaders): `main.ts` and the files it imports are compiled once
 * with the compiler the dev tools already have (@swc/core, else typescript) into
 * `node_modules/.cache/clinvk-supervisor/<hash>/`, keyed by the sources' content so an edit is
 * picked up and parallel test workers share one copy.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function supervisorScript(): string {
  const built = path.join(__dirname, 'main.js');
  if (fs.existsSync(built)) return built;
  const source = path.join(__dirname, 'main.ts');
  if (fs.existsSync(source)) return compileFromSources(source);
  throw new Error(`process supervisor program not found (${built})`);
}

type Transpile = (code: string, file: string) => string;

function transpiler(): Transpile {
  try {
    const swc = require('@swc/core') as { transformSync(code: string, options: object): { code: string } };
    return (code, file) =>
      swc.transformSync(code, {
        filename: file,
        jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
        module: { type: 'commonjs' },
      }).code;
  } catch {
    const ts = require('typescript') as {
      transpileModule(code: string, options: object): { outputText: string };
    };
    // module 1 = CommonJS, target 9 = ES2022 (numeric: no type import of a dev-only package).
    return (code, file) =>
      ts.transpileModule(code, {
        fileName: file,
        compilerOptions: { module: 1, target: 9, esModuleInterop: true },
      }).outputText;
  }
}

let compiled: string | undefined;

function compileFromSources(entry: string): string {
  if (compiled && fs.existsSync(compiled)) return compiled;
  const transpile = transpiler();
  const srcRoot = path.resolve(__dirname, '../..');
  const outputs = new Map<string, string>(); // path relative to src → JS
  const hash = crypto.createHash('sha256');
  const visit = (file: string): void => {
    const rel = path.relative(srcRoot, file).replace(/\.ts$/, '.js');
    if (outputs.has(rel)) return;
    const code = fs.readFileSync(file, 'utf8');
    hash.update(rel).update('\0').update(code).update('\0');
    const js = transpile(code, file);
    outputs.set(rel, js);
    for (const m of js.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
      const dep = path.resolve(path.dirname(file), m[1]!);
      visit(fs.existsSync(`${dep}.ts`) ? `${dep}.ts` : path.join(dep, 'index.ts'));
    }
  };
  visit(entry);
  const root = path.resolve(srcRoot, '..');
  const outDir = path.join(root, 'node_modules', '.cache', 'clinvk-supervisor', hash.digest('hex').slice(0, 16));
  const main = path.join(outDir, path.relative(srcRoot, entry).replace(/\.ts$/, '.js'));
  if (!fs.existsSync(main)) {
    // The entry last: once it exists, everything it requires does too (parallel workers).
    for (const [rel, js] of [...outputs].reverse()) {
      const file = path.join(outDir, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, js);
      fs.renameSync(tmp, file);
    }
  }
  compiled = main;
  return main;
}
