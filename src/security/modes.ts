/**
 * Approval and sandbox modes as ceilings (see docs/security.md, "Modes").
 *
 * Each unified value has one meaning on every backend; `default` means "no flag, the CLI's own
 * headless default" and takes the rank of what that default actually is for each CLI. A request may
 * ask for a value equal to or stricter than the backend's ceiling (`backends.<b>.max_approval_mode`
 * / `max_sandbox_mode`, defaulting to the configured mode); a more permissive value, or a value the
 * CLI cannot enforce, is refused with 403 `option_not_allowed`.
 */
import type { ApprovalMode, BackendName, SandboxMode } from '../backends/types';
import type { Config } from '../config/types';
import { ApiError } from '../errors';

export type ModeField = 'approval_mode' | 'sandbox_mode';
type StrictApproval = Exclude<ApprovalMode, 'default'>;
type StrictSandbox = Exclude<SandboxMode, 'default'>;

/** Strict → permissive. */
const APPROVAL_RANK: Record<StrictApproval, number> = { always: 0, auto: 1, none: 2 };
const SANDBOX_RANK: Record<StrictSandbox, number> = { 'read-only': 0, workspace: 1, full: 2 };

/** What `default` (no flag) amounts to for each CLI in a headless run. */
export const CLI_DEFAULT_APPROVAL: Record<BackendName, StrictApproval> = {
  // claude -p refuses any tool use that needs a prompt; gemini headless does not offer such tools.
  claude: 'always',
  // codex exec runs with approval `never` (see the header of its text output).
  codex: 'none',
  gemini: 'always',
};
export const CLI_DEFAULT_SANDBOX: Record<BackendName, StrictSandbox> = {
  // claude's tools are confined to the working directory (plus --add-dir, not allowed in `extra`).
  claude: 'workspace',
  // codex exec defaults to the read-only sandbox.
  codex: 'read-only',
  // gemini without --sandbox runs tools unconfined.
  gemini: 'full',
};

export function approvalRank(backend: BackendName, v: ApprovalMode): number {
  return APPROVAL_RANK[v === 'default' ? CLI_DEFAULT_APPROVAL[backend] : v];
}

export function sandboxRank(backend: BackendName, v: SandboxMode): number {
  return SANDBOX_RANK[v === 'default' ? CLI_DEFAULT_SANDBOX[backend] : v];
}

/** Facts about how a backend's CLI will be run that decide what it can enforce. */
export interface EnforcementFacts {
  /** gemini: `backends.gemini.container_sandbox`. */
  containerSandbox: boolean;
  /** The CLI would run as root (clinvk runs as root and no `server.agent_user`). */
  runsAsRoot: boolean;
  /** claude accepts bypassPermissions as root when IS_SANDBOX=1 is in its environment. */
  claudeIsSandboxed: boolean;
}

/**
 * Why `backend` cannot enforce the pair (approval, sandbox), or undefined when it can. The field
 * named is the one to change.
 */
export function enforcementProblem(
  backend: BackendName,
  approval: ApprovalMode,
  sandbox: SandboxMode,
  facts: EnforcementFacts,
): { field: ModeField; message: string } | undefined {
  if (backend === 'gemini' && (sandbox === 'read-only' || sandbox === 'workspace') && !facts.containerSandbox) {
    return {
      field: 'sandbox_mode',
      message: `gemini cannot enforce sandbox_mode ${sandbox} without backends.gemini.container_sandbox`,
    };
  }
  // read-only renders `--permission-mode plan`, which replaces the approval flag.
  if (
    backend === 'claude' &&
    approval === 'none' &&
    sandbox !== 'read-only' &&
    facts.runsAsRoot &&
    !facts.claudeIsSandboxed
  ) {
    return {
      field: 'approval_mode',
      message: 'claude cannot run with approval_mode none (bypassPermissions) as root; set server.agent_user',
    };
  }
  return undefined;
}

/** Request value (unless absent or `default`) → backend config → unified flag. */
export function pickMode<T extends string>(request: T | undefined, backend: T | undefined, unified: T): T {
  if (request !== undefined && request !== 'default') return request;
  if (backend !== undefined && backend !== 'default') return backend;
  return unified;
}

export interface ModeCeiling {
  approval: ApprovalMode;
  sandbox: SandboxMode;
}

/** Ceilings, effective defaults and enforcement facts of every backend. */
export class ModePolicy {
  private readonly ceilings = new Map<BackendName, ModeCeiling>();

  constructor(
    private readonly config: Config,
    private readonly factsOf: (backend: BackendName) => EnforcementFacts,
  ) {
    for (const name of Object.keys(config.backends) as BackendName[]) {
      const b = config.backends[name];
      const defaults = this.defaults(name);
      this.ceilings.set(name, {
        approval: b.max_approval_mode ?? defaults.approval,
        sandbox: b.max_sandbox_mode ?? defaults.sandbox,
      });
    }
  }

  ceiling(backend: BackendName): ModeCeiling {
    return this.ceilings.get(backend)!;
  }

  /** The modes a request without mode fields runs with. */
  defaults(backend: BackendName): ModeCeiling {
    const b = this.config.backends[backend];
    const u = this.config.unified_flags;
    return {
      approval: pickMode<ApprovalMode>(undefined, b.approval_mode, u.approval_mode),
      sandbox: pickMode<SandboxMode>(undefined, b.sandbox_mode, u.sandbox_mode),
    };
  }

  /** Effective modes of a request (request value → backend config → unified flag). */
  effective(backend: BackendName, approval?: ApprovalMode, sandbox?: SandboxMode): ModeCeiling {
    const d = this.defaults(backend);
    return { approval: pickMode(approval, d.approval, d.approval), sandbox: pickMode(sandbox, d.sandbox, d.sandbox) };
  }

  /**
   * Throws 403 `option_not_allowed` when the effective modes of a request exceed the backend's
   * ceiling or cannot be enforced by its CLI. `prefix` is the detail path of the options object.
   */
  check(
    backend: BackendName,
    approval: ApprovalMode | undefined,
    sandbox: SandboxMode | undefined,
    prefix: string,
  ): ModeCeiling {
    const eff = this.effective(backend, approval, sandbox);
    const max = this.ceiling(backend);
    if (approvalRank(backend, eff.approval) > approvalRank(backend, max.approval)) {
      throw notAllowed(
        `${prefix}.approval_mode`,
        `approval_mode ${eff.approval} is more permissive than the ceiling for ${backend} (${max.approval})`,
      );
    }
    if (sandboxRank(backend, eff.sandbox) > sandboxRank(backend, max.sandbox)) {
      throw notAllowed(
        `${prefix}.sandbox_mode`,
        `sandbox_mode ${eff.sandbox} is more permissive than the ceiling for ${backend} (${max.sandbox})`,
      );
    }
    const problem = enforcementProblem(backend, eff.approval, eff.sandbox, this.factsOf(backend));
    if (problem) throw notAllowed(`${prefix}.${problem.field}`, problem.message);
    return eff;
  }

  /** Start-up problems (`config error: …` lines): configured defaults that cannot be honoured. */
  startupProblems(): string[] {
    const out: string[] = [];
    for (const name of Object.keys(this.config.backends) as BackendName[]) {
      const b = this.config.backends[name];
      if (!b.enabled) continue;
      const d = this.defaults(name);
      const max = this.ceiling(name);
      if (approvalRank(name, d.approval) > approvalRank(name, max.approval)) {
        out.push(
          `config error: backends.${name}.approval_mode: the default approval mode (${d.approval}) is more permissive than backends.${name}.max_approval_mode (${max.approval})`,
        );
      }
      if (sandboxRank(name, d.sandbox) > sandboxRank(name, max.sandbox)) {
        out.push(
          `config error: backends.${name}.sandbox_mode: the default sandbox mode (${d.sandbox}) is more permissive than backends.${name}.max_sandbox_mode (${max.sandbox})`,
        );
      }
      const problem = enforcementProblem(name, d.approval, d.sandbox, this.factsOf(name));
      if (problem) {
        out.push(
          `config error: backends.${name}.${problem.field}: ${problem.message} (set backends.${name}.${problem.field} for it)`,
        );
      }
    }
    return out;
  }
}

function notAllowed(path: string, message: string): ApiError {
  return new ApiError('option_not_allowed', message, { details: [{ path, message }] });
}
