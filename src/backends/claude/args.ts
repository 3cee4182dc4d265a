/** claude argv. */
import type { ApprovalMode, BuildArgsOptions, RunMode } from '../types';
import { when } from '../util';

export const CLAUDE_PERMISSION_MODES: Record<ApprovalMode, string | undefined> = {
  default: undefined,
  auto: 'acceptEdits',
  none: 'dontAsk',
  always: 'default',
};

const OUTPUT_FORMAT: Record<RunMode, string[]> = {
  json: ['--output-format', 'json'],
  stream: ['--output-format', 'stream-json', '--verbose', '--include-partial-messages'],
};

export function buildClaudeArgs(o: BuildArgsOptions, mode: RunMode): string[] {
  const permission = CLAUDE_PERMISSION_MODES[o.approvalMode];
  const systemFlag = o.systemPromptMode === 'append' ? '--append-system-prompt' : '--system-prompt';
  return [
    '-p',
    ...OUTPUT_FORMAT[mode],
    ...when(o.resumeId, '--resume', o.resumeId ?? ''),
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
