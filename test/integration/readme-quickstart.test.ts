/**
 * The README quickstart works as written: every curl command of the README runs against a server
 * with the fake CLIs, succeeds, and answers JSON of the same shape as the output the README shows.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestServer, type TestServer } from '../helpers/server';

const README = fs.readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
const BASE = 'http://127.0.0.1:8080';

interface Block {
  lang: string;
  text: string;
}

function blocks(md: string): Block[] {
  return [...md.matchAll(/^(?:> )?```(\w*)\n([\s\S]*?)^(?:> )?```$/gm)].map((m) => ({ lang: m[1]!, text: m[2]! }));
}

/** The curl commands of a shell block (continuation lines joined). */
function curls(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('curl ') && l.includes(BASE));
}

/** Keys and value types, recursively (arrays by their first element). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, shape((v as Record<string, unknown>)[k])]),
    );
  }
  return v === null ? 'null' : typeof v;
}

const jsonLines = (text: string): unknown[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as unknown);

const hasCurl = spawnSync('curl', ['--version']).status === 0;

(hasCurl ? describe : describe.skip)('README quickstart', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await makeTestServer();
  });
  afterAll(() => s.close());

  // The server runs in this process: curl must run asynchronously.
  const sh = (cmd: string) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile('bash', ['-c', cmd], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  test('every curl command works and answers what the README shows', async () => {
    const all = blocks(README);
    let sessionId: string | undefined;
    let ran = 0;
    for (const [i, b] of all.entries()) {
      if (b.lang !== 'sh') continue;
      const commands = curls(b.text);
      if (commands.length === 0) continue;
      const outputs: unknown[] = [];
      for (const c of commands) {
        let cmd = c.split(BASE).join(s.url);
        // The README continues the session its first prompt created.
        if (/"session_id":"[0-9a-f]{32}"/.test(cmd)) {
          expect(sessionId).toBeDefined();
          cmd = cmd.replace(/"session_id":"[0-9a-f]{32}"/, `"session_id":"${sessionId}"`);
        }
        const r = await sh(cmd);
        expect([cmd, r.status, r.stderr]).toEqual([cmd, 0, '']);
        const docs = jsonLines(r.stdout);
        expect([cmd, docs.length > 0]).toEqual([cmd, true]);
        for (const d of docs) {
          const doc = d as { success?: boolean; data?: { session_id?: string }; status?: string };
          expect([cmd, doc.success === false]).toEqual([cmd, false]);
          if (doc.data?.session_id && sessionId === undefined) sessionId = doc.data.session_id;
        }
        outputs.push(...docs);
        ran += 1;
      }
      const next = all[i + 1];
      if (next?.lang === 'json') {
        const shown = jsonLines(next.text);
        expect(outputs.map(shape)).toEqual(shown.map(shape));
      }
    }
    expect(ran).toBeGreaterThanOrEqual(6);
  });
});
