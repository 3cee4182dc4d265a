/** The `code` of a Node system error (`ENOENT`, `EACCES`, …), or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    ? (err as { code: string }).code
    : undefined;
}

/** True when `err` is a system error with one of `codes`. */
export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = errnoCode(err);
  return code !== undefined && codes.includes(code);
}
