/** Usage store factory (`usage.store`). */
import path from 'node:path';
import type { Logger } from '../observability/logger';
import { FileUsageStore } from './file/file-store';
import type { UsageStore } from './types';

export interface UsageStoreConfig {
  /** Resolved `$CLINVK_HOME`. */
  home: string;
  usage: { store: string };
}

/** The configured store, not opened yet (`file`: `$CLINVK_HOME/usage/`). */
export function createUsageStore(config: UsageStoreConfig, logger?: Logger): UsageStore {
  const kind = config.usage.store;
  if (kind !== 'file') throw new Error(`unknown usage store: ${kind}`);
  return new FileUsageStore(path.join(config.home, 'usage'), { onRepair: (m) => logger?.warn(m) });
}
