/**
 * The per-key counters of admission (daily requests and tokens, running + queued executions) shared
 * by every node of a cluster in Redis, with the same rules and messages as the in-memory
 * `usage/limits.ts`. Each check-and-reserve is one Lua call, so two nodes cannot both take a key's
 * last unit.
 *
 * Under `<prefix>:kc:`:
 * - `day:<YYYY-MM-DD>:<key>` hash {requests, tokens}, expiring two days after it was last written;
 *   a missing hash is rebuilt from the usage records at start-up (first node wins);
 * - `res:<key>` reservations (admitted, not started) and `act:<key>` running/queued executions,
 *   sorted sets of ticket ids scored by expiry: each node renews its tickets every third of
 *   `cluster.lease_secs`, so a dead node's units free themselves after at most one lease.
 * Days are the node's (injected) clock's UTC days, like the single-node counters.
 */
import { randomBytes } from 'node:crypto';
import {
  NOOP_TICKET,
  limitErrors,
  type AdmitOptions,
  type KeyCounters,
  type KeyRef,
  type KeyToday,
  type Ticket,
} from '../usage/limits';
import { dayOf, type DailyUsage } from '../usage/types';
import { coordinationUnavailable, type LuaScript, type RedisConnection } from './redis';

const DAY_TTL_SECS = 2 * 86_400;

const NOW_AND_EXPIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
`;

/**
 * KEYS day, act, res; ARGV id, items, requests/day, tokens/day, max concurrent (-1: none),
 * check concurrency (0|1), count queued (0|1), ttl ms, reserve (0|1).
 * → {1, 0} admitted | {-1, used requests} | {-2, tokens} | {-3, active}.
 */
export const KEY_ADMIT_SCRIPT: LuaScript = {
  name: 'clinvkKeyAdmit',
  keys: 3,
  lua: `${NOW_AND_EXPIRE}
local id, items = ARGV[1], tonumber(ARGV[2])
local rpd, tpd, max = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local h = redis.call('HMGET', KEYS[1], 'requests', 'tokens')
local requests, tokens = tonumber(h[1]) or 0, tonumber(h[2]) or 0
if items > 0 then
  local used = requests + redis.call('ZCARD', KEYS[3])
  if rpd >= 0 and used + items > rpd then return {-1, used} end
  if tpd >= 0 and tokens >= tpd then return {-2, tokens} end
end
local active = redis.call('ZCARD', KEYS[2])
if ARGV[6] == '1' and max >= 0 and active >= max then return {-3, active} end
if ARGV[9] == '1' then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[8]), id)
  if ARGV[7] == '1' then redis.call('ZADD', KEYS[2], now + tonumber(ARGV[8]), id) end
end
return {1, 0}
`,
};

/** KEYS day, act, res; ARGV id, op (granted|started|release), ttl ms, day ttl s. */
export const KEY_TICKET_SCRIPT: LuaScript = {
  name: 'clinvkKeyTicket',
  keys: 3,
  lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, op = ARGV[1], ARGV[2]
if op == 'granted' then
  redis.call('ZADD', KEYS[2], 'NX', now + tonumber(ARGV[3]), id)
elseif op == 'started' then
  if redis.call('ZREM', KEYS[3], id) == 1 then
    redis.call('HINCRBY', KEYS[1], 'requests', 1)
    redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
  end
else
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[2], id)
end
return 0
`,
};

/** KEYS day, act, res → {requests, tokens, active}. */
export const KEY_READ_SCRIPT: LuaScript = {
  name: 'clinvkKeyRead',
  keys: 3,
  lua: `${NOW_AND_EXPIRE}
local h = redis.call('HMGET', KEYS[1], 'requests', 'tokens')
return {tonumber(h[1]) or 0, tonumber(h[2]) or 0, redis.call('ZCARD', KEYS[2])}
`,
};

/** KEYS day; ARGV requests, tokens, day ttl s → sets the day's counters only when it has none. */
export const KEY_REBUILD_SCRIPT: LuaScript = {
  name: 'clinvkKeyRebuild',
  keys: 1,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'requests', ARGV[1], 'tokens', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
`,
};

/**
 * KEYS act₁, res₁, act₂, res₂, …; ARGV ttl ms, id₁, id₂, … → renews the tickets that still exist.
 * Sent with EVAL (its number of keys varies with the number of tickets).
 */
const KEY_RENEW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[2 * i - 3], 'XX', now + ttl, ARGV[i])
  redis.call('ZADD', KEYS[2 * i - 2], 'XX', now + ttl, ARGV[i])
end
return 0
`;

export const KEY_COUNTER_SCRIPTS = [KEY_ADMIT_SCRIPT, KEY_TICKET_SCRIPT, KEY_READ_SCRIPT, KEY_REBUILD_SCRIPT];

export class RedisKeyCounters implements KeyCounters {
  /** Live tickets of this node (ticket id → key name), renewed while they live. */
  private readonly tickets = new Map<string, string>();
  private readonly renewTimer: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisConnection,
    private readonly leaseMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.renewTimer = setInterval(() => void this.renew(), Math.max(100, Math.floor(leaseMs / 3)));
    this.renewTimer.unref();
  }

  private call(script: LuaScript, keys: string[], ...args: (string | number)[]): Promise<unknown> {
    return this.redis.run(script, ...keys, ...args);
  }

  private keysOf(name: string): string[] {
    return [
      this.redis.key('kc', 'day', dayOf(this.clock()), name),
      this.redis.key('kc', 'act', name),
      this.redis.key('kc', 'res', name),
    ];
  }

  async rebuild(day: string, usage: Map<string, DailyUsage>): Promise<void> {
    if (day !== dayOf(this.clock())) return;
    for (const [name, u] of usage) {
      await this.call(
        KEY_REBUILD_SCRIPT,
        [this.redis.key('kc', 'day', day, name)],
        u.requests,
        u.tokens,
        DAY_TTL_SECS,
      ).catch(() => undefined); // unreachable: the counters start from what Redis holds later
    }
  }

  async admit(key: KeyRef | undefined, opts: AdmitOptions): Promise<Ticket> {
    if (!key) return NOOP_TICKET;
    const id = randomBytes(12).toString('hex');
    await this.check(key, opts.quotaItems, opts.checkConcurrency, { id, countQueued: opts.countQueued });
    this.tickets.set(id, key.name);
    return this.ticket(id, key.name);
  }

  async checkQuota(key: KeyRef | undefined, items: number): Promise<void> {
    if (!key || items <= 0) return;
    const { requests_per_day: rpd, tokens_per_day: tpd } = key.limits;
    if (rpd === null && tpd === null) return;
    await this.check(key, items, false);
  }

  /** One Lua call: the quota (items > 0), the concurrency, and — with `reserve` — the reservation. */
  private async check(
    key: KeyRef,
    items: number,
    checkConcurrency: boolean,
    reserve?: { id: string; countQueued: boolean },
  ): Promise<void> {
    const { requests_per_day: rpd, tokens_per_day: tpd, max_concurrent: max } = key.limits;
    let answer: [number, number];
    try {
      answer = (await this.call(
        KEY_ADMIT_SCRIPT,
        this.keysOf(key.name),
        reserve?.id ?? '',
        items,
        rpd ?? -1,
        tpd ?? -1,
        max ?? -1,
        checkConcurrency ? 1 : 0,
        reserve?.countQueued ? 1 : 0,
        this.leaseMs,
        reserve ? 1 : 0,
      )) as [number, number];
    } catch (err) {
      throw coordinationUnavailable(err);
    }
    const [verdict, value] = answer;
    if (verdict === -1) throw limitErrors.requests(key, items, value, rpd!, this.clock());
    if (verdict === -2) throw limitErrors.tokens(key, tpd!, this.clock());
    if (verdict === -3) throw limitErrors.concurrency(key, value, max!);
  }

  private ticket(id: string, name: string): Ticket {
    const op = (what: 'granted' | 'started' | 'release'): void => {
      void this.call(KEY_TICKET_SCRIPT, this.keysOf(name), id, what, this.leaseMs, DAY_TTL_SECS).catch(
        () => undefined, // unreachable: a reservation or unit expires within one lease
      );
    };
    let released = false;
    return {
      granted: () => {
        if (!released) op('granted');
      },
      started: () => {
        if (!released) op('started');
      },
      release: () => {
        if (released) return;
        released = true;
        this.tickets.delete(id);
        op('release');
      },
    };
  }

  async room(key: KeyRef | undefined): Promise<number> {
    const max = key?.limits.max_concurrent ?? null;
    if (max === null || !key) return Infinity;
    return Math.max(0, max - (await this.today(key.name)).running);
  }

  addTokens(name: string, tokens: number): void {
    if (tokens <= 0) return;
    const day = this.keysOf(name)[0]!;
    void this.redis.client
      .multi()
      .hincrby(day, 'tokens', tokens)
      .expire(day, DAY_TTL_SECS)
      .exec()
      .catch(() => undefined);
  }

  async today(name: string): Promise<KeyToday> {
    try {
      const [requests, tokens, running] = (await this.call(KEY_READ_SCRIPT, this.keysOf(name))) as number[];
      return { requests: requests!, tokens: tokens!, running: running! };
    } catch (err) {
      throw coordinationUnavailable(err);
    }
  }

  private async renew(): Promise<void> {
    if (this.tickets.size === 0) return;
    const keys: string[] = [];
    const ids: string[] = [];
    for (const [id, name] of this.tickets) {
      keys.push(this.redis.key('kc', 'act', name), this.redis.key('kc', 'res', name));
      ids.push(id);
    }
    await this.redis.client.eval(KEY_RENEW_LUA, keys.length, ...keys, this.leaseMs, ...ids).catch(() => undefined);
  }

  close(): void {
    clearInterval(this.renewTimer);
  }
}
