/**
 * The effective, validated configuration. Produced once at start-up by `loadConfig`
 * and frozen; every key is present with its default filled in.
 */
import type { ApprovalMode, BackendName, SandboxMode } from '../backends/types';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface ServerConfig {
  host: string;
  port: number;
  request_timeout_secs: number;
  read_timeout_secs: number;
  write_timeout_secs: number;
  idle_timeout_secs: number;
  shutdown_timeout_secs: number;
  kill_grace_secs: number;
  api_keys_gopass_path: string;
  rate_limit_enabled: boolean;
  rate_limit_rps: number;
  rate_limit_burst: number;
  rate_limit_cleanup_secs: number;
  trusted_proxies: string[];
  max_request_body_bytes: number;
  cors_allowed_origins: string[];
  cors_allowed_headers: string[];
  cors_allow_credentials: boolean;
  cors_max_age: number;
  allowed_workdir_prefixes: string[];
  blocked_workdir_prefixes: string[];
  /** Resolved at load time: `""` in the file → the process cwd at start-up. */
  default_workdir: string;
  metrics_enabled: boolean;
  metrics_public: boolean;
  max_concurrent_executions: number;
  max_queued_executions: number;
  max_prompt_bytes: number;
  max_output_bytes: number;
  max_output_line_bytes: number;
  stream_heartbeat_secs: number;
  backend_check_ttl_secs: number;
  log_level: LogLevel;
}

export interface BackendConfig {
  enabled: boolean;
  /** `""` → the backend's default name on PATH. */
  command: string;
  model?: string;
  /** Replaces the built-in alias table when set. */
  model_aliases?: Record<string, string>;
  approval_mode?: ApprovalMode;
  sandbox_mode?: SandboxMode;
  system_prompt?: string;
  allowed_tools?: string;
  extra_flags: string[];
  /** Replaces the built-in extra-flag allow-list when set: `"--flag"` or `"--flag <value>"`. */
  allowed_extra_flags?: string[];
  env: Record<string, string>;
  /** claude only. */
  system_prompt_mode: 'replace' | 'append';
  /** gemini only. */
  container_sandbox: boolean;
}

export interface Config {
  /** Resolved `$CLINVK_HOME` (absolute). */
  home: string;
  /** The config file actually read, if any. */
  config_file?: string;
  server: ServerConfig;
  default_backend: BackendName;
  unified_flags: {
    approval_mode: ApprovalMode;
    sandbox_mode: SandboxMode;
    verbose: boolean;
    dry_run: boolean;
    max_turns: number;
    max_tokens: number;
    command_timeout_secs: number;
  };
  backends: Record<BackendName, BackendConfig>;
  session: {
    store: 'file';
    retention_days: number;
    cleanup_interval_secs: number;
    default_tags: string[];
    store_token_usage: boolean;
    auto_resume: boolean;
  };
  output: {
    format: 'default' | 'text' | 'json' | 'stream-json';
    show_tokens?: boolean;
    show_timing?: boolean;
    color?: boolean | string;
  };
  parallel: { max_workers: number; fail_fast: boolean; aggregate_output: boolean };
  /** API keys from `CLINVK_API_KEYS` or gopass; never from the file. Empty → auth off. */
  api_keys: string[];
  /** `CLINVK_API_KEYS_GOPASS_PATH` or `server.api_keys_gopass_path` when keys come from gopass. */
  api_keys_gopass_path?: string;
}
