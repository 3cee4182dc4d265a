/** codex argv: new run and resume forms. The same argv serves json and stream mode. */
import type { ApprovalMode, BuildArgsOptions, RunMode, SandboxMode } from '../types';
import { when } from '../util';

/**
 * Unified approval value → `-a` (a top-level option, before `exec`). `auto` and `none` are both
 * `never`: nothing waits for approval and the sandbox bounds what the agent can change (see
 * docs/modes.md).
 */
export const CODEX_APPROVAL_POLICIES: Record<ApprovalMode, string | undefined> = {
  default: undefined,
  auto: 'never',
  none: 'never',
  always: 'on-request',
};

export const CODEX_SANDBOX_MODES: Record<SandboxMode, string | undefined> = {
  default: undefined,
  'read-only': 'read-only',
  workspace: 'workspace-write',
  full: 'danger-full-access',
};

export const CODEX_ALWAYS = '--skip-git-repo-check';

export function buildCodexArgs(o: BuildArgsOptions, _mode: RunMode): string[] {
  const policy = CODEX_APPROVAL_POLICIES[o.approvalMode];
  const sandbox = CODEX_SANDBOX_MODES[o.sandboxMode];
  const model = when(o.model, '-m', o.model ?? '');
  const head = [...when(policy, '-a', policy ?? ''), 'exec', '--json', CODEX_ALWAYS];
  // `--skip-git-repo-check` is always passed; codex (clap) rejects a boolean flag given twice. A
  // request cannot repeat it (refused at validation); configured extra_flags may.
  const extras = [...o.extra, ...o.configExtraFlags].filter((t) => t !== CODEX_ALWAYS);
  if (o.resumeId) {
    const sandboxConfig = when(sandbox, '-c', `sandbox_mode="${sandbox ?? ''}"`);
    // The thread id goes after `--` with the prompt (both are positionals of `exec resume`), so a
    // stored id can never be read as an option.
    return [...head, ...extras, 'resume', ...model, ...sandboxConfig, '--', o.resumeId, o.prompt];
  }
  const sandboxFlag = when(sandbox, '-s', sandbox ?? '');
  return [...head, ...model, ...sandboxFlag, ...when(o.ephemeral, '--ephemeral'), ...extras, '--', o.prompt];
}
