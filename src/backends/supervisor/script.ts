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

/** Relative imports of a TypeScript source (type-only ones too: compiling them is harmless). */
function relativeImports(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(/(?:\bfrom\s+|\bimport\s+|\brequire\()['"](\.{1,2}\/[^'"]+)['"]/g)) out.push(m[1]!);
  return out;
}

function compileFromSources(entry: string): string {
  if (compiled && fs.existsSync(compiled)) return compiled;
  const srcRoot = path.resolve(__dirname, '../..');
  // The sources the entry needs, and a hash of them (the cache key).
  const sources = new Map<string, { file: string; code: string }>(); // path relative to src (.js) → source
  const hash = crypto.createHash('sha256');
  const visit = (file: string): void => {
    const rel = path.relative(srcRoot, file).replace(/\.ts$/, '.js');
    if (sources.has(rel)) return;
    const code = fs.readFileSync(file, 'utf8');
    hash.update(rel).update('\0').update(code).update('\0');
    sources.set(rel, { file, code });
    for (const spec of relativeImports(code)) {
      const dep = path.resolve(path.dirname(file), spec);
      visit(fs.existsSync(`${dep}.ts`) ? `${dep}.ts` : path.join(dep, 'index.ts'));
    }
  };
  visit(entry);
  const root = path.resolve(srcRoot, '..');
  const outDir = path.join(root, 'node_modules', '.cache', 'clinvk-supervisor', hash.digest('hex').slice(0, 16));
  const main = path.join(outDir, path.relative(srcRoot, entry).replace(/\.ts$/, '.js'));
  if (!fs.existsSync(main)) {
    const transpile = transpiler();
    // The entry last: once it exists, everything it requires does too (parallel workers).
    for (const [rel, { file, code }] of [...sources].reverse()) {
      const out = path.join(outDir, rel);
      fs.mkdirSync(path.dirname(out), { recursive: true });
      const tmp = `${out}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, transpile(code, file));
      fs.renameSync(tmp, out);
    }
  }
  compiled = main;
  return main;
}
