/** Usage store factory (`usage.store`). */
import path from 'node:path';
import type { Logger } from '../observability/logger';
import type { PostgresDatabase } from '../db/postgres';
import { FileUsageStore } from './file/file-store';
import { PostgresUsageStore } from './postgres';
import type { UsageStore } from './types';

export interface UsageStoreConfig {
  /** Resolved `$CLINVK_HOME`. */
  home: string;
  usage: { store: string };
}

/**
 * The configured store, not opened yet (`file`: `$CLINVK_HOME/usage/`; `postgres`: on `db`, the
 * process's shared database).
 */
export function createUsageStore(config: UsageStoreConfig, logger?: Logger, db?: PostgresDatabase): UsageStore {
  const kind = config.usage.store;
  if (kind === 'postgres') {
    if (!db) throw new Error('usage.store: postgres needs the database (cluster.postgres_url)');
    return new PostgresUsageStore(db);
  }
  if (kind !== 'file') throw new Error(`unknown usage store: ${kind}`);
  return new FileUsageStore(path.join(config.home, 'usage'), { onRepair: (m) => logger?.warn(m) });
}
