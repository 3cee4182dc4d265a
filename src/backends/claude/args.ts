/** claude argv (the order of the rows is normative; tests compare exact arrays). */
import type { ApprovalMode, BuildArgsOptions, RunMode, SandboxMode } from '../types';
import { when } from '../util';

/** Unified approval value → `--permission-mode` (see docs/modes.md). */
export const CLAUDE_PERMISSION_MODES: Record<ApprovalMode, string | undefined> = {
  default: undefined,
  auto: 'acceptEdits',
  none: 'bypassPermissions',
  always: 'default',
};

/** The permission mode: sandbox `read-only` is claude's `plan` mode and wins over the approval flag. */
export function claudePermissionMode(approval: ApprovalMode, sandbox: SandboxMode): string | undefined {
  return sandbox === 'read-only' ? 'plan' : CLAUDE_PERMISSION_MODES[approval];
}

const OUTPUT_FORMAT: Record<RunMode, string[]> = {
  json: ['--output-format', 'json'],
  stream: ['--output-format', 'stream-json', '--verbose', '--include-partial-messages'],
};

export function buildClaudeArgs(o: BuildArgsOptions, mode: RunMode): string[] {
  const permission = claudePermissionMode(o.approvalMode, o.sandboxMode);
  const systemFlag = o.systemPromptMode === 'append' ? '--append-system-prompt' : '--system-prompt';
  return [
    '-p',
    ...OUTPUT_FORMAT[mode],
    // One argument: a stored id can never be read as an option.
    ...when(o.resumeId, `--resume=${o.resumeId ?? ''}`),
    ...when(o.model, '--model', o.model ?? ''),
    ...when(permission, '--permission-mode', permission ?? ''),
    ...when(o.maxTurns > 0, '--max-turns', String(o.maxTurns)),
    ...when(o.systemPrompt, systemFlag, o.systemPrompt ?? ''),
    ...when(o.allowedTools, '--allowedTools', o.allowedTools ?? ''),
    ...when(o.ephemeral, '--no-session-persistence'),
    ...o.extra,
    ...o.configExtraFlags,
    '--',
    o.prompt,
  ];
}
