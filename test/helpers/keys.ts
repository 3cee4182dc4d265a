/** Named API keys for multi-team tests: two user keys, an admin, and their config entries. */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { createLogger, type Logger } from '../../src/observability/logger';

export const KEY_A = 'ck_team-a-secret';
export const KEY_B = 'ck_team-b-secret';
export const KEY_ADMIN = 'ck_admin-secret';

export const sha256 = (k: string): string => createHash('sha256').update(k).digest('hex');

/** `auth.keys` entries: team-a and team-b (users) and ops (admin); `extra` is merged per name. */
export function teamKeys(extra: Record<string, Record<string, unknown>> = {}): Record<string, unknown>[] {
  return [
    { name: 'team-a', sha256: sha256(KEY_A), ...(extra['team-a'] ?? {}) },
    { name: 'team-b', sha256: sha256(KEY_B), ...(extra['team-b'] ?? {}) },
    { name: 'ops', sha256: sha256(KEY_ADMIN), role: 'admin', ...(extra.ops ?? {}) },
  ];
}

export const as = (key: string): Record<string, string> => ({ Authorization: `Bearer ${key}` });

/** A JSON winston logger writing into memory. */
export function memoryLogger(level: 'error' | 'warn' | 'info' | 'debug' = 'info') {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const logger: Logger = createLogger({ level, stream, json: true });
  return {
    logger,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, any>),
  };
}
