/** How a failure of a PostgreSQL call is classified: the database unreachable, or anything else. */

/** Socket-level errors: the server cannot be reached (or the connection broke). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOENT', // a Unix socket path that does not exist
]);

/** pg's own messages for a connection that could not be made or was lost. */
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended',
  'connect ECONNREFUSED',
];

/**
 * True when `e` says the database is unreachable (or going away) rather than that a statement was
 * wrong: network errors, SQLSTATE class 08 (connection exception), 57P01–57P03 (shutdown, cannot
 * connect now) and 53300 (too many connections). Such failures make the stores unavailable (503) and
 * are retried by the pool with new connections.
 */
export function isConnectionError(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const err = e as { code?: unknown; message?: unknown; errors?: unknown };
  const code = typeof err.code === 'string' ? err.code : '';
  if (NETWORK_CODES.has(code)) return true;
  if (/^08/.test(code) || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true;
  const message = typeof err.message === 'string' ? err.message : '';
  if (CONNECTION_MESSAGES.some((m) => message.includes(m))) return true;
  // Node's AggregateError when every address of a host refused (IPv4 and IPv6 localhost).
  if (Array.isArray(err.errors)) return err.errors.some((x) => isConnectionError(x));
  return false;
}

/** A short, password-free description of a failure. */
export function describeDbError(e: unknown): string {
  if (e && typeof e === 'object') {
    const err = e as { code?: unknown; message?: unknown; errors?: unknown };
    const message = typeof err.message === 'string' && err.message !== '' ? err.message : undefined;
    if (message) return message;
    if (Array.isArray(err.errors) && err.errors.length > 0) return describeDbError(err.errors[0]);
    if (typeof err.code === 'string') return err.code;
  }
  return String(e);
}

/** A migration that failed: start-up stops (exit 2) with this message. */
export class MigrationError extends Error {
  constructor(
    readonly version: number,
    readonly migration: string,
    readonly reason: string,
  ) {
    super(`PostgreSQL migration ${version} (${migration}) failed: ${reason}`);
    this.name = 'MigrationError';
  }
}

/** The URL without its password (for logs and messages). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable URL>';
  }
}
