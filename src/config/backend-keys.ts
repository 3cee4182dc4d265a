/** The keys of one `backends.<name>` section of the configuration (declared with `key-builders.ts`). */
import { Type } from '@sinclair/typebox';
import { ALLOW_LIST_ENTRY_PATTERN } from '../backends/extra-flags';
import type { ApprovalMode, BackendName, SandboxMode } from '../backends/types';
import { bool, list, modelName, oneOf, section, str, text, X_ENV, X_MESSAGE, X_ONLY } from './key-builders';

export const APPROVAL_MODES = ['default', 'auto', 'none', 'always'] as const satisfies readonly ApprovalMode[];
export const SANDBOX_MODES = ['default', 'read-only', 'workspace', 'full'] as const satisfies readonly SandboxMode[];
export const SYSTEM_PROMPT_MODES = ['replace', 'append'] as const;

/** The keys of `backends.<name>` (the same TypeScript shape for every backend; `x-only` keys exist in one file section). */
export function backendKeys(name: BackendName) {
  const env = `CLINVK_${name.toUpperCase()}_MODEL`;
  return section(`The ${name} CLI.`, {
    enabled: bool({ default: true, description: 'false makes the backend unavailable (503 backend_unavailable).' }),
    command: str({
      default: '',
      pattern: '^([^/\\u0000]*|/[^\\u0000]*)$',
      [X_MESSAGE]: 'must be an executable name (looked up on PATH) or an absolute path',
      description: `Executable name (looked up on PATH) or absolute path; "" means "${name}" on PATH.`,
    }),
    model: Type.Optional(
      modelName({ [X_ENV]: env, description: 'Default model when a request names none (unset: the CLI chooses).' }),
    ),
    model_aliases: Type.Optional(
      Type.Unsafe<Record<string, string>>({
        type: 'object',
        propertyNames: modelName(),
        additionalProperties: modelName(),
        description: 'Alias → model map; replaces the built-in alias table (fast, balanced, best) when set.',
      }),
    ),
    approval_mode: Type.Optional(
      oneOf(APPROVAL_MODES, { description: 'Approval mode for this backend; overrides unified_flags.approval_mode.' }),
    ),
    sandbox_mode: Type.Optional(
      oneOf(SANDBOX_MODES, { description: 'Sandbox mode for this backend; overrides unified_flags.sandbox_mode.' }),
    ),
    max_approval_mode: Type.Optional(
      oneOf(APPROVAL_MODES, {
        description:
          'Most permissive approval mode a request may ask for (default: the configured approval mode); see docs/modes.md.',
      }),
    ),
    max_sandbox_mode: Type.Optional(
      oneOf(SANDBOX_MODES, {
        description:
          'Most permissive sandbox mode a request may ask for (default: the configured sandbox mode); see docs/modes.md.',
      }),
    ),
    system_prompt: Type.Optional(text({ description: 'Default system prompt when a request gives none.' })),
    allowed_tools: Type.Optional(text({ description: 'Default tool allow-list (claude --allowedTools).' })),
    extra_flags: list(text({ description: 'One argument.' }), {
      default: [],
      description: 'Arguments appended to every invocation; trusted, not checked against the allow-list.',
    }),
    allowed_extra_flags: Type.Optional(
      list(
        str({
          pattern: ALLOW_LIST_ENTRY_PATTERN,
          [X_MESSAGE]: 'must be "--flag", "--flag <value>", "-x" or "-x <value>"',
          description: 'An allowed flag.',
        }),
        { description: 'Replaces the built-in allow-list of request `extra` flags: "--flag" or "--flag <value>".' },
      ),
    ),
    env: Type.Unsafe<Record<string, string>>({
      type: 'object',
      propertyNames: str({
        pattern: '^[^=\\u0000]+$',
        [X_MESSAGE]: 'must be a non-empty environment variable name without "=" or U+0000',
        description: 'Variable name.',
      }),
      additionalProperties: text({ description: 'Variable value.' }),
      default: {},
      description: "Environment variables set for the CLI's process (on top of the allow-listed ones; never CLINVK_*).",
    }),
    env_passthrough: list(
      str({
        pattern: '^[^=\\u0000]+$',
        [X_MESSAGE]: 'must be an environment variable name without "=" or U+0000',
        description: 'Variable name.',
      }),
      {
        default: [],
        description:
          'Names of server environment variables passed to this CLI besides the allow-list (see docs/security.md); never CLINVK_*.',
      },
    ),
    system_prompt_mode: oneOf(SYSTEM_PROMPT_MODES, {
      default: 'replace',
      [X_ONLY]: 'claude',
      description: 'replace: --system-prompt; append: --append-system-prompt.',
    }),
    container_sandbox: bool({
      default: false,
      [X_ONLY]: 'gemini',
      description: 'Allow gemini --sandbox (a container) for the read-only and workspace sandbox modes.',
    }),
  });
}
