#!/usr/bin/env node
// Orphans after crashes (issue 11): "20 kills under load left 16–28 orphaned grandchildren".
//
// Usage:  node scripts/bench/orphans.mjs [--kills=20] [--streams=8] [--grace=1] [--wait=2000]
//                                        [--baseline=<checkout with a built dist/>]
//
// Each round starts the built server (scripts/bench/lib/server-host.mjs, as `clinvk serve`) with
// the fake CLIs of test/fixtures/bin, opens --streams NDJSON streams whose fake CLI starts a
// grandchild (`[GRANDCHILD]`: a `sleep 300` in its process group) and keeps running
// (`[SLOW:60000]`; every other one also ignores SIGTERM, `[IGNORE_TERM]`), waits until every CLI
// and grandchild is running (PIDs from the fakes' invocation log), then SIGKILLs the server
// process alone. After kill_grace_secs (--grace) + --wait ms it counts the CLIs and grandchildren
// still alive (zombies count as dead) — the orphans — and kills them. It also reports when the
// last of them died (ms after the SIGKILL). With --baseline, the same rounds run against that
// checkout's build too (e.g. a worktree of the commit before the supervisor), interleaved.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  FAKE_BIN,
  ensureBuilt,
  fmt,
  makeScratch,
  parseArgs,
  printFacts,
  runMain,
  sleep,
  startServerProcess,
  summarize,
  table,
} from './lib/common.mjs';

const opts = parseArgs(process.argv.slice(2), { kills: 20, streams: 8, grace: 1, wait: 2000, baseline: '' });

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(st.slice(st.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

function readLog(file) {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

async function round(scratch, variant, i) {
  const dir = path.join(scratch, `${variant.name}-${i}`);
  const work = path.join(dir, 'work');
  fs.mkdirSync(work, { recursive: true });
  const logFile = path.join(dir, 'fake.log');
  const env = { FAKE_CLI_LOG: logFile, FAKE_CLI_STATE_DIR: path.join(dir, 'state'), HOME: dir };
  const server = await startServerProcess(
    dir,
    {
      backends: { claude: { command: path.join(FAKE_BIN, 'claude'), env } },
      server: {
        port: 0,
        default_workdir: work,
        kill_grace_secs: opts.grace,
        max_concurrent_executions: opts.streams + 4,
        log_level: 'error',
      },
      session: { retention_days: 0 },
    },
    { exposeGc: false, name: 'server', root: variant.root },
  );
  const ac = new AbortController();
  const streams = Array.from({ length: opts.streams }, (_, k) =>
    fetch(`${server.url}/api/v1/prompt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        backend: 'claude',
        prompt: `orphan ${k} [GRANDCHILD] [SLOW:60000]${k % 2 ? ' [IGNORE_TERM]' : ''}`,
        output_format: 'stream-json',
        ephemeral: true,
      }),
      signal: ac.signal,
    })
      .then((r) => r.text())
      .catch(() => ''),
  );
  // Wait until every CLI logged its `run` line (markers in force) and every grandchild started.
  let clis;
  let grandchildren;
  const t0 = Date.now();
  for (;;) {
    const log = readLog(logFile);
    clis = log.filter((e) => e.event === 'run').map((e) => e.pid);
    grandchildren = log.filter((e) => e.event === 'grandchild').map((e) => e.pid);
    if (clis.length >= opts.streams && grandchildren.length >= opts.streams) break;
    if (Date.now() - t0 > 60_000) throw new Error(`${variant.name}: only ${clis.length} CLIs started`);
    await sleep(50);
  }
  const pids = [...clis, ...grandchildren];
  const killedAt = Date.now();
  process.kill(server.pid, 'SIGKILL');
  let lastDeath = NaN;
  const deadline = killedAt + opts.grace * 1000 + opts.wait;
  while (Date.now() < deadline) {
    if (pids.every((p) => !alive(p))) {
      lastDeath = Date.now() - killedAt;
      break;
    }
    await sleep(10);
  }
  const orphans = pids.filter(alive);
  for (const p of orphans) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  ac.abort();
  await Promise.all(streams);
  await server.stop();
  return {
    orphans: orphans.length,
    cliOrphans: orphans.filter((p) => clis.includes(p)).length,
    lastDeath,
    processes: pids.length,
  };
}

async function main() {
  ensureBuilt();
  const scratch = makeScratch('clinvk-bench-orphans-');
  printFacts('clinvk orphans after SIGKILL of the server under load');
  const variants = [{ name: 'this build', root: undefined }];
  if (opts.baseline) {
    const root = path.resolve(opts.baseline);
    if (!fs.existsSync(path.join(root, 'dist/src/http/server.js'))) throw new Error(`${root}: no built dist/`);
    variants.push({ name: `baseline (${root})`, root });
  }
  const results = new Map(variants.map((v) => [v.name, []]));
  for (let i = 0; i < opts.kills; i++) {
    for (const v of variants) {
      const r = await round(scratch, v, i);
      results.get(v.name).push(r);
      process.stderr.write(`${v.name} #${i + 1}: ${r.orphans} orphans\n`);
    }
  }
  const rows = variants.map((v) => {
    const rs = results.get(v.name);
    const deaths = summarize(rs.map((r) => r.lastDeath).filter(Number.isFinite));
    return [
      v.name,
      rs.length,
      rs.reduce((a, r) => a + r.processes, 0),
      rs.reduce((a, r) => a + r.orphans, 0),
      rs.reduce((a, r) => a + r.cliOrphans, 0),
      rs.filter((r) => r.orphans > 0).length,
      deaths.n ? `${fmt(deaths.p50, 0)} / ${fmt(deaths.max, 0)}` : '–',
    ];
  });
  console.log(
    `### Orphans after SIGKILL of the server (${opts.streams} streams each, half ignoring SIGTERM; kill_grace_secs ${opts.grace}; counted ${opts.grace} s + ${opts.wait} ms after the kill)\n`,
  );
  console.log(
    table(
      [
        'build',
        'kills',
        'CLIs + grandchildren',
        'orphans (total)',
        'of which CLIs',
        'kills leaving orphans',
        'all dead after ms p50 / max',
      ],
      rows,
    ),
  );
  console.log();
}

runMain(main, 30 * 60 * 1000);
