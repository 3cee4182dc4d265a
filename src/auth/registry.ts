/**
 * The key registry: every accepted key (named keys from `auth.keys`, unnamed admin keys from the
 * environment, a key file or gopass) as a SHA-256 digest with its principal. Authentication hashes
 * the presented key and compares it with `timingSafeEqual` against the digest of EVERY key (no early
 * exit), so the time taken does not depend on which key matched or how many bytes matched.
 *
 * The key set can be replaced at run time (SIGHUP, gopass refresh): a revoked key is refused by the
 * next request. Keys and digests never leave this module except as the rate-limit client id.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { KeyEntry } from './key-config';
import { principalOf, unnamedPrincipal, type Principal } from './principal';

interface Slot {
  digest: Buffer;
  principal: Principal;
}

export type AuthResult =
  | { ok: true; principal: Principal; /** SHA-256 hex of the key (rate-limit client id). */ id: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'expired'; name: string };

export function sha256Hex(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Named key slots; `env` entries are read from `env` (their presence was checked with the config). */
export function namedSlots(entries: readonly KeyEntry[], env: NodeJS.ProcessEnv): Slot[] {
  return entries.map((e) => {
    let digest: Buffer;
    if (e.sha256 !== undefined) digest = Buffer.from(e.sha256, 'hex');
    else {
      const value = env[e.env ?? ''];
      if (!value) throw new Error(`auth.keys (${e.name}): environment variable ${e.env} is not set or empty`);
      digest = digestOf(value);
    }
    return { digest, principal: principalOf(e) };
  });
}

export interface KeyRegistryOptions {
  entries?: readonly KeyEntry[];
  /** Keys from `CLINVK_API_KEYS`, `CLINVK_API_KEYS_FILE` or gopass. */
  unnamed?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Clock for `expires_at` (tests). */
  now?: () => number;
}

export class KeyRegistry {
  private named: Slot[] = [];
  private unnamed: Slot[] = [];
  private slots: readonly Slot[] = [];
  private readonly now: () => number;

  constructor(opts: KeyRegistryOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.named = namedSlots(opts.entries ?? [], opts.env ?? process.env);
    this.unnamed = this.unnamedSlots(opts.unnamed ?? []);
    this.rebuild();
  }

  /** Authentication is on when at least one key exists from any source. */
  get enabled(): boolean {
    return this.slots.length > 0;
  }

  /**
   * Replaces the named keys and, when given, the unnamed ones in one step (reload). Throws, keeping
   * the current set, when an `env` key is missing or when the new set would be empty while
   * authentication is on (an empty set switches authentication off: that needs a restart).
   */
  replace(entries: readonly KeyEntry[], env: NodeJS.ProcessEnv, unnamed?: readonly string[]): void {
    const named = namedSlots(entries, env);
    const others = unnamed ? this.unnamedSlots(unnamed) : this.unnamed;
    if (this.slots.length > 0 && named.length + others.length === 0) {
      throw new Error('the new key set is empty: that would switch authentication off (restart to do that)');
    }
    this.named = named;
    this.unnamed = others;
    this.rebuild();
  }

  /** Replaces the unnamed keys (gopass refresh). */
  setUnnamed(keys: readonly string[]): void {
    this.unnamed = this.unnamedSlots(keys);
    this.rebuild();
  }

  /** The current definition of a key by name (undefined once revoked). */
  get(name: string): Principal | undefined {
    return this.slots.find((s) => s.principal.name === name)?.principal;
  }

  /** Every current principal (named first). */
  list(): Principal[] {
    return this.slots.map((s) => s.principal);
  }

  authenticate(presented: string | undefined): AuthResult {
    const slots = this.slots;
    // Hash even an absent key so both paths cost the same.
    const candidate = digestOf(presented ?? '');
    let match = -1;
    for (let i = 0; i < slots.length; i++) {
      // every digest is compared; the index is kept without branching out of the loop
      const eq = timingSafeEqual(candidate, slots[i]!.digest);
      match = eq && match < 0 ? i : match;
    }
    if (match < 0 || presented === undefined || presented.length === 0) return { ok: false, reason: 'invalid' };
    const principal = slots[match]!.principal;
    if (principal.expiresAt !== undefined && this.now() >= principal.expiresAt) {
      return { ok: false, reason: 'expired', name: principal.name };
    }
    return { ok: true, principal, id: candidate.toString('hex') };
  }

  private unnamedSlots(keys: readonly string[]): Slot[] {
    return keys
      .filter((k) => k.length > 0)
      .map((key) => {
        const digest = digestOf(key);
        return { digest, principal: unnamedPrincipal(digest.toString('hex')) };
      });
  }

  /** Named keys win over an unnamed key with the same digest. */
  private rebuild(): void {
    const seen = new Set(this.named.map((s) => s.digest.toString('hex')));
    const unnamed = this.unnamed.filter((s) => {
      const h = s.digest.toString('hex');
      if (seen.has(h)) return false;
      seen.add(h);
      return true;
    });
    this.slots = Object.freeze([...this.named, ...unnamed]);
  }
}
