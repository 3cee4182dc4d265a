/** The shared database of a process, from the configuration, and its start-up check. */
import { ConfigError } from '../../config/load';
import { PostgresDatabase, type DatabaseLogger } from './database';
import { MigrationError } from './errors';

export interface ClusterDbConfig {
  cluster: { postgres_url?: string; postgres_schema: string; postgres_pool_size: number };
}

/** The database named by `cluster.postgres_url` (not connected yet). */
export function databaseFromConfig(config: ClusterDbConfig, logger?: DatabaseLogger): PostgresDatabase {
  const url = config.cluster.postgres_url;
  if (url === undefined) throw new ConfigError(['config error: cluster.postgres_url is not set']);
  return new PostgresDatabase({
    url,
    schema: config.cluster.postgres_schema,
    poolSize: config.cluster.postgres_pool_size,
    logger,
  });
}

/**
 * Start-up: connects and applies the migrations. A failed migration stops start-up (a
 * `ConfigError`: `clinvk serve` exits 2 with the reason); an unreachable database does not — the
 * stores answer 503 until it is reachable, and the migrations run then.
 */
export async function openDatabase(db: PostgresDatabase, logger?: DatabaseLogger): Promise<PostgresDatabase> {
  try {
    await db.ready();
  } catch (e) {
    if (e instanceof MigrationError) {
      await db.end();
      throw new ConfigError([`clinvk: ${e.message} (${db.where})`]);
    }
    logger?.warn('PostgreSQL is not reachable; the postgres stores answer 503 until it is', {
      database: db.where,
      error: (e as Error).message,
    });
  }
  return db;
}
