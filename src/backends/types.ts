/**
 * The backend adapter contract. Everything here is pure data and pure functions:
 * no I/O, no Express, no process handling (that is the ProcessRunner's job).
 */
import type { SchemaApprovalMode, SchemaBackendName, SchemaSandboxMode, SchemaTokenUsage } from '../../generated/types';
import type { BackendOnboarding } from './onboarding';

export const BACKEND_NAMES = ['claude', 'codex', 'gemini'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
/** The runtime list is the contract's `BackendName` enum: this fails to compile when they differ. */
const _SAME_BACKENDS: [BackendName, SchemaBackendName] extends [SchemaBackendName, BackendName] ? true : never = true;

export function isBackendName(v: unknown): v is BackendName {
  return typeof v === 'string' && (BACKEND_NAMES as readonly string[]).includes(v);
}

export type ApprovalMode = SchemaApprovalMode;
export type SandboxMode = SchemaSandboxMode;
export type RunMode = 'json' | 'stream';

/** Unified token usage (the contract's TokenUsage). Optional fields are omitted when unknown. */
export type TokenUsage = SchemaTokenUsage;

/**
 * Fully resolved options for one CLI invocation. The execution layer resolves request values,
 * configuration and defaults before calling `buildArgs`; the adapter only renders.
 */
export interface BuildArgsOptions {
  /** The prompt exactly as it must reach the CLI (system-prompt prefix already applied for codex/gemini). */
  prompt: string;
  /** Effective `--model` value after alias resolution; undefined → no model flag. */
  model?: string;
  approvalMode: ApprovalMode;
  sandboxMode: SandboxMode;
  /** > 0 → claude `--max-turns`; ignored by codex/gemini. */
  maxTurns: number;
  /** claude only (codex/gemini get it prepended to the prompt by `assemblePrompt`). */
  systemPrompt?: string;
  /** claude: `replace` → `--system-prompt`, `append` → `--append-system-prompt`. */
  systemPromptMode: 'replace' | 'append';
  /** gemini `--debug`. */
  verbose: boolean;
  ephemeral: boolean;
  /** The CLI's own conversation id to resume (claude session_id, codex thread_id, gemini session_id). */
  resumeId?: string;
  /** claude `--allowedTools` from `backends.claude.allowed_tools`. */
  allowedTools?: string;
  /** gemini: `backends.gemini.container_sandbox` (allows `--sandbox`). */
  containerSandbox: boolean;
  /** Request `extra` tokens (already checked against the allow-list). */
  extra: string[];
  /** `backends.<b>.extra_flags` (trusted configuration). */
  configExtraFlags: string[];
}

/** Result of parsing a finished non-stream run. */
export interface ParsedResult {
  success: boolean;
  output: string;
  error?: string;
  backendSessionId?: string;
  usage?: TokenUsage;
  /** The model the CLI reported (claude `modelUsage` key); informational. */
  model?: string;
}

export interface ProcessExit {
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Unified stream event payloads, without the envelope (backend/session/timestamp/sequence). */
export type UnifiedEvent =
  | { type: 'init'; content: { backend_session_id?: string; model?: string; working_dir?: string } }
  | { type: 'message'; content: { text: string; role: 'assistant'; is_partial?: boolean } }
  | { type: 'thinking'; content: { text: string; is_partial?: boolean } }
  | { type: 'tool_use'; content: { tool_id?: string; tool_name: string; input?: unknown } }
  | { type: 'tool_result'; content: { tool_id?: string; tool_name: string; output?: string; is_error?: boolean } }
  | { type: 'progress'; content: { stage: string; message?: string; percent?: number } }
  | { type: 'token_usage'; content: TokenUsage };

export type UnifiedEventType = UnifiedEvent['type'] | 'done' | 'error';

/** What a stream parser knows once the CLI has exited and stdout has been drained. */
export interface StreamFinish {
  success: boolean;
  error?: string;
  usage?: TokenUsage;
  backendSessionId?: string;
}

/**
 * Stateful, per-run stream parser. `push` is fed one stdout line at a time (without the newline,
 * trailing `\r` removed) and returns zero or more unified events. It must never throw on bad input:
 * non-JSON lines and unknown types are ignored. `token_usage` events are NOT returned by `push`; the
 * execution layer emits the single `token_usage` event just before the terminal event using
 * `finish().usage`.
 */
export interface StreamParser {
  push(line: string): UnifiedEvent[];
  finish(exit: ProcessExit, stderr: string): StreamFinish;
}

/** Value rule of a value-taking extra flag. */
export type FlagValueRule =
  | { kind: 'any' }
  | { kind: 'regex'; pattern: RegExp }
  | { kind: 'enum'; values: string[] }
  | { kind: 'model' }
  | { kind: 'positive-decimal' }
  | { kind: 'json' };

export interface FlagSpec {
  /** Exact flag, e.g. `--effort` or `-p`. */
  name: string;
  /** true → takes a value (`--flag=value` or next token). */
  takesValue: boolean;
  rule?: FlagValueRule;
}

/** A backend adapter: pure functions plus constants. */
export interface BackendAdapter {
  name: BackendName;
  /** Default executable name looked up on PATH. */
  defaultCommand: string;
  /** Vendor name used by the compat APIs' `owned_by`. */
  vendor: string;
  /** Display name for the Anthropic models list. */
  displayName: string;
  /** argv without the executable. */
  buildArgs(opts: BuildArgsOptions, mode: RunMode): string[];
  parseResult(stdout: string, stderr: string, exit: ProcessExit): ParsedResult;
  createStreamParser(): StreamParser;
  /**
   * Alternative spellings of one option (`-d` → `--debug`): a request flag repeats a flag clinvk or
   * the configuration already passes when both spell the same option.
   */
  flagAliases: Record<string, string>;
  /** Built-in extra-flag allow-list. */
  extraFlags: FlagSpec[];
  /** Built-in alias table. `default` is handled by the resolver (no --model). */
  modelAliases: Record<string, string>;
  /** Whether the system prompt goes into a CLI flag (claude) or is prepended to the prompt. */
  systemPromptAsFlag: boolean;
  /**
   * gemini only: argv (without executable) that deletes the CLI-side session after an ephemeral run.
   */
  cleanupArgsAfterEphemeral?(backendSessionId: string): string[];
  /** Codex reports cumulative usage on resumed threads. */
  cumulativeUsage: boolean;
  /** Install command, verified version range, `--version` format and credential sources. */
  onboarding: BackendOnboarding;
}
