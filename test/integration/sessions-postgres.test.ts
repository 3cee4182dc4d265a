/**
 * What only the PostgreSQL stores have (the shared behaviour runs in sessions.test.ts and the store
 * contract suites): selection by configuration, an unreachable database (503, unhealthy, ephemeral
 * runs keep working), reconnection, migrations (versioned, idempotent, concurrent, a failure stops
 * start-up with exit 2), and two server processes on one database racing for a session.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import request from 'supertest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load';
import { MIGRATIONS } from '../../src/db/postgres/migrations';
import { createServerApp } from '../../src/http/server';
import { createSilentLogger } from '../../src/observability/logger';
import { expectMatchesSpec } from '../helpers/contract';
import { postgresConfig, SchemaPool, sql, TEST_POSTGRES_URL } from '../helpers/postgres';
import { makeTestApp, makeTestEnv, waitFor, type TestEnv } from '../helpers/server';

const BIN = path.resolve(__dirname, '../../bin/clinvk.js');
const MAIN = path.resolve(__dirname, '../../dist/src/cli/main.js');

const schemas = new SchemaPool();
afterAll(() => schemas.dropAll());

/** A TCP proxy to the test PostgreSQL that can be cut (every connection dropped, port closed) and restored. */
class CuttableProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async start(): Promise<void> {
    const target = new URL(TEST_POSTGRES_URL);
    this.server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server!.address() as net.AddressInfo).port;
  }

  get url(): string {
    const u = new URL(TEST_POSTGRES_URL);
    u.host = `127.0.0.1:${this.port}`;
    return u.toString();
  }

  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('postgres session store selected by configuration', () => {
  test('session.store: postgres keeps sessions in the schema; a second app on the same schema sees them', async () => {
    const schema = schemas.schema();
    const a = await makeTestApp(postgresConfig(schema, ['session']));
    // A second app on the same configuration (the fake CLIs keep their conversations in one state
    // directory, as a CLI's home would be shared): only the database connects the two.
    const b = {
      app: undefined as unknown as typeof a.app,
      bundle: await createServerApp(a.config, createSilentLogger()),
    };
    b.app = b.bundle.app;
    try {
      const first = await request(a.app).post('/api/v1/prompt').send({ backend: 'claude', prompt: 'hi' });
      expectMatchesSpec('executePrompt', first.status, first.body);
      expect(first.status).toBe(200);
      const id = first.body.data.session_id as string;
      expect(a.sessionFiles()).toEqual([]); // nothing on disk
      const rows = await sql<{ id: string; status: string }>(`SELECT id, status FROM "${schema}".sessions`);
      expect(rows).toEqual([{ id, status: 'completed' }]);
      // The other app continues it (by prefix) and lists it.
      const cont = await request(b.app)
        .post('/api/v1/prompt')
        .send({ session_id: id.slice(0, 8), prompt: 'again' });
      expect(cont.status).toBe(200);
      expect(cont.body.data.session_id).toBe(id);
      const got = await request(a.app).get(`/api/v1/sessions/${id}`);
      expectMatchesSpec('getSession', got.status, got.body);
      expect(got.body.data).toMatchObject({ id, status: 'completed', turn_count: 2 });
      const health = await request(b.app).get('/health');
      expectMatchesSpec('healthCheck', health.status, health.body);
      expect(health.status).toBe(200);
      expect(health.body.session_store).toEqual({ available: true, session_count: 1 });
    } finally {
      await b.bundle.close();
      await a.close();
    }
  });

  test('session.store: postgres without cluster.postgres_url is a configuration error', () => {
    const env = makeTestEnv();
    try {
      const file = path.join(env.root, 'pg.yaml');
      fs.writeFileSync(file, stringify({ session: { store: 'postgres' } }));
      expect(() => loadConfig({ flags: { config: file }, env: { CLINVK_HOME: env.home }, cwd: env.workdir })).toThrow(
        'config error: session.store: postgres needs cluster.postgres_url (or CLINVK_POSTGRES_URL) to be set',
      );
    } finally {
      env.cleanup();
    }
  });
});

describe('postgres unreachable', () => {
  test('closed port: /health unhealthy (503), prompts that need a session → 503, ephemeral runs still work', async () => {
    const port = await closedPort();
    const url = `postgres://postgres@127.0.0.1:${port}/test`;
    const t = await makeTestApp({
      session: { store: 'postgres' },
      cluster: { postgres_url: url, postgres_schema: schemas.schema() },
    });
    try {
      const h = await request(t.app).get('/health');
      expectMatchesSpec('healthCheck', h.status, h.body);
      expect(h.status).toBe(503);
      expect(h.body).toMatchObject({
        status: 'unhealthy',
        session_store: { available: false, session_count: 0, error: expect.stringContaining('ECONNREFUSED') },
      });
      const p = await request(t.app).post('/api/v1/prompt').send({ backend: 'claude', prompt: 'hi' });
      expectMatchesSpec('executePrompt', p.status, p.body);
      expect(p.status).toBe(503);
      expect(p.body).toMatchObject({ success: false, code: 'session_store_unavailable' });
      expect(p.body.error).toMatch(/^session store unavailable: PostgreSQL unreachable: /);
      const before = t.starts().length;
      const e = await request(t.app).post('/api/v1/prompt').send({ backend: 'claude', prompt: 'hi', ephemeral: true });
      expectMatchesSpec('executePrompt', e.status, e.body);
      expect(e.status).toBe(200);
      expect(t.starts().length).toBe(before + 1);
      const l = await request(t.app).get('/api/v1/sessions');
      expectMatchesSpec('listSessions', l.status, l.body);
      expect(l.status).toBe(503);
      expect(l.body.code).toBe('session_store_unavailable');
      const g = await request(t.app).get(`/api/v1/sessions/${'a'.repeat(32)}`);
      expect(g.status).toBe(503);
    } finally {
      await t.close();
    }
  });

  test('the database going away and coming back: 503 meanwhile, then it works again without a restart', async () => {
    const proxy = new CuttableProxy();
    await proxy.start();
    const t = await makeTestApp({
      session: { store: 'postgres' },
      cluster: { postgres_url: proxy.url, postgres_schema: schemas.schema() },
    });
    try {
      const first = await request(t.app).post('/api/v1/prompt').send({ backend: 'codex', prompt: 'one' });
      expect(first.status).toBe(200);
      const id = first.body.data.session_id as string;

      await proxy.cut();
      const down = await request(t.app).get('/health');
      expect(down.status).toBe(503);
      expect(down.body.session_store.available).toBe(false);
      const cont = await request(t.app).post('/api/v1/prompt').send({ session_id: id, prompt: 'two' });
      expectMatchesSpec('executePrompt', cont.status, cont.body);
      expect(cont.status).toBe(503);
      expect(cont.body.code).toBe('session_store_unavailable');
      const eph = await request(t.app).post('/api/v1/prompt').send({ backend: 'codex', prompt: 'x', ephemeral: true });
      expect(eph.status).toBe(200);

      await proxy.start(); // same port
      await waitFor(async () => (await request(t.app).get('/health')).status === 200, 10_000, 100);
      const again = await request(t.app).post('/api/v1/prompt').send({ session_id: id, prompt: 'two' });
      expectMatchesSpec('executePrompt', again.status, again.body);
      expect(again.status).toBe(200);
      const info = await request(t.app).get(`/api/v1/sessions/${id}`);
      expect(info.body.data).toMatchObject({ status: 'completed', turn_count: 2 });
    } finally {
      await t.close();
      await proxy.cut().catch(() => undefined);
    }
  });
});

describe('migrations', () => {
  test('versioned and applied once, also when several processes start at the same time; a reopen changes nothing', async () => {
    const schema = schemas.schema();
    const dbs = Array.from({ length: 4 }, () => schemas.database(schema));
    await Promise.all(dbs.map((db) => db.ready()));
    const applied = await sql<{ version: number; name: string }>(
      `SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`,
    );
    // every migration once, numbered 1, 2, 3, … in order
    expect(applied).toEqual(MIGRATIONS.map((m, i) => ({ version: i + 1, name: m.name })));
    expect(applied.slice(0, 7).map((r) => r.name)).toEqual([
      'sessions',
      'jobs',
      'sessions list by backend and status',
      'usage',
      'usage daily rollup',
      'jobs across nodes',
      'sessions list totals',
    ]);
    await Promise.all(dbs.map((db) => db.end()));
    const again = schemas.database(schema);
    await again.ready();
    await again.end();
    expect(await sql(`SELECT version FROM "${schema}".schema_migrations`)).toHaveLength(MIGRATIONS.length);
    const tables = await sql<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    expect(tables.map((r) => r.table_name)).toEqual([
      'job_events',
      'job_nodes',
      'jobs',
      'schema_migrations',
      'sessions',
      'usage_daily',
      'usage_records',
    ]);
  });

  test('a migration that fails stops the app from starting, with the reason', async () => {
    const schema = schemas.schema();
    // A table of the same name that is not ours: migration 1 cannot create `sessions`.
    await sql(`CREATE SCHEMA "${schema}"`);
    await sql(`CREATE TABLE "${schema}".sessions (x integer)`);
    const env = makeTestEnv(postgresConfig(schema, ['session']));
    try {
      await expect(createServerApp(env.config, createSilentLogger())).rejects.toThrow(
        /^clinvk: PostgreSQL migration 1 \(sessions\) failed: relation "sessions" already exists/,
      );
      expect(await sql(`SELECT version FROM "${schema}".schema_migrations`)).toEqual([]);
    } finally {
      env.cleanup();
    }
  });

  test('clinvk serve exits 2 naming the failed migration', async () => {
    if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
    const schema = schemas.schema();
    await sql(`CREATE SCHEMA "${schema}"`);
    await sql(`CREATE TABLE "${schema}".sessions (x integer)`);
    const env = makeTestEnv(postgresConfig(schema, ['session']));
    try {
      const r = spawnSync(
        process.execPath,
        [BIN, 'serve', '--config', path.join(env.root, 'config.yaml'), '--port', '0'],
        {
          env: { ...process.env, CLINVK_HOME: env.home, CLINVK_API_KEYS: '', CLINVK_CONFIG: '' },
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(
        'clinvk: PostgreSQL migration 1 (sessions) failed: relation "sessions" already exists',
      );
      expect(r.stdout).not.toContain('listening on');
    } finally {
      env.cleanup();
    }
  });
});

describe('two server processes on one database', () => {
  let env: TestEnv;
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    env?.cleanup();
  });

  function serve(home: string): Promise<string> {
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--config', path.join(env.root, 'config.yaml'), '--port', '0', '--log-level', 'error'],
      {
        env: { ...process.env, CLINVK_HOME: home, CLINVK_API_KEYS: '', CLINVK_CONFIG: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let out = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
  }

  test('racing continuations of one session on two processes: exactly one runs, the others get 409; no turn lost', async () => {
    if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
    const schema = schemas.schema();
    env = makeTestEnv(postgresConfig(schema, ['session']));
    // Separate homes: nothing is shared but the database.
    const homes = [path.join(env.root, 'home-a'), path.join(env.root, 'home-b')];
    const [a, b] = await Promise.all(homes.map((h) => serve(h)));
    const post = (base: string, body: object) =>
      fetch(`${base}/api/v1/prompt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (r) => {
        const json = (await r.json()) as Record<string, any>;
        expectMatchesSpec('executePrompt', r.status, json);
        return { status: r.status, body: json };
      });
    const first = await post(a, { backend: 'claude', prompt: 'start' });
    expect(first.status).toBe(200);
    const id = first.body.data.session_id as string;
    let ok = 1;
    for (let round = 0; round < 2; round++) {
      // The winner's turn lasts 3 s: every other request of the round arrives while it runs.
      const race = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          post(i % 2 ? a : b, { session_id: id, prompt: `race ${round} [SLEEP:3000]` }),
        ),
      );
      const statuses = race.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 409, 409, 409, 409, 409]);
      for (const r of race.filter((x) => x.status === 409)) expect(r.body.code).toBe('session_busy');
      ok++;
    }
    const info = await fetch(`${b}/api/v1/sessions/${id}`).then((r) => r.json() as Promise<Record<string, any>>);
    expect(info.data).toMatchObject({ id, status: 'completed', turn_count: ok });
    const list = await fetch(`${a}/api/v1/sessions`).then((r) => r.json() as Promise<Record<string, any>>);
    expect(list.data.total).toBe(1);
    for (const h of homes) expect(fs.existsSync(path.join(h, 'sessions'))).toBe(false);
  }, 90_000);
});
