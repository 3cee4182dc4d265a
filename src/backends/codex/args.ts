/** codex argv: new run and resume forms. The same argv serves json and stream mode. */
import type { ApprovalMode, BuildArgsOptions, RunMode, SandboxMode } from '../types';
import { when } from '../util';

export const CODEX_APPROVAL_POLICIES: Record<ApprovalMode, string | undefined> = {
  default: undefined,
  auto: 'on-request',
  none: 'never',
  always: 'on-request',
};

export const CODEX_SANDBOX_MODES: Record<SandboxMode, string | undefined> = {
  default: undefined,
  'read-only': 'read-only',
  workspace: 'workspace-write',
  full: 'danger-full-access',
};

const ALWAYS = '--skip-git-repo-check';

export function buildCodexArgs(o: BuildArgsOptions, _mode: RunMode): string[] {
  const policy = CODEX_APPROVAL_POLICIES[o.approvalMode];
  const sandbox = CODEX_SANDBOX_MODES[o.sandboxMode];
  const model = when(o.model, '-m', o.model ?? '');
  const head = [...when(policy, '-a', policy ?? ''), 'exec', '--json', ALWAYS];
  // `--skip-git-repo-check` is always passed; codex (clap) rejects a boolean flag given twice.
  const extras = [...o.extra, ...o.configExtraFlags].filter((t) => t !== ALWAYS);
  const prompt = ['--', o.prompt];
  if (o.resumeId) {
    const sandboxConfig = when(sandbox, '-c', `sandbox_mode="${sandbox ?? ''}"`);
    return [...head, ...extras, 'resume', ...model, ...sandboxConfig, o.resumeId, ...prompt];
  }
  const sandboxFlag = when(sandbox, '-s', sandbox ?? '');
  return [...head, ...model, ...sandboxFlag, ...when(o.ephemeral, '--ephemeral'), ...extras, ...prompt];
}
