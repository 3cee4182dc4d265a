/**
 * Idempotent job creation: a create with an `Idempotency-Key` the same owner used before returns
 * that earlier job when the body is the same (compared by the SHA-256 of its canonical JSON), and
 * fails with `idempotency_conflict` when it differs.
 */
import { createHash } from 'node:crypto';
import { ApiError } from '../errors';
import type { JobRecord, JobStore } from './types';

/** JSON with object keys sorted: equal bodies give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The hash an idempotent create is compared by. */
export function requestHash(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** The earlier job created by `owner` with `key` for the same body; throws when the body differs. */
export async function replayed(
  store: JobStore,
  owner: string,
  key: string,
  hash: string,
): Promise<JobRecord | undefined> {
  const existing = await store.findIdempotent(owner, key);
  if (existing && existing.idempotency?.hash !== hash) {
    throw new ApiError('idempotency_conflict', 'Idempotency-Key was already used with a different request body');
  }
  return existing;
}
