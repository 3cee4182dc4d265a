/**
 * Reloading the key set without a restart (SIGHUP): the named keys from the configuration file and
 * the unnamed keys of `CLINVK_API_KEYS_FILE` are read again and replace the current set in one step,
 * so a revoked key is refused by the next request. Anything wrong with the new set (invalid config,
 * missing variable, unreadable key file, or a set that would switch authentication off) keeps the
 * old set and is reported as a warning. Keys never appear in the messages.
 */
import type { KeyEntry } from './key-config';
import type { KeyRegistry } from './registry';

export interface KeySetLoader {
  /** The `auth.keys` entries of the configuration as it is now on disk (throws when invalid). */
  entries(): KeyEntry[];
  /** Unnamed keys to replace, or undefined to keep the current ones (environment, gopass). */
  unnamed(): string[] | undefined;
  /** Where `env:` entries are read. */
  env: NodeJS.ProcessEnv;
}

export interface ReloadLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

export type ReloadResult = { ok: true; named: number; total: number } | { ok: false; error: string };

export function reloadKeySet(registry: KeyRegistry, loader: KeySetLoader, logger: ReloadLogger): ReloadResult {
  try {
    const entries = loader.entries();
    registry.replace(entries, loader.env, loader.unnamed());
    const result = { ok: true as const, named: entries.length, total: registry.list().length };
    logger.info('API keys reloaded', { named_keys: result.named, keys: result.total });
    return result;
  } catch (e) {
    const error = (e instanceof Error ? e.message : String(e)).split('\n').join('; ');
    logger.warn('API key reload rejected; keeping the previous keys', { error });
    return { ok: false, error };
  }
}
