/**
 * Working-directory policy.
 *
 * Order of checks (first failure wins):
 *   1. format (400 `validation_error`): U+0000, lone surrogates, not absolute, > 4096 UTF-8 bytes;
 *   2. lexical normalisation (`.`/`..`, duplicate and trailing slashes);
 *   3. policy on the *normalised* path (403 `forbidden_workdir`, "blocked path") — this runs before
 *      the existence check so that `/etc/nonexistent` or `/home/a/../../etc` is reported as
 *      forbidden (and a caller cannot probe blocked trees for existence);
 *   4. realpath (400 `validation_error`): missing → `work directory does not exist: <p>`;
 *   5. policy on the *real* path (403): blocked prefixes / root / `$CLINVK_HOME` ("blocked path"),
 *      then the allowed prefixes ("not in allowed paths"), then the API key's own prefixes, which
 *      narrow the server's (never widen them: both must allow the path);
 *   6. type (400): not a directory → `work directory is not a directory: <p>`. It runs after the
 *      policy so that a refused path reveals nothing about what it is (a symlink to `/etc/passwd`
 *      is 403, not "not a directory").
 * The value returned is the real path (what becomes the child's `cwd` and the stored `working_dir`).
 * Messages quote the path as the client sent it (never the resolved symlink target).
 */
import * as fs from 'fs';
import * as path from 'path';

import { ApiError, validationError } from '../errors';

/** Built-in blocked prefixes; configured prefixes are added to these. */
export const BUILTIN_BLOCKED_WORKDIR_PREFIXES: readonly string[] = Object.freeze([
  '/etc',
  '/var/run',
  '/var/lock',
  '/root',
  '/sys',
  '/proc',
  '/dev',
  '/usr/bin',
  '/usr/sbin',
  '/bin',
  '/sbin',
  '/boot',
  '/lib',
  '/lib64',
  '/usr/lib',
  '/usr/lib64',
]);

export const MAX_WORKDIR_BYTES = 4096;

export interface WorkdirPolicyOptions {
  /** `server.allowed_workdir_prefixes`; empty → every non-blocked directory is allowed. */
  allowedPrefixes: string[];
  /** `server.blocked_workdir_prefixes`; ADDED to the built-in list. */
  blockedPrefixes: string[];
  /** `$CLINVK_HOME` (state directory); it and everything inside it is blocked. */
  clinvkHome: string;
  /**
   * Places whose ancestors are refused as well as themselves and everything inside them: the CLIs'
   * state directories (`~/.claude`, `$CODEX_HOME` or `~/.codex`, `~/.gemini`). An agent allowed to
   * write in an ancestor could edit them (hooks, settings, credentials).
   */
  protectedDirs?: string[];
  /** Places whose ancestors are refused (not what is inside): the config file's directory. */
  protectedAncestorsOf?: string[];
  /**
   * false: a cluster API node, whose filesystem is not where the CLI runs — `resolve` checks the
   * path as text (format, normalisation, the policy on the normalised path) and returns it
   * normalised; the worker resolves it on its own disk before spawning (`resolve` there).
   */
  onDisk?: boolean;
}

/**
 * True when `p` equals `prefix` or lies under it with path-boundary semantics
 * (`/etc` covers `/etc` and `/etc/x`, not `/etcx`). Both arguments must be absolute and normalised.
 */
export function isUnder(p: string, prefix: string): boolean {
  if (p === prefix) return true;
  const withSep = prefix.endsWith(path.sep) ? prefix : prefix + path.sep;
  return p.startsWith(withSep);
}

/**
 * The real-path form of an absolute path that may not exist (yet): the deepest existing ancestor
 * is resolved with realpath and the remaining segments are appended. This way a `$CLINVK_HOME`
 * created after start-up below a symlinked parent is still recognised.
 */
function realForm(p: string): string {
  let current = p;
  const rest: string[] = [];
  for (;;) {
    try {
      const real = fs.realpathSync(current);
      return rest.length === 0 ? real : path.join(real, ...rest.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return p;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

/** Both forms (lexical and real), de-duplicated; empty entries are skipped. */
function bothForms(prefixes: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of prefixes) {
    if (typeof raw !== 'string' || raw.trim() === '' || raw.includes('\u0000')) continue;
    const lexical = path.resolve(raw);
    out.add(lexical);
    out.add(realForm(lexical));
  }
  return [...out];
}

/**
 * An API key's `workdir_prefixes` (undefined → no narrowing): the real path must lie under one of
 * them, compared in their real-path form like the server's allowed prefixes.
 */
function keyAllows(realPath: string, keyPrefixes: readonly string[] | undefined): boolean {
  if (keyPrefixes === undefined) return true;
  return keyPrefixes.some((raw) => isUnder(realPath, realForm(path.resolve(raw))));
}

function isWellFormed(s: string): boolean {
  const fn = (s as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  if (typeof fn === 'function') return fn.call(s);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

export class WorkdirPolicy {
  /** Blocked prefixes, lexical and real forms (built-in + configured). */
  readonly blocked: readonly string[];
  /** `$CLINVK_HOME`, lexical and real forms. */
  readonly home: readonly string[];
  /** Real-path forms of the allowed prefixes (empty → no restriction). */
  readonly allowed: readonly string[];
  /** Protected places whose ancestors are refused (blocked prefixes, `$CLINVK_HOME`, CLI state, config). */
  readonly ancestorsOf: readonly string[];
  /** CLI state directories (refused with everything inside them). */
  readonly state: readonly string[];
  /** Lexical and real forms of the allowed prefixes (the text check of a cluster API node). */
  private readonly allowedText: readonly string[];

  constructor(private readonly opts: WorkdirPolicyOptions) {
    this.blocked = Object.freeze(bothForms([...BUILTIN_BLOCKED_WORKDIR_PREFIXES, ...(opts.blockedPrefixes ?? [])]));
    this.home = Object.freeze(opts.clinvkHome ? bothForms([opts.clinvkHome]) : []);
    const allowed = new Set<string>();
    for (const raw of opts.allowedPrefixes ?? []) {
      if (typeof raw !== 'string' || raw.trim() === '' || raw.includes('\u0000')) continue;
      allowed.add(realForm(path.resolve(raw)));
    }
    this.allowed = Object.freeze([...allowed]);
    this.allowedText = Object.freeze(bothForms(opts.allowedPrefixes ?? []));
    this.state = Object.freeze(bothForms(opts.protectedDirs ?? []));
    this.ancestorsOf = Object.freeze([
      ...new Set([...this.blocked, ...this.home, ...this.state, ...bothForms(opts.protectedAncestorsOf ?? [])]),
    ]);
  }

  /** The same policy checking paths as text only (a cluster API node: see `onDisk`). */
  asText(): WorkdirPolicy {
    return new WorkdirPolicy({ ...this.opts, onDisk: false });
  }

  /** True when `p` (absolute, normalised) is the root, under a blocked prefix, or inside `$CLINVK_HOME`. */
  isBlocked(p: string): boolean {
    if (p === path.parse(p).root) return true;
    for (const prefix of this.blocked) if (isUnder(p, prefix)) return true;
    for (const prefix of this.home) if (isUnder(p, prefix)) return true;
    for (const prefix of this.state) if (isUnder(p, prefix)) return true;
    // An ancestor of a protected place (`/usr`, `/var`, the user's home, the parent of $CLINVK_HOME).
    for (const place of this.ancestorsOf) if (isUnder(place, p)) return true;
    return false;
  }

  /**
   * Right before a spawn (after the slot was granted): the validated real path must still be what
   * the path resolves to, so a directory replaced by a symlink meanwhile is refused.
   */
  async recheck(realPath: string, keyPrefixes?: readonly string[]): Promise<string> {
    let now: string | undefined;
    try {
      now = await fs.promises.realpath(realPath);
    } catch {
      now = undefined;
    }
    if (now !== realPath || this.isBlocked(now) || !this.isAllowed(now) || !keyAllows(now, keyPrefixes)) {
      throw new ApiError('forbidden_workdir', 'work directory changed after validation');
    }
    return now;
  }

  /** True when no allowed prefixes are configured or the real path lies under one of them. */
  isAllowed(realPath: string): boolean {
    if (this.allowed.length === 0) return true;
    return this.allowed.some((prefix) => isUnder(realPath, prefix));
  }

  /**
   * Validates a working directory and returns its real path.
   * @param input the path as given (request field, stored session `working_dir`, default workdir)
   * @param detailPath the validation detail path, e.g. `body.workdir` or `body.tasks[3].workdir`
   * @throws ApiError `validation_error` (400) or `forbidden_workdir` (403)
   */
  async resolve(input: string, detailPath: string, keyPrefixes?: readonly string[]): Promise<string> {
    const invalid = (message: string): ApiError => validationError([{ path: detailPath, message }]);
    const forbidden = (reason: 'blocked path' | 'not in allowed paths' | 'not in the allowed paths of this API key') =>
      new ApiError('forbidden_workdir', `work directory not allowed: ${input} (${reason})`);

    // 1. Format.
    if (typeof input !== 'string' || input.includes('\u0000') || !path.isAbsolute(input)) {
      throw invalid('must be an absolute path');
    }
    if (Buffer.byteLength(input, 'utf8') > MAX_WORKDIR_BYTES) {
      throw invalid(`must be at most ${MAX_WORKDIR_BYTES} bytes`);
    }
    if (!isWellFormed(input)) throw invalid('must be well-formed Unicode');

    // 2–3. Lexical normalisation; policy on the normalised path.
    const normalised = path.resolve(input);
    if (this.isBlocked(normalised)) throw forbidden('blocked path');
    if (this.opts.onDisk === false) {
      // the worker checks the real path, existence and type again on its own disk
      if (this.allowedText.length > 0 && !this.allowedText.some((p) => isUnder(normalised, p))) {
        throw forbidden('not in allowed paths');
      }
      if (keyPrefixes !== undefined && !bothForms(keyPrefixes).some((p) => isUnder(normalised, p))) {
        throw forbidden('not in the allowed paths of this API key');
      }
      return normalised;
    }

    // 4. Real path; existence and type.
    let real: string;
    try {
      real = await fs.promises.realpath(normalised);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // No existence probe: a path the policy refuses is 403 whether or not it exists.
      const guess = realForm(normalised);
      if (this.isBlocked(guess)) throw forbidden('blocked path');
      if (!this.isAllowed(guess)) throw forbidden('not in allowed paths');
      if (!keyAllows(guess, keyPrefixes)) throw forbidden('not in the allowed paths of this API key');
      if (code === 'EACCES' || code === 'EPERM') throw invalid(`work directory is not accessible: ${input}`);
      // ENOENT, ENOTDIR (a component is a file), ELOOP, ENAMETOOLONG, …
      throw invalid(`work directory does not exist: ${input}`);
    }

    // 5. Policy on the real path, before the type check (nothing is disclosed about refused trees).
    if (this.isBlocked(real)) throw forbidden('blocked path');
    if (!this.isAllowed(real)) throw forbidden('not in allowed paths');
    if (!keyAllows(real, keyPrefixes)) throw forbidden('not in the allowed paths of this API key');

    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(real);
    } catch {
      throw invalid(`work directory does not exist: ${input}`);
    }
    if (!stat.isDirectory()) throw invalid(`work directory is not a directory: ${input}`);
    return real;
  }
}
