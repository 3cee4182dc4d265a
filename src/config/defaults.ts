/**
 * Built-in defaults. Model alias tables and extra-flag allow-lists are owned by the
 * adapters: `model_aliases` / `allowed_extra_flags` stay undefined here unless configured.
 */
import type { BackendConfig, Config } from './types';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
export const CONFIG_FILE_NAME = 'config.yaml';
export const DEFAULT_HOME_DIR_NAME = '.clinvk';

function backendDefaults(): BackendConfig {
  return {
    enabled: true,
    command: '',
    extra_flags: [],
    env: {},
    system_prompt_mode: 'replace',
    container_sandbox: false,
  };
}

/**
 * A fresh, mutable copy of the built-in defaults. `home` and `server.default_workdir` are
 * placeholders that `loadConfig` always fills in.
 */
export function defaultConfig(): Config {
  return {
    home: '',
    server: {
      host: DEFAULT_HOST,
      port: DEFAULT_PORT,
      request_timeout_secs: 300,
      read_timeout_secs: 30,
      write_timeout_secs: 300,
      idle_timeout_secs: 120,
      shutdown_timeout_secs: 30,
      kill_grace_secs: 3,
      api_keys_gopass_path: '',
      rate_limit_enabled: false,
      rate_limit_rps: 10,
      rate_limit_burst: 20,
      rate_limit_cleanup_secs: 180,
      trusted_proxies: [],
      max_request_body_bytes: 10_485_760,
      cors_allowed_origins: [],
      cors_allowed_headers: [],
      cors_allow_credentials: false,
      cors_max_age: 300,
      allowed_workdir_prefixes: [],
      blocked_workdir_prefixes: [],
      default_workdir: '',
      metrics_enabled: false,
      metrics_public: true,
      max_concurrent_executions: 8,
      max_queued_executions: 64,
      max_prompt_bytes: 100_000,
      max_output_bytes: 67_108_864,
      max_output_line_bytes: 10_485_760,
      stream_heartbeat_secs: 15,
      backend_check_ttl_secs: 30,
      log_level: 'info',
    },
    default_backend: 'claude',
    unified_flags: {
      approval_mode: 'default',
      sandbox_mode: 'default',
      verbose: false,
      dry_run: false,
      max_turns: 0,
      max_tokens: 0,
      command_timeout_secs: 0,
    },
    backends: {
      claude: backendDefaults(),
      codex: backendDefaults(),
      gemini: backendDefaults(),
    },
    session: {
      store: 'file',
      retention_days: 30,
      cleanup_interval_secs: 3600,
      default_tags: [],
      store_token_usage: true,
      auto_resume: true,
    },
    output: { format: 'json' },
    parallel: { max_workers: 3, fail_fast: false, aggregate_output: true },
    api_keys: [],
  };
}
