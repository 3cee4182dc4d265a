/**
 * File-system errors: recognising them (duck-typed, since errors may come from another realm, e.g.
 * a test runner's VM context, where `instanceof Error` is false) and describing them without paths.
 */

interface ErrorLike {
  code?: unknown;
  syscall?: unknown;
  message: string;
}

function isErrorLike(e: unknown): e is ErrorLike {
  return typeof e === 'object' && e !== null && typeof (e as ErrorLike).message === 'string';
}

/** An error carrying a POSIX errno code (`ENOENT`, `EACCES`, …). */
export function isFsError(e: unknown): e is NodeJS.ErrnoException {
  return isErrorLike(e) && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code);
}

/** `ENOTDIR: not a directory (mkdir)`: the reason without the path, safe to show to clients. */
export function describeFsError(e: unknown): string {
  if (!isErrorLike(e)) return String(e);
  const m = /^([A-Z]+): ([^,]+)/.exec(e.message);
  const syscall = typeof e.syscall === 'string' ? ` (${e.syscall})` : '';
  return m ? `${m[1]}: ${m[2]}${syscall}` : e.message;
}
