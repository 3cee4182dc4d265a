#!/usr/bin/env node
// Summarises V8 .cpuprofile files (node --cpu-prof): the top self-time frames and the self time
// per module (node_modules package, dist/ file, or Node internals).
// Usage: node scripts/bench/lib/cpuprofile-top.mjs FILE.cpuprofile… [--top=25]
import * as fs from 'node:fs';

const args = process.argv.slice(2);
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
const files = args.filter((a) => !a.startsWith('--'));

function moduleOf(url) {
  if (!url) return '(native/vm)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

const frames = new Map();
const modules = new Map();
let total = 0;
for (const f of files) {
  const prof = JSON.parse(fs.readFileSync(f, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const dt = prof.timeDeltas;
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const d = dt[i + 1] ?? 0;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + d);
  }
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') continue;
    total += us;
    const short = cf.url ? cf.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/') : '';
    const key = `${cf.functionName || '(anonymous)'} ${short}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    frames.set(key, (frames.get(key) ?? 0) + us);
    const m = cf.functionName === '(garbage collector)' ? '(gc)' : moduleOf(cf.url);
    modules.set(m, (modules.get(m) ?? 0) + us);
  }
}
const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5) + ' %';
console.log(`busy (non-idle) time: ${(total / 1000).toFixed(0)} ms\n`);
console.log(`top ${top} self-time frames:`);
for (const [k, us] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
console.log(`\nself time by module:`);
for (const [k, us] of [...modules].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
