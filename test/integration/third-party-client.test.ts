/**
 * A third-party generator works on the served document: openapi-typescript generates the types of
 * `GET /openapi.json` from a live server, a small program using openapi-fetch with those types is
 * compiled by `tsc --strict` (no casts in its source), then run against the same server: a JSON
 * call, a typed 400, and the stream operation read as a stream (every event checked against the
 * schema the contract names for it).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { reply } from '../helpers/compat';
import { expectValidSchema, streamEventSchemaFor } from '../helpers/contract';
import { makeTestServer, type TestServer } from '../helpers/server';

const ROOT = path.resolve(__dirname, '..', '..');

// The program a user would write (ESM, Node 20 fetch). Types come only from the generated file.
const PROGRAM = `
import createClient from 'openapi-fetch';
import type { paths, components } from './schema.js';

type StreamEvent = components['schemas']['NativeStreamEvent'];

const baseUrl = process.argv[2];
const client = createClient<paths>({ baseUrl });

// 1. a JSON call: data.data is the ExecutionResult
const ok = await client.POST('/api/v1/prompt', { body: { backend: 'claude', prompt: 'third party', ephemeral: true } });
if (ok.error) throw new Error(ok.error.error);
const output: string = ok.data.data.output;
const exitCode: number = ok.data.data.exit_code;

// 2. a typed 400: the native error envelope with its validation details
const bad = await client.POST('/api/v1/prompt', { body: { backend: 'claude', prompt: 'x', max_turns: -1 } });
if (!bad.error) throw new Error('expected a 400');
const code: string = bad.error.code;
const detailPath: string | undefined = bad.error.details?.[0]?.path;
const status: number = bad.response.status;

// 3. the stream operation, read as a stream of NDJSON lines
const streamed = await client.POST('/api/v1/prompt/stream', {
  body: { backend: 'codex', prompt: 'third party stream', ephemeral: true },
  parseAs: 'stream',
});
// (openapi-fetch 0.17 types \`data\` as the declared string even with parseAs: 'stream'; the
// untouched Response body is the typed stream)
const body = streamed.response.body;
if (streamed.error || !body) throw new Error('stream did not start');
const events: StreamEvent[] = [];
const decoder = new TextDecoder();
let buffered = '';
const reader = body.getReader();
for (;;) {
  const chunk = await reader.read();
  if (chunk.done) break;
  buffered += decoder.decode(chunk.value, { stream: true });
  const lines = buffered.split('\\n');
  buffered = lines.pop() ?? '';
  for (const line of lines) if (line) events.push(JSON.parse(line));
}
let text = '';
for (const ev of events) if (ev.type === 'message') text += ev.content.text;

console.log(JSON.stringify({ output, exitCode, code, detailPath, status, contentType: streamed.response.headers.get('content-type'), events, text }));
`;

const execFileAsync = promisify(execFile);

async function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, args, { cwd: dir, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

let t: TestServer;
let dir: string;
beforeAll(async () => {
  t = await makeTestServer();
  // inside the repository so that openapi-fetch and @types/node resolve from node_modules
  fs.mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
  dir = fs.mkdtempSync(path.join(ROOT, '.tmp', 'third-party-'));
});
afterAll(async () => {
  await t.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('openapi-typescript + openapi-fetch: generated from the served document, compiled strict, run live', async () => {
  // the generator's own CLI reads the document the server serves (async: the server runs in this process)
  const gen = await node([
    path.join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'),
    `${t.url}/openapi.json`,
    '--output',
    path.join(dir, 'schema.ts'),
  ]);
  expect(gen.code).toBe(0);
  fs.writeFileSync(path.join(dir, 'program.mts'), PROGRAM);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  // no casts in the program's code (comments aside): no `as T`, no `<T>x`, no non-null `!.`
  expect(PROGRAM.replace(/\/\/.*$/gm, '')).not.toMatch(/\bas\s+(?!const\b)[A-Za-z{[]|<[A-Z][\w.[\]'"]*>\s*[\w(]|!\./);

  const tsc = await node([
    path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '--strict',
    '--noUncheckedIndexedAccess',
    '--target',
    'es2022',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--types',
    'node',
    '--outDir',
    path.join(dir, 'out'),
    path.join(dir, 'program.mts'),
  ]);
  expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
  expect(tsc.code).toBe(0);

  const run = await node([path.join(dir, 'out', 'program.mjs'), t.url]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const out = JSON.parse(run.stdout) as Record<string, any>;
  expect(out).toMatchObject({
    output: reply('third party'),
    exitCode: 0,
    code: 'validation_error',
    detailPath: 'body.max_turns',
    status: 400,
    contentType: 'application/x-ndjson',
    text: reply('third party stream'),
  });
  const schema = streamEventSchemaFor('streamPrompt', 200, 'application/x-ndjson');
  for (const ev of out.events) expectValidSchema(schema, ev);
  expect(out.events.at(-1).type).toBe('done');
}, 180_000);
