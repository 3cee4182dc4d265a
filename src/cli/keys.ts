/**
 * `clinvk keys new --name N [--role R]` and `clinvk keys hash`.
 *
 * `keys new` prints a fresh random key once on stdout (so `KEY=$(clinvk keys new --name ci)` captures
 * only the key) and the `auth.keys` stanza carrying its SHA-256 on stderr, ready to paste into the
 * configuration. `keys hash` reads a key from stdin and prints its SHA-256 (for keys made elsewhere).
 */
import { randomBytes } from 'node:crypto';
import { KEY_NAME_PATTERN, KEY_ROLES, type KeyRole } from '../auth/key-config';
import { sha256Hex } from '../auth/registry';

export const KEYS_USAGE = `Usage: clinvk keys new --name <name> [--role user|admin]
       clinvk keys hash < key-file

  new    Print a new random API key on stdout (shown once) and its auth.keys entry
         (name, role and sha256 — never the key) on stderr.
  hash   Read a key from stdin and print its SHA-256, the value of auth.keys[].sha256.
`;

/** `ck_` + 43 base64url characters (32 random bytes). */
export function newApiKey(): string {
  return `ck_${randomBytes(32).toString('base64url')}`;
}

/** The YAML stanza of a key (only its hash). */
export function keyStanza(name: string, role: KeyRole, sha256: string): string {
  return ['auth:', '  keys:', `    - name: ${name}`, `      sha256: ${sha256}`, `      role: ${role}`, ''].join('\n');
}

/** Checks `--name` / `--role`; returns a problem text or undefined. */
export function checkNewKeyOptions(name: string | undefined, role: string | undefined): string | undefined {
  if (name === undefined || name === '') return 'missing --name (e.g. clinvk keys new --name ci-bot)';
  if (!KEY_NAME_PATTERN.test(name)) return `invalid --name "${name}": must match ${KEY_NAME_PATTERN.source}`;
  if (name === 'anonymous') return 'invalid --name "anonymous": the name is reserved';
  if (role !== undefined && !(KEY_ROLES as readonly string[]).includes(role)) {
    return `invalid --role "${role}": must be user or admin`;
  }
  return undefined;
}

/** Reads all of stdin as UTF-8. */
export function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer | string) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/** The key given on stdin: surrounding whitespace (the trailing newline of `echo`) is not part of it. */
export function keyFromInput(text: string): string | undefined {
  const key = text.trim();
  return key === '' ? undefined : key;
}

export { sha256Hex };
