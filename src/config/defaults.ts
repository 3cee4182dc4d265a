/**
 * Built-in defaults, read from the key declaration (`keys.ts`). Model alias tables and extra-flag
 * allow-lists are owned by the adapters: `model_aliases` / `allowed_extra_flags` stay undefined
 * here unless configured.
 */
import { defaultsOf } from './derive';
import { CONFIG_KEYS, type ConfigKeys } from './keys';
import type { Config } from './types';

export { DEFAULT_HOST, DEFAULT_PORT } from './keys';
export const CONFIG_FILE_NAME = 'config.yaml';
export const DEFAULT_HOME_DIR_NAME = '.clinvk';

/**
 * A fresh, mutable copy of the built-in defaults. `home` and `server.default_workdir` are
 * placeholders that `loadConfig` always fills in.
 */
export function defaultConfig(): Config {
  return { ...(defaultsOf(CONFIG_KEYS) as ConfigKeys), home: '', api_keys: [] };
}
