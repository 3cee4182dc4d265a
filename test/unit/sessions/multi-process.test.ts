/**
 * Two server processes on one store lose no update: on one $CLINVK_HOME (file store) and on one
 * PostgreSQL schema (postgres store) — the same test, parametrized by the store.
 *
 * The child processes load the real TypeScript store: the test writes a small plain-JS child script
 * into a temp directory that installs a `require` hook for `.ts` files compiling them with the
 * already-installed `@swc/core` (`transformSync`, CommonJS), then requires the store's module.
 * No build step and no extra package are needed. The jest process itself works on the same
 * store at the same time, so three processes contend.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { FileSessionStore } from '../../../src/sessions/file';
import { PostgresSessionStore } from '../../../src/sessions/postgres';
import type { SessionStore } from '../../../src/sessions/types';
import { SchemaPool, TEST_POSTGRES_URL } from '../../helpers/postgres';
import { cleanupHomes, newSession, recordingLogger, tmpHome } from './helpers';

const ROOT = path.resolve(__dirname, '../../..');
const CHILD = `
'use strict';
const fs = require('fs');
const swc = require(${JSON.stringify(require.resolve('@swc/core', { paths: [ROOT] }))});
require.extensions['.ts'] = (mod, filename) => {
  const src = fs.readFileSync(filename, 'utf8');
  const out = swc.transformSync(src, {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  mod._compile(out.code, filename);
};
const load = (rel) => require(${JSON.stringify(ROOT)} + '/' + rel);
async function openStore(spec) {
  if (spec.kind === 'file') return load('src/sessions/file/index.ts').FileSessionStore.open({ dir: spec.dir, compactMinLines: 40 });
  const { PostgresDatabase } = load('src/db/postgres/index.ts');
  const { PostgresSessionStore } = load('src/sessions/postgres/index.ts');
  return PostgresSessionStore.open({ db: new PostgresDatabase({ url: spec.url, schema: spec.schema, poolSize: 4 }) });
}
const [spec, shared, claimed, turns, creates] = process.argv.slice(2);
(async () => {
  const store = await openStore(JSON.parse(spec));
  const created = [];
  let busy = 0;
  for (let i = 0; i < Number(turns); i++) {
    await store.completeTurn(shared, { success: true, usage: { input_tokens: 1, output_tokens: 2 } }, true);
    if (i < Number(creates)) created.push((await store.create({ backend: 'codex', working_dir: '/w', tags: ['api'], status: 'completed', turn_count: 1 })).id);
    // A claimed turn on a second shared session: exclusive across processes.
    for (;;) {
      try { await store.claimTurn(claimed, 600000); break; }
      catch (e) { if (e.code !== 'session_busy') throw e; busy++; await new Promise((r) => setTimeout(r, 1)); }
    }
    await store.completeTurn(claimed, { success: true }, true);
  }
  const total = (await store.list({ limit: 1000, offset: 0 })).total;
  await store.close();
  process.stdout.write(JSON.stringify({ created, busy, total }));
})().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
`;

interface ChildResult {
  created: string[];
  busy: number;
  total: number;
}

function runChild(script: string, args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`child exited with ${code}: ${err}`));
      else resolve(JSON.parse(out) as ChildResult);
    });
  });
}

const schemas = new SchemaPool();
afterAll(async () => {
  await schemas.dropAll();
  cleanupHomes();
});

/** A store shared by this process and the children, and what is checked after the race. */
interface RaceBacking {
  spec: object;
  open(): Promise<SessionStore>;
  /** Store-specific checks once everything is done. */
  after(): Promise<void>;
}

const RACE_BACKINGS: [string, (home: string) => RaceBacking][] = [
  [
    'file',
    (home) => {
      const dir = path.join(home, 'sessions');
      const logger = recordingLogger();
      return {
        spec: { kind: 'file', dir },
        open: () => FileSessionStore.open({ dir, compactMinLines: 40, logger }),
        after: async () => {
          // The index followed the other processes' journal appends and compactions without ever
          // having to be rebuilt from the records. (Waits for the lock longer than a second are
          // logged at warn by design: three processes contending on a loaded machine may see some.)
          const lockWaits = (c: { msg: string }) => c.msg === 'waiting for the session store lock';
          expect(logger.calls.filter((c) => c.level === 'warn' && !lockWaits(c))).toEqual([]);
          expect(logger.calls.filter((c) => c.msg.includes('rebuil'))).toEqual([]);
          const leftovers = fs.readdirSync(dir).filter((f) => f.startsWith('.tmp-') || f.endsWith('.lock'));
          expect(leftovers).toEqual([]);
        },
      };
    },
  ],
  [
    'postgres',
    () => {
      const schema = schemas.schema();
      return {
        spec: { kind: 'postgres', url: TEST_POSTGRES_URL, schema },
        open: () => PostgresSessionStore.open({ db: schemas.database(schema) }),
        after: async () => undefined,
      };
    },
  ],
];

describe.each(RACE_BACKINGS)('%s store', (_name, makeBacking) => {
  test('two child processes and this one mutate the same store concurrently without losing an update', async () => {
    const home = tmpHome();
    const script = path.join(home, 'child.js');
    fs.writeFileSync(script, CHILD);
    const backing = makeBacking(home);

    const store = await backing.open();
    const shared = await store.create(newSession());
    const claimed = await store.create(newSession());
    const TURNS = 60;
    const CREATES = 30;
    const args = [JSON.stringify(backing.spec), shared.id, claimed.id, String(TURNS), String(CREATES)];

    const children = [runChild(script, args), runChild(script, args)];
    // This process takes part too.
    const mine: string[] = [];
    for (let i = 0; i < TURNS; i++) {
      await store.completeTurn(shared.id, { success: true, usage: { input_tokens: 1, output_tokens: 2 } }, true);
      if (i < CREATES) mine.push((await store.create(newSession({ backend: 'gemini' }))).id);
    }
    const results = await Promise.all(children);

    const final = await store.resolve(shared.id);
    expect(final.turn_count).toBe(1 + 3 * TURNS);
    expect(final.token_usage).toEqual({ input_tokens: 3 * TURNS, output_tokens: 6 * TURNS });
    expect((await store.resolve(claimed.id)).turn_count).toBe(1 + 2 * TURNS);

    const expectedIds = [shared.id, claimed.id, ...mine, ...results.flatMap((r) => r.created)];
    const page = await store.list({ limit: 1000, offset: 0 });
    expect(page.total).toBe(expectedIds.length);
    expect(page.sessions.map((s) => s.id).sort()).toEqual([...expectedIds].sort());
    expect((await store.list({ backend: 'codex', limit: 1, offset: 0 })).total).toBe(2 * CREATES);

    // A fresh process-equivalent view (new store) agrees.
    const fresh = await backing.open();
    expect(await fresh.count()).toBe(expectedIds.length);
    await fresh.close();
    await store.close();
    await backing.after();
  }, 120_000);
});

const LOOPER = `
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
const { FileSessionStore } = require(${JSON.stringify(path.join(ROOT, 'src/sessions/file/index.ts'))});
const [dir, shared] = process.argv.slice(2);
(async () => {
  const store = await FileSessionStore.open({ dir, compactMinLines: 20, lockStaleMs: 2000 });
  process.stdout.write('ready\\n');
  for (;;) {
    await store.completeTurn(shared, { success: true, usage: { input_tokens: 1, output_tokens: 1 } }, true);
    await store.create({ backend: 'claude', working_dir: '/w', tags: ['api'], status: 'completed', turn_count: 1 });
  }
})();
`;

test('a writer killed with SIGKILL mid-flight leaves complete records; its lock is taken over', async () => {
  const home = tmpHome();
  const dir = path.join(home, 'sessions');
  const script = path.join(home, 'looper.js');
  fs.writeFileSync(script, LOOPER);
  const store = await FileSessionStore.open({ dir, lockStaleMs: 2000 });
  const shared = await store.create(newSession());
  await store.close();

  const child = spawn(process.execPath, [script, dir, shared.id], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  await new Promise((r) => setTimeout(r, 400 + Math.random() * 200));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));

  const after = await FileSessionStore.open({ dir, lockStaleMs: 2000 });
  await after.idle();
  // Every record file parses (atomic renames): none is reported unreadable.
  const page = await after.list({ limit: 1000, offset: 0 });
  const files = fs.readdirSync(dir).filter((f) => /^[0-9a-f]{32}\.json$/.test(f));
  expect(page.total).toBe(files.length);
  const before = (await after.resolve(shared.id)).turn_count;
  expect(before).toBeGreaterThan(1);
  // Mutations work again (a lock left by the killed process is recovered once stale).
  const t0 = Date.now();
  expect((await after.completeTurn(shared.id, { success: true }, true)).turn_count).toBe(before + 1);
  expect(Date.now() - t0).toBeLessThan(10_000);
  expect(fs.existsSync(path.join(dir, 'store.lock'))).toBe(false);
  await after.close();
}, 60_000);
