/**
 * The token bucket of the rate limiter, shared by every API node through Redis: the same rules as the
 * in-process store (`http/middleware/rate-limit-store.ts`: `burst` tokens, refilled continuously at
 * `rps`, starting full, dropped when idle), computed atomically in one Lua call on Redis's clock
 * (`TIME`), so nodes with skewed clocks still share one bucket exactly.
 *
 * When Redis is unreachable the limiter fails open (every request passes) or closed (every request is
 * refused with 429 `rate_limited`), as `cluster.rate_limit_fail` says.
 */
import type { ClientRateLimitInfo, Store } from 'express-rate-limit';
import { ApiError } from '../errors';
import type { LuaScript, RedisConnection } from './redis';

/**
 * KEYS[1] the bucket hash; ARGV rps, burst, idle ms, tokens to take (1, or -1 to give one back).
 * Returns {tokens left after the call (string: Lua numbers become integers on the way out), taken 1|0}.
 */
export const TOKEN_BUCKET_SCRIPT: LuaScript = {
  name: 'clinvkTokenBucket',
  keys: 1,
  lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rps, burst, idle, take = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated = tonumber(b[1]), tonumber(b[2])
if tokens == nil or updated == nil then tokens, updated = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - updated) / 1000 * rps)
local taken = 0
if take < 0 then tokens = math.min(burst, tokens - take) elseif tokens >= take then tokens = tokens - take; taken = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', now)
redis.call('PEXPIRE', KEYS[1], idle)
return {tostring(tokens), taken}
`,
};

export class RedisTokenBucketStore implements Store {
  readonly localKeys = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly rps: number,
    readonly burst: number,
    private readonly idleMs: number,
    private readonly failMode: 'open' | 'closed',
  ) {}

  private call(key: string, take: number): Promise<[string, number]> {
    return this.redis.run(TOKEN_BUCKET_SCRIPT, this.redis.key('rl', key), this.rps, this.burst, this.idleMs, take);
  }

  /** Same answer as the in-process store: `totalHits` > burst means over the limit. */
  async increment(key: string): Promise<ClientRateLimitInfo> {
    let tokens: number;
    let taken: boolean;
    try {
      const [left, ok] = await this.call(key, 1);
      tokens = Number(left);
      taken = ok === 1;
    } catch {
      if (this.failMode === 'open') return { totalHits: 1, resetTime: this.after(0) };
      throw new ApiError('rate_limited', 'rate limiter unavailable (cluster.rate_limit_fail: closed)', {
        headers: { 'Retry-After': '1' },
      });
    }
    if (taken) return { totalHits: this.burst - Math.floor(tokens), resetTime: this.after(this.burst - tokens) };
    return { totalHits: this.burst + 1, resetTime: this.after(1 - tokens) };
  }

  async decrement(key: string): Promise<void> {
    await this.call(key, -1).catch(() => undefined);
  }

  async resetKey(key: string): Promise<void> {
    await this.redis.client.del(this.redis.key('rl', key)).catch(() => undefined);
  }

  /** When `tokens` more tokens are back, from this node's clock (≥ 1 s: the Retry-After unit). */
  private after(tokens: number): Date {
    return new Date(Date.now() + Math.max(1000, Math.ceil((tokens / this.rps) * 1000)));
  }
}
