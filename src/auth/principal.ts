/**
 * Who a request acts as: the name, role, limits and policies of its API key. A request's principal
 * is fixed when it is authenticated; a reload of the key set affects only later requests.
 */
import type { ApprovalMode, BackendName, SandboxMode } from '../backends/types';
import { ANONYMOUS_NAME, type KeyEntry, type KeyRole } from './key-config';

export interface KeyLimits {
  /** null = unlimited. */
  requests_per_day: number | null;
  tokens_per_day: number | null;
  max_concurrent: number | null;
}

export interface Principal {
  readonly name: string;
  readonly role: KeyRole;
  /** Allowed backends; undefined → all. */
  readonly backends?: readonly BackendName[];
  readonly limits: Readonly<KeyLimits>;
  /** Narrowing of the server's workdir policy; undefined → the server's policy alone. */
  readonly workdirPrefixes?: readonly string[];
  /** Allowed `approval_mode` / `sandbox_mode` values; undefined → all. */
  readonly approvalModes?: readonly ApprovalMode[];
  readonly sandboxModes?: readonly SandboxMode[];
  /** false → a non-empty `extra` is refused. */
  readonly extraFlags: boolean;
  /** Epoch ms after which the key is refused. */
  readonly expiresAt?: number;
}

const UNLIMITED: KeyLimits = Object.freeze({ requests_per_day: null, tokens_per_day: null, max_concurrent: null });

/** Every request when no key is configured: an admin without limits. */
export const ANONYMOUS: Principal = Object.freeze({
  name: ANONYMOUS_NAME,
  role: 'admin',
  limits: UNLIMITED,
  extraFlags: true,
});

/** Keys from `CLINVK_API_KEYS`, `CLINVK_API_KEYS_FILE` or gopass: admins named after their hash. */
export function unnamedPrincipal(sha256Hex: string): Principal {
  return Object.freeze({ name: `key-${sha256Hex.slice(0, 8)}`, role: 'admin', limits: UNLIMITED, extraFlags: true });
}

export function principalOf(entry: KeyEntry): Principal {
  const p: {
    -readonly [K in keyof Principal]: Principal[K];
  } = {
    name: entry.name,
    role: entry.role,
    limits: Object.freeze({
      requests_per_day: entry.requests_per_day ?? null,
      tokens_per_day: entry.tokens_per_day ?? null,
      max_concurrent: entry.max_concurrent ?? null,
    }),
    extraFlags: entry.extra_flags,
  };
  if (entry.backends) p.backends = Object.freeze([...entry.backends]);
  if (entry.workdir_prefixes) p.workdirPrefixes = Object.freeze([...entry.workdir_prefixes]);
  if (entry.approval_modes) p.approvalModes = Object.freeze([...entry.approval_modes]);
  if (entry.sandbox_modes) p.sandboxModes = Object.freeze([...entry.sandbox_modes]);
  if (entry.expires_at) p.expiresAt = Date.parse(entry.expires_at);
  return Object.freeze(p);
}

export function isAdmin(p: Principal | undefined): boolean {
  return p?.role === 'admin';
}

export function allowsBackend(p: Principal | undefined, backend: BackendName): boolean {
  return !p?.backends || p.backends.includes(backend);
}

/** `names` filtered to the backends the principal may use (order kept). */
export function allowedBackends<T extends BackendName>(p: Principal | undefined, names: readonly T[]): T[] {
  return names.filter((b) => allowsBackend(p, b));
}

/**
 * The owner whose records a principal sees (sessions, jobs, usage): a `user` key only its own, an
 * admin everyone's (undefined). Anything else answers as if it did not exist.
 */
export function visibleOwner(p: Pick<Principal, 'name' | 'role'> | undefined): string | undefined {
  return p && p.role !== 'admin' ? p.name : undefined;
}

/** The owner filter of a list: a `user` key always lists only its own; an admin the `owner` it asked for, if any. */
export function listOwner(
  p: Pick<Principal, 'name' | 'role'> | undefined,
  requested: string | undefined,
): string | undefined {
  return visibleOwner(p) ?? requested;
}
