/** The claude adapter. */
import { booleanFlags, valueFlags } from '../extra-flags';
import type { BackendAdapter } from '../types';
import { CLAUDE_ONBOARDING } from './onboarding';
import { buildClaudeArgs } from './args';
import { parseClaudeResult } from './parse';
import { ClaudeStreamParser } from './stream';

/**
 * Request `extra` allow-list. Nothing that widens the agent's permissions is on it (`--allowedTools`,
 * `--tools`, `--add-dir`, `--bare`, `--safe-mode`): an operator can add such flags back with
 * `backends.claude.allowed_extra_flags`. Narrowing flags (`--disallowedTools`) are fine.
 */
export const CLAUDE_EXTRA_FLAGS = [
  ...valueFlags({ kind: 'any' }, '--append-system-prompt'),
  ...valueFlags({ kind: 'any' }, '--disallowedTools', '--disallowed-tools'),
  ...valueFlags({ kind: 'model' }, '--fallback-model'),
  ...valueFlags({ kind: 'enum', values: ['low', 'medium', 'high', 'xhigh', 'max'] }, '--effort'),
  ...valueFlags({ kind: 'positive-decimal' }, '--max-budget-usd'),
  ...valueFlags({ kind: 'json' }, '--json-schema'),
  ...valueFlags({ kind: 'regex', pattern: /^[A-Za-z0-9,._-]+$/ }, '--betas'),
  ...booleanFlags('--strict-mcp-config', '--disable-slash-commands', '--exclude-dynamic-system-prompt-sections'),
];

export const claudeAdapter: BackendAdapter = {
  name: 'claude',
  defaultCommand: 'claude',
  vendor: 'anthropic',
  displayName: 'Claude Code (claude CLI)',
  buildArgs: buildClaudeArgs,
  parseResult: parseClaudeResult,
  createStreamParser: () => new ClaudeStreamParser(),
  extraFlags: CLAUDE_EXTRA_FLAGS,
  flagAliases: {
    '--allowed-tools': '--allowedTools',
    '--disallowed-tools': '--disallowedTools',
    '--print': '-p',
    '-r': '--resume',
    '-c': '--continue',
    '-d': '--debug',
    '-n': '--name',
    '-w': '--worktree',
  },
  modelAliases: { fast: 'haiku', balanced: 'sonnet', best: 'opus' },
  systemPromptAsFlag: true,
  onboarding: CLAUDE_ONBOARDING,
  cumulativeUsage: false,
};
