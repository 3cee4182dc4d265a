/**
 * The PostgreSQL database shared by the postgres stores of one process: one `pg.Pool` (tables in the
 * configured schema through the connection's `search_path`), migrations applied once under an
 * advisory lock, and readiness.
 *
 * Unreachable database: calls fail fast with `DatabaseUnavailable` (the stores answer 503
 * `session_store_unavailable`), a new connection is tried at the next call (at most once per
 * `RETRY_MS` while it keeps failing), and the pool replaces broken connections by itself. A
 * migration that fails is not retried: it is a fault of the schema, reported by `ready()` and at
 * start-up (exit 2). See docs/postgres.md.
 */
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { describeDbError, isConnectionError, MigrationError, redactUrl } from './errors';
import { MIGRATIONS, type Migration } from './migrations';

export interface DatabaseLogger {
  warn(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
}

export interface DatabaseOptions {
  url: string;
  /** Schema of the tables (created when missing). */
  schema: string;
  poolSize?: number;
  logger?: DatabaseLogger;
  /** Connection attempt timeout (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Migrations to apply (default: all of the stores'). */
  migrations?: readonly Migration[];
}

/** The database cannot be reached right now. */
export class DatabaseUnavailable extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'DatabaseUnavailable';
  }
}

const RETRY_MS = 1000;
const silent: DatabaseLogger = { warn() {}, info() {} };

/** A lowercase SQL identifier, quoted. */
function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid schema name: ${name}`);
  return `"${name}"`;
}

export class PostgresDatabase {
  readonly schema: string;
  readonly url: string;
  private readonly log: DatabaseLogger;
  private readonly migrations: readonly Migration[];
  private pool?: Pool;
  private readonly poolSize: number;
  private readonly connectTimeoutMs: number;
  private migrated = false;
  private pending?: Promise<void>;
  /** The last failure of `ready()` and when it happened (retried after RETRY_MS). */
  private failure?: { error: Error; at: number };
  private refs = 0;
  private ended = false;

  constructor(opts: DatabaseOptions) {
    this.url = opts.url;
    this.schema = opts.schema;
    ident(opts.schema);
    this.log = opts.logger ?? silent;
    this.poolSize = opts.poolSize ?? 10;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.migrations = opts.migrations ?? MIGRATIONS;
  }

  /** `url` without its password. */
  get where(): string {
    return `${redactUrl(this.url)} (schema ${this.schema})`;
  }

  /** A store starts using the database; `release()` when it closes (the last one ends the pool). */
  acquire(): void {
    this.refs++;
  }

  async release(): Promise<void> {
    this.refs = Math.max(0, this.refs - 1);
    if (this.refs === 0) await this.end();
  }

  get closed(): boolean {
    return this.ended;
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const pool = this.pool;
    this.pool = undefined;
    await this.pending?.catch(() => undefined);
    await pool?.end().catch(() => undefined);
  }

  /**
   * Connects and applies the migrations (once). Throws `DatabaseUnavailable` while the database
   * cannot be reached, `MigrationError` when a migration failed.
   */
  async ready(): Promise<void> {
    if (this.migrated) return;
    if (this.ended) throw new DatabaseUnavailable('the database connection is closed');
    const f = this.failure;
    if (f && (f.error instanceof MigrationError || Date.now() - f.at < RETRY_MS)) throw f.error;
    this.pending ??= this.migrate()
      .then(() => {
        this.migrated = true;
        this.failure = undefined;
      })
      .catch((e: unknown) => {
        const error =
          e instanceof MigrationError || e instanceof DatabaseUnavailable
            ? e
            : isConnectionError(e)
              ? new DatabaseUnavailable(describeDbError(e))
              : new MigrationError(0, 'schema', describeDbError(e));
        this.failure = { error, at: Date.now() };
        this.log.warn('PostgreSQL not ready', { database: this.where, error: error.message });
        throw error;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** The last failure (for health), or undefined. */
  get lastError(): string | undefined {
    return this.failure?.error.message;
  }

  /** One statement on a pooled connection (after `ready()`). */
  async query<R extends QueryResultRow = QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    await this.ready();
    try {
      return (await this.connection().query<R>(text, params)).rows;
    } catch (e) {
      throw this.classify(e);
    }
  }

  /** `fn` inside BEGIN … COMMIT on one connection (ROLLBACK when it throws). */
  async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    await this.ready();
    let client: PoolClient;
    try {
      client = await this.connection().connect();
    } catch (e) {
      throw this.classify(e);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      broken = isConnectionError(e);
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      throw this.classify(e);
    } finally {
      client.release(broken);
    }
  }

  /** Connection failures become `DatabaseUnavailable`; anything else is returned as it is. */
  classify(e: unknown): unknown {
    if (e instanceof DatabaseUnavailable) return e;
    if (isConnectionError(e)) return new DatabaseUnavailable(describeDbError(e));
    return e;
  }

  private connection(): Pool {
    if (this.ended) throw new DatabaseUnavailable('the database connection is closed');
    if (!this.pool) {
      // Loaded only when a postgres store is configured.
      const pg = require('pg') as typeof import('pg');
      const pool = new pg.Pool({
        connectionString: this.url,
        max: this.poolSize,
        connectionTimeoutMillis: this.connectTimeoutMs,
        idleTimeoutMillis: 30_000,
        options: `-c search_path=${ident(this.schema)}`,
        application_name: 'clinvk',
      });
      // An idle connection that breaks (server restart, network) is dropped by the pool; without a
      // listener the error would end the process.
      pool.on('error', (e) => this.log.warn('PostgreSQL connection lost', { error: describeDbError(e) }));
      this.pool = pool;
    }
    return this.pool;
  }

  private async migrate(): Promise<void> {
    let client: PoolClient;
    try {
      client = await this.connection().connect();
    } catch (e) {
      throw new DatabaseUnavailable(describeDbError(e));
    }
    let broken = false;
    const lockKey = `clinvk migrations ${this.schema}`;
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
      try {
        if (this.schema !== 'public') await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(this.schema)}`);
        await client.query(`SET search_path TO ${ident(this.schema)}`);
        await client.query(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
        );
        const done = new Set(
          (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
        );
        for (const m of this.migrations) {
          if (done.has(m.version)) continue;
          try {
            await client.query('BEGIN');
            await client.query(m.sql);
            await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
            await client.query('COMMIT');
          } catch (e) {
            if (isConnectionError(e)) throw e;
            await client.query('ROLLBACK').catch(() => undefined);
            throw new MigrationError(m.version, m.name, describeDbError(e));
          }
          this.log.info('PostgreSQL migration applied', { version: m.version, name: m.name, schema: this.schema });
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => (broken = true));
      }
    } catch (e) {
      broken ||= isConnectionError(e);
      if (e instanceof MigrationError) throw e;
      if (isConnectionError(e)) throw new DatabaseUnavailable(describeDbError(e));
      throw new MigrationError(0, 'schema', describeDbError(e));
    } finally {
      client.release(broken);
    }
  }
}
