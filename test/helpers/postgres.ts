/**
 * The real PostgreSQL of the test machine (never a mock): `CLINVK_TEST_POSTGRES_URL` or
 * postgres://postgres@127.0.0.1:5432/test (`make test` makes sure it answers: scripts/services.sh).
 * Every run works in fresh schemas (`clinvk_t_<pid>_<random>`) that it drops at the end, so runs
 * never see each other's data.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { PostgresDatabase } from '../../src/db/postgres';

export const TEST_POSTGRES_URL = process.env.CLINVK_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
  } catch (e) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_POSTGRES_URL} (${(e as Error).message}): run scripts/services.sh or set CLINVK_TEST_POSTGRES_URL`,
      { cause: e },
    );
  }
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A new schema name (not created: the stores' migrations create it). */
export function newSchemaName(): string {
  return `clinvk_t_${process.pid}_${randomBytes(5).toString('hex')}`;
}

/** Drops schemas (and everything in them). */
export async function dropSchemas(names: string[]): Promise<void> {
  if (names.length === 0) return;
  await admin(async (c) => {
    for (const n of names) await c.query(`DROP SCHEMA IF EXISTS "${n}" CASCADE`);
  });
}

/** Runs SQL as the test user (setting up broken schemas, inspecting tables). */
export async function sql<R = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R[]> {
  return admin(async (c) => (await c.query(text, params)).rows as R[]);
}

/** Schemas made by one test file: `schema()` makes one, `dropAll()` (in afterAll) drops them. */
export class SchemaPool {
  private readonly made: string[] = [];

  schema(): string {
    const name = newSchemaName();
    this.made.push(name);
    return name;
  }

  /** A database handle on `schema` (each call: its own pool, as another process would have). */
  database(schema: string, url = TEST_POSTGRES_URL): PostgresDatabase {
    return new PostgresDatabase({ url, schema, poolSize: 4 });
  }

  async dropAll(): Promise<void> {
    await dropSchemas(this.made.splice(0));
  }
}

/** Config overrides that select the postgres stores on `schema`. */
export function postgresConfig(
  schema: string,
  stores: ('session' | 'jobs' | 'usage')[] = ['session', 'jobs', 'usage'],
) {
  const out: Record<string, unknown> = { cluster: { postgres_url: TEST_POSTGRES_URL, postgres_schema: schema } };
  for (const s of stores) out[s] = { store: 'postgres' };
  return out;
}
