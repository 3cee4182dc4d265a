/** gemini argv. The prompt is always one `--prompt=<p>` argument, last. */
import type { ApprovalMode, BuildArgsOptions, RunMode, SandboxMode } from '../types';
import { when } from '../util';

export const GEMINI_APPROVAL_MODES: Record<ApprovalMode, string | undefined> = {
  default: undefined,
  auto: 'auto_edit',
  none: 'yolo',
  always: 'default',
};

/** Sandbox modes that become `--sandbox` when `backends.gemini.container_sandbox` is on. */
const CONTAINER_SANDBOX_MODES: ReadonlySet<SandboxMode> = new Set<SandboxMode>(['read-only', 'workspace']);

export function geminiUsesSandbox(o: Pick<BuildArgsOptions, 'containerSandbox' | 'sandboxMode'>): boolean {
  return o.containerSandbox && CONTAINER_SANDBOX_MODES.has(o.sandboxMode);
}

export function buildGeminiArgs(o: BuildArgsOptions, mode: RunMode): string[] {
  const approval = GEMINI_APPROVAL_MODES[o.approvalMode];
  return [
    `--output-format=${mode === 'json' ? 'json' : 'stream-json'}`,
    '--skip-trust',
    ...when(o.resumeId, `--resume=${o.resumeId ?? ''}`),
    ...when(o.model, `--model=${o.model ?? ''}`),
    ...when(approval, `--approval-mode=${approval ?? ''}`),
    ...when(geminiUsesSandbox(o), '--sandbox'),
    ...when(o.verbose, '--debug'),
    ...o.extra,
    ...o.configExtraFlags,
    `--prompt=${o.prompt}`,
  ];
}

/** argv that deletes the CLI-side session after an ephemeral run. */
export function geminiCleanupArgs(backendSessionId: string): string[] {
  return [`--delete-session=${backendSessionId}`, '--skip-trust'];
}
