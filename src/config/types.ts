/**
 * The effective, validated configuration. Produced once at start-up by `loadConfig` and frozen;
 * every key with a default is present. The shape of the file's keys is derived from their
 * declaration in `keys.ts` (add keys there, not here).
 */
import type { ConfigKeys } from './keys';

export type { ConfigKeys } from './keys';

export type LogLevel = ConfigKeys['server']['log_level'];
export type ServerConfig = ConfigKeys['server'];
export type BackendConfig = ConfigKeys['backends']['claude'];

/** The file's keys plus what `loadConfig` resolves at start-up (not settable in the file). */
export interface Config extends ConfigKeys {
  /** Resolved `$CLINVK_HOME` (absolute). */
  home: string;
  /** The config file actually read, if any. */
  config_file?: string;
  /** API keys from `CLINVK_API_KEYS` or gopass; never from the file. Empty → auth off. */
  api_keys: string[];
  /** `CLINVK_API_KEYS_GOPASS_PATH` or `server.api_keys_gopass_path` when keys come from gopass. */
  api_keys_gopass_path?: string;
}
