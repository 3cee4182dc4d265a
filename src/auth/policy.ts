/**
 * The per-key policies of an API key (see docs/keys.md): which backends it may use, which approval
 * and sandbox modes, whether it may pass `extra` flags. They narrow what the server allows, never
 * widen it; the server's own checks (workdir policy, mode ceilings, extra-flag allow-lists) still
 * apply. The workdir prefixes of a key are applied by the workdir policy itself (security/workdir.ts).
 *
 * Every refusal is a 403 in the path's style: `backend_not_allowed`, or `option_not_allowed` with
 * `details` naming the refused field.
 */
import type { ApprovalMode, BackendName, SandboxMode } from '../backends/types';
import { ApiError } from '../errors';
import { allowsBackend, type Principal } from './principal';

/** The principal's policy fields a check needs (a request's key, a job's creator); absent → no limit. */
export type PolicyHolder = Pick<Principal, 'name' | 'role'> &
  Partial<Pick<Principal, 'backends' | 'approvalModes' | 'sandboxModes' | 'extraFlags' | 'workdirPrefixes'>>;

export function backendNotAllowed(backend: BackendName): ApiError {
  return new ApiError('backend_not_allowed', `backend ${backend} is not allowed for this API key`);
}

function optionNotAllowed(path: string, message: string): ApiError {
  return new ApiError('option_not_allowed', message, { details: [{ path, message }] });
}

/** 403 `backend_not_allowed` unless the key may use `backend`. */
export function checkBackendAllowed(p: PolicyHolder | undefined, backend: BackendName): void {
  if (!allowsBackend(p as Principal | undefined, backend)) throw backendNotAllowed(backend);
}

/**
 * 403 `option_not_allowed` when an effective mode (the request's, or the configured default for a
 * request without one) is not in the key's list. `prefix` is the detail path of the options object.
 */
export function checkModesAllowed(
  p: PolicyHolder | undefined,
  effective: { approval: ApprovalMode; sandbox: SandboxMode },
  prefix: string,
): void {
  if (p?.approvalModes && !p.approvalModes.includes(effective.approval)) {
    throw optionNotAllowed(
      `${prefix}.approval_mode`,
      `approval_mode ${effective.approval} is not allowed for this API key (allowed: ${p.approvalModes.join(', ')})`,
    );
  }
  if (p?.sandboxModes && !p.sandboxModes.includes(effective.sandbox)) {
    throw optionNotAllowed(
      `${prefix}.sandbox_mode`,
      `sandbox_mode ${effective.sandbox} is not allowed for this API key (allowed: ${p.sandboxModes.join(', ')})`,
    );
  }
}

/** Whether the key refuses `extra` outright (`extra_flags: false`) and the request carries some. */
export function refusesExtra(p: PolicyHolder | undefined, extra: readonly unknown[] | undefined): boolean {
  return p?.extraFlags === false && extra !== undefined && extra.length > 0;
}

/** 403 `option_not_allowed` when the key has `extra_flags: false` and `extra` is not empty. */
export function checkExtraAllowed(p: PolicyHolder | undefined, extra: readonly unknown[] | undefined, prefix: string) {
  if (refusesExtra(p, extra)) {
    throw optionNotAllowed(`${prefix}.extra`, 'extra flags are not allowed for this API key');
  }
}

/**
 * The modes a request that cannot carry any (the compatible APIs) runs with: the configured
 * default when the key allows it, else the key's first allowed mode. Undefined → the default.
 */
export function compatModes(
  p: PolicyHolder | undefined,
  defaults: { approval: ApprovalMode; sandbox: SandboxMode },
): { approval_mode?: ApprovalMode; sandbox_mode?: SandboxMode } {
  const out: { approval_mode?: ApprovalMode; sandbox_mode?: SandboxMode } = {};
  if (p?.approvalModes && !p.approvalModes.includes(defaults.approval)) out.approval_mode = p.approvalModes[0];
  if (p?.sandboxModes && !p.sandboxModes.includes(defaults.sandbox)) out.sandbox_mode = p.sandboxModes[0];
  return out;
}

/**
 * The backend a compat request whose model named no backend falls back to: `default_backend`
 * when the key may use it, else the key's first allowed backend.
 */
export function compatDefaultBackend(p: PolicyHolder | undefined, defaultBackend: BackendName): BackendName {
  if (!p?.backends || p.backends.includes(defaultBackend)) return defaultBackend;
  return p.backends[0] ?? defaultBackend;
}
