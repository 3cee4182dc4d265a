// A cluster of clinvk nodes for the benchmarks (scripts/bench/cluster.mjs): API and worker nodes as
// separate server processes (lib/server-host.mjs), each with its own home and node id, sharing a key
// prefix of their own on Redis and one PostgreSQL schema. Redis: CLINVK_BENCH_REDIS_URL (default
// redis://127.0.0.1:6379); PostgreSQL: CLINVK_BENCH_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/test).
import * as http from 'node:http';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, onCleanup, startServerProcess } from './common.mjs';

const require = createRequire(import.meta.url);
const { Redis } = require(path.join(ROOT, 'node_modules/ioredis'));
const { Client } = require(path.join(ROOT, 'node_modules/pg'));
export const REDIS_URL = process.env.CLINVK_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_URL = process.env.CLINVK_BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function dropPrefix(prefix) {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

export async function dropSchema(schema) {
  const c = new Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

/**
 * Starts `workers` worker nodes (w1, w2, …) and `apis` API nodes (a1, …) on `base` (a config
 * document) plus the cluster keys; resolves once every worker's heartbeat is live. Returns
 * { url (the first API node), add(workerId), stop(id), live(), close() }.
 */
export async function startBenchCluster(scratch, name, base, { schema, slots = 4, apis = 1, workers = 1 }) {
  const prefix = `clinvk-bench-${name}`;
  onCleanup(() => dropPrefix(prefix));
  const nodes = new Map();
  const add = async (role, id) => {
    const config = {
      ...base,
      cluster: {
        enabled: true,
        redis_url: REDIS_URL,
        postgres_url: PG_URL,
        postgres_schema: schema,
        key_prefix: prefix,
        role,
        node_id: id,
        worker_slots: slots,
        // the defaults: a worker busy starting up on a loaded machine must not look lost
        lock_secs: 30,
        lease_secs: 10,
      },
    };
    const node = await startServerProcess(scratch, config, { exposeGc: false, name: `${name}-${id}` });
    nodes.set(id, node);
    return node;
  };
  for (let i = 1; i <= workers; i++) await add('worker', `w${i}`);
  const api = [];
  for (let i = 1; i <= apis; i++) api.push(await add('api', `a${i}`));
  const c = {
    url: api[0].url,
    add: async (id) => {
      await add('worker', id);
      await c.live();
    },
    stop: async (id) => {
      await nodes.get(id)?.stop();
      nodes.delete(id);
    },
    /** Waits until every worker node has a live heartbeat. */
    live: async () => {
      const ids = [...nodes.keys()].filter((k) => k.startsWith('w'));
      const redis = new Redis(REDIS_URL);
      try {
        for (const end = Date.now() + 20_000; ; await sleep(50)) {
          const v = await redis.mget(...ids.map((id) => `${prefix}:worker:${id}`));
          if (v.every(Boolean)) return;
          if (Date.now() > end) throw new Error(`${name}: workers not live`);
        }
      } finally {
        redis.disconnect();
      }
    },
    close: async () => {
      for (const n of [...nodes.values()].reverse()) await n.stop();
      await dropPrefix(prefix);
    },
  };
  await c.live();
  return c;
}

/** POST /api/v1/prompt with a JSON body; resolves with { status, text }. */
export function post(agent, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/v1/prompt`,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
