#!/usr/bin/env node
// Idle memory of the clinvk server process (a supervisor child, if any, is not counted).
// Usage: node scripts/bench/rss.mjs [--starts=5] [--root=DIR]
//
// Each start: the server as `clinvk serve` runs it (scripts/bench/lib/server-host.mjs, API key,
// rate limit and metrics on, access log at info to a file), a few requests to every non-executing
// endpoint, then VmRSS from /proc and process.memoryUsage() twice: after 2 s and a full GC, and after
// `--idle` seconds without requests and a full GC. The RSS right after start and the idle figure
// are held to ≤ 90 MB. V8 keeps a young generation grown during start-up (tens of MB of empty
// pages) until its memory reducer runs on an idle heap; src/http/startup-heap.ts keeps it at its
// initial size while the server starts.
// The starts run side by side (idle servers do not compete); medians are printed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ensureBuilt,
  fmt,
  makeScratch,
  mib,
  parseArgs,
  printFacts,
  runMain,
  startServerProcess,
  table,
  productionLikeConfig,
} from './lib/common.mjs';

const opts = parseArgs(process.argv.slice(2), { starts: 5, idle: 30, root: '' });
const KEY = 'bench-key-0123456789';
const ENDPOINTS = ['/health', '/api/v1/backends', '/api/v1/sessions', '/openai/v1/models'];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One start; returns the idle figures in bytes. */
export async function idleMemory(root) {
  const scratch = makeScratch('clinvk-bench-rss-');
  const server = await startServerProcess(scratch, productionLikeConfig(), { env: { CLINVK_API_KEYS: KEY }, root });
  try {
    const started = server.procStatus().VmRSS;
    for (let i = 0; i < 5; i++) {
      for (const p of ENDPOINTS) {
        const res = await fetch(server.url + p, { headers: { 'x-api-key': KEY } });
        if (res.status !== 200) throw new Error(`${p}: ${res.status}`);
        await res.arrayBuffer();
      }
    }
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    await sleep(2000);
    await server.mem(true);
    await sleep(200);
    const short = server.procStatus().VmRSS;
    await sleep(Math.max(0, opts.idle * 1000 - 2200));
    const mem = await server.mem(true);
    await sleep(200);
    const st = server.procStatus();
    return {
      started,
      short,
      rss: st.VmRSS,
      peak: st.VmHWM,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      external: mem.external,
    };
  } finally {
    await server.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function main() {
  ensureBuilt();
  printFacts('clinvk idle memory');
  const root = opts.root ? path.resolve(opts.root) : undefined;
  const runs = await Promise.all(Array.from({ length: opts.starts }, () => idleMemory(root)));
  const m = (k) => mib(median(runs.map((r) => r[k])));
  console.log(
    table(
      ['figure (MiB, median of ' + opts.starts + ' starts)', 'value'],
      [
        ['RSS right after start', m('started')],
        ['RSS after the requests, 2 s and a full GC', m('short')],
        [`idle RSS (${opts.idle} s without requests, full GC)`, m('rss')],
        ['peak RSS (VmHWM)', m('peak')],
        ['heap used / total', `${m('heapUsed')} / ${m('heapTotal')}`],
        ['external', m('external')],
        ['idle RSS per start', runs.map((r) => mib(r.rss)).join(' ')],
      ],
    ),
  );
  const line = (label, bytes) =>
    `${label} ${fmt(bytes / 1048576, 1)} MiB = ${fmt(bytes / 1e6, 1)} MB (target ≤ 90 MB: ${bytes <= 90e6 ? 'met' : 'NOT met'})`;
  console.log('\n' + line('RSS right after start', median(runs.map((r) => r.started))));
  console.log(line('idle RSS', median(runs.map((r) => r.rss))));
}

runMain(main, 5 * 60 * 1000);
