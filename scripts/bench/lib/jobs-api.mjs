// The jobs API as the job benchmarks (scripts/bench/jobs.mjs, scripts/bench/jobs-nodes.mjs) drive it:
// JSON requests, a prompt job, waiting for its end or for it to leave `queued`, reading a job's live
// events, and the server config.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hr, nowMs, sleep, stampOf } from './common.mjs';

/** A JSON request; resolves with { status, body (parsed, undefined when not JSON), text }. */
export async function api(url, method, p, body) {
  const res = await fetch(`${url}${p}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json, text };
}

/** POST /api/v1/jobs of an ephemeral claude prompt; resolves with the job (202 answer). */
export async function createJob(url, prompt) {
  const r = await api(url, 'POST', '/api/v1/jobs', {
    operation: 'prompt',
    request: { backend: 'claude', prompt, ephemeral: true },
  });
  if (r.status !== 202) throw new Error(`create: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  return r.body.data;
}

/** Long-polls a job until it is terminal (at most `timeoutMs`); resolves with it. */
export async function settle(url, id, timeoutMs = 120_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await api(url, 'GET', `/api/v1/jobs/${id}?wait=30`);
    const job = r.body?.data;
    if (job && ['succeeded', 'failed', 'canceled'].includes(job.status)) return job;
    if (Date.now() > end) throw new Error(`job ${id} not terminal within ${timeoutMs} ms (${job?.status})`);
  }
}

/**
 * When the job (as created, answered at `answeredAt`) was first seen no longer `queued`: `answeredAt`
 * when the create answer already said so, else the time of the first GET (polled every ~1 ms) saying so.
 */
export async function seenStarted(url, job, answeredAt) {
  if (job.status !== 'queued') return answeredAt;
  for (;;) {
    const r = await api(url, 'GET', `/api/v1/jobs/${job.id}`);
    if (r.body.data.status !== 'queued') return nowMs();
    await sleep(1);
  }
}

/** An NDJSON response body chunk by chunk: the complete non-empty lines of each, and when it arrived (hr()). */
export async function* ndjsonChunks(res) {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    const at = hr();
    buf += decoder.decode(chunk, { stream: true });
    const lines = [];
    let start = 0;
    let nl;
    while ((nl = buf.indexOf('\n', start)) >= 0) {
      const line = buf.slice(start, nl);
      start = nl + 1;
      if (line !== '') lines.push(line);
    }
    buf = buf.slice(start);
    yield { lines, at };
  }
}

/** Reads an NDJSON response, pushing receive − write (ms) of stamped `message` events after `from()`. */
export async function followStamped(res, lat, from) {
  let last;
  for await (const { lines, at } of ndjsonChunks(res)) {
    for (const line of lines) {
      const ev = JSON.parse(line);
      last = ev;
      if (ev.type !== 'message') continue;
      const t = stampOf(ev.content?.text);
      const since = from();
      if (t !== undefined && since !== undefined && t >= since) lat.push(Number(at - t) / 1e6);
    }
  }
  if (last?.type !== 'done') throw new Error(`stream ended with ${JSON.stringify(last)?.slice(0, 200)}`);
}

/**
 * A server config for the job benchmarks: the claude backend runs `command` (with `env`), the
 * others are off; `server` and `jobs` are merged into the defaults, `rest` added at the top.
 */
export function jobsServerConfig(scratch, { command, env = {}, server = {}, jobs = {}, ...rest }) {
  const work = path.join(scratch, 'work');
  fs.mkdirSync(work, { recursive: true });
  return {
    server: {
      port: 0,
      default_workdir: work,
      max_concurrent_executions: 4,
      log_level: 'warn',
      stream_heartbeat_secs: 30,
      ...server,
    },
    jobs: { max_queued: 2000, max_running: 2, ...jobs },
    session: { retention_days: 0 },
    backends: { claude: { command, env }, codex: { enabled: false }, gemini: { enabled: false } },
    ...rest,
  };
}
