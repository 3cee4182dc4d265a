/** Errors thrown by the official client. */
import type { ErrorOf, OpId } from './types';

/**
 * The server answered an operation with an error status and a JSON error body (native envelope,
 * OpenAI or Anthropic shape, depending on the path). `response` is typed by status.
 */
export class ClinvkError<K extends OpId = OpId> extends Error {
  override readonly name = 'ClinvkError';
  /** Machine code: the native `code`, OpenAI `error.code`, or Anthropic `error.type`. */
  readonly code: string;
  readonly status: number;
  readonly requestId: string | undefined;

  constructor(
    readonly operationId: K,
    readonly response: ErrorOf<K>,
    readonly headers: Headers,
  ) {
    const { status, body } = response as { status: number; body: unknown };
    const { message, code } = describe(body);
    super(`${operationId}: HTTP ${status} ${code}: ${message}`);
    this.code = code;
    this.status = status;
    this.requestId = headers.get('x-request-id') ?? undefined;
  }
}

/** The server (or something in between) answered with an error status and a body that is not JSON. */
export class ClinvkHttpError extends Error {
  override readonly name = 'ClinvkHttpError';
  constructor(
    readonly operationId: string,
    readonly status: number,
    readonly body: string,
    readonly headers: Headers,
  ) {
    super(`${operationId}: HTTP ${status}: ${body.slice(0, 200)}`);
  }
}

/** The request did not get an answer (connection refused or reset, DNS, …). */
export class ClinvkConnectionError extends Error {
  override readonly name = 'ClinvkConnectionError';
  constructor(
    readonly operationId: string,
    override readonly cause: unknown,
  ) {
    super(`${operationId}: ${cause instanceof Error ? (causeText(cause) ?? cause.message) : String(cause)}`);
  }
}

function causeText(err: Error): string | undefined {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ? `${err.message} (${cause.code})` : undefined;
}

/** True for a ClinvkError of the given operation (narrows `response` to that operation's errors). */
export function isClinvkError<K extends OpId>(err: unknown, operationId: K): err is ClinvkError<K> {
  return err instanceof ClinvkError && err.operationId === operationId;
}

function describe(body: unknown): { message: string; code: string } {
  const b = (body ?? {}) as {
    error?: string | { message?: string; code?: string; type?: string };
    code?: string;
  };
  if (typeof b.error === 'string') return { message: b.error, code: b.code ?? 'unknown' };
  if (b.error && typeof b.error === 'object') {
    return { message: b.error.message ?? '', code: b.error.code ?? b.error.type ?? 'unknown' };
  }
  return { message: '', code: 'unknown' };
}
