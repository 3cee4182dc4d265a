/**
 * The README quickstart as data: its shell blocks' curl commands (for the default base URL) and the
 * JSON outputs shown after them, and a runner that executes the commands against a live server and
 * checks each answer against what the README shows. Used with the fake CLIs (integration suite) and
 * with the real CLIs against the fake model provider (e2e suite).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const README = fs.readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
export const BASE = 'http://127.0.0.1:8080';

export interface Block {
  lang: string;
  text: string;
}

export function blocks(md: string): Block[] {
  return [...md.matchAll(/^(?:> )?```(\w*)\n([\s\S]*?)^(?:> )?```$/gm)].map((m) => ({ lang: m[1]!, text: m[2]! }));
}

/** The curl commands of a shell block (continuation lines joined). */
export function curls(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('curl ') && l.includes(BASE));
}

/** Keys and value types, recursively (arrays by their first element). */
export function shape(v: unknown): unknown {
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

export const jsonLines = (text: string): unknown[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as unknown);

/** Runs a shell command asynchronously (the server may run in the calling process). */
export function sh(cmd: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', cmd], { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * Runs every README curl command against `url` (the README's session id replaced by the one its
 * first prompt created) and expects: exit 0, no stderr, JSON answers without `success: false`, and
 * the same shape as the output block that follows. Returns the number of commands run and the pairs
 * (answer, shown) of every shown output, for callers that compare values too.
 */
export async function runReadmeCurls(url: string): Promise<{ ran: number; pairs: [unknown, unknown][] }> {
  const all = blocks(README);
  let sessionId: string | undefined;
  let ran = 0;
  const pairs: [unknown, unknown][] = [];
  for (const [i, b] of all.entries()) {
    if (b.lang !== 'sh') continue;
    const commands = curls(b.text);
    if (commands.length === 0) continue;
    const outputs: unknown[] = [];
    for (const c of commands) {
      let cmd = c.split(BASE).join(url);
      if (/"session_id":"[0-9a-f]{32}"/.test(cmd)) {
        expect(sessionId).toBeDefined();
        cmd = cmd.replace(/"session_id":"[0-9a-f]{32}"/, `"session_id":"${sessionId}"`);
      }
      const r = await sh(cmd);
      expect([cmd, r.status, r.stderr]).toEqual([cmd, 0, '']);
      const docs = jsonLines(r.stdout);
      expect([cmd, docs.length > 0]).toEqual([cmd, true]);
      for (const d of docs) {
        const doc = d as { success?: boolean; data?: { session_id?: string } };
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
      shown.forEach((doc, k) => pairs.push([outputs[k], doc]));
    }
  }
  return { ran, pairs };
}
