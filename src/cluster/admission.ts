/**
 * Cluster-wide admission: `server.max_concurrent_executions` and `max_queued_executions` hold for the
 * whole cluster, not per node. Each decision is one Lua call on Redis, so two nodes admitting at the
 * same instant can never overshoot.
 *
 * Redis holds three sorted sets under `<prefix>:adm:`:
 * - `run`: admitted executions, scored by the time their entry expires;
 * - `wait`: waiting executions in admission order (synchronous ones first: a job's score is offset);
 * - `wexp`: the expiry time of each waiting entry.
 * Every node renews the entries it holds every third of `cluster.lease_secs`; the entries of a node
 * that died expire after at most one lease and free their places by themselves.
 *
 * A waiter is promoted when its rank in `wait` is below the number of free places; nodes learn that a
 * place may be free from a pub/sub message on release and, as a fallback, by polling.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors';
import type { AdmissionGate, AdmissionRequest } from '../execution/limiter';
import { coordinationUnavailable, type LuaScript, type RedisConnection } from './redis';

/** Offset of the job lane's scores in `wait` (synchronous waiters always rank first). */
const JOB_OFFSET = '1000000000000000';

const EXPIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, m in ipairs(dead) do redis.call('ZREM', KEYS[2], m); redis.call('ZREM', KEYS[3], m) end
`;

/** KEYS run, wait, wexp, seq; ARGV id, lane, admitted (0|1), max, max queued, ttl ms → 1 run, 0 wait, -1 full. */
export const ADMIT_SCRIPT: LuaScript = {
  name: 'clinvkAdmit',
  keys: 4,
  lua: `${EXPIRE}
local id, lane, admitted = ARGV[1], ARGV[2], tonumber(ARGV[3])
local max, maxq, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local running = redis.call('ZCARD', KEYS[1])
local syncWaiting = redis.call('ZCOUNT', KEYS[2], '-inf', '(${JOB_OFFSET}')
local ahead = syncWaiting
if lane == 'job' then ahead = redis.call('ZCARD', KEYS[2]) end
if running < max and ahead == 0 then
  redis.call('ZADD', KEYS[1], now + ttl, id)
  return 1
end
if lane == 'sync' and admitted == 0 and syncWaiting >= maxq then return -1 end
local seq = redis.call('INCR', KEYS[4])
local score = seq
if lane == 'job' then score = tonumber('${JOB_OFFSET}') + seq end
redis.call('ZADD', KEYS[2], score, id)
redis.call('ZADD', KEYS[3], now + ttl, id)
return 0
`,
};

/** KEYS run, wait, wexp; ARGV id, max, ttl ms → 1 promoted, 0 still waiting, -2 unknown (expired). */
export const PROMOTE_SCRIPT: LuaScript = {
  name: 'clinvkPromote',
  keys: 3,
  lua: `${EXPIRE}
local id, max, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local rank = redis.call('ZRANK', KEYS[2], id)
if not rank then return -2 end
if rank < max - redis.call('ZCARD', KEYS[1]) then
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZADD', KEYS[1], now + ttl, id)
  return 1
end
redis.call('ZADD', KEYS[3], now + ttl, id)
return 0
`,
};

/** KEYS run, wexp; ARGV ttl ms, ids… → renews the entries that still exist. */
export const RENEW_SCRIPT: LuaScript = {
  name: 'clinvkRenew',
  keys: 2,
  lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i])
  redis.call('ZADD', KEYS[2], 'XX', now + ttl, ARGV[i])
end
return 0
`,
};

export const ADMISSION_SCRIPTS = [ADMIT_SCRIPT, PROMOTE_SCRIPT, RENEW_SCRIPT];

interface Waiter {
  id: string;
  wake(): void;
}

export interface ClusterAdmissionOptions {
  maxConcurrent: number;
  maxQueued: number;
  /** How long an entry lives without renewal (ms): a dead node's places are free after at most this. */
  leaseMs: number;
  /** Polling interval of waiters (ms), a fallback for lost release messages and expired entries. */
  pollMs?: number;
}

export class ClusterAdmission implements AdmissionGate {
  private readonly held = new Set<string>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly renewTimer: NodeJS.Timeout;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly channel: string;
  /** run, wait, wexp, seq (computed once: every admission uses them). */
  private readonly keyNames: string[];

  constructor(
    private readonly redis: RedisConnection,
    private readonly opts: ClusterAdmissionOptions,
  ) {
    this.channel = redis.key('adm', 'free');
    this.keyNames = ['run', 'wait', 'wexp', 'seq'].map((k) => redis.key('adm', k));
    redis.subscribe(this.channel, () => this.wakeAll());
    this.renewTimer = setInterval(() => void this.renew(), Math.max(100, Math.floor(opts.leaseMs / 3)));
    this.renewTimer.unref();
  }

  /** Places taken cluster-wide right now (diagnostics and tests). */
  async counts(): Promise<{ running: number; waiting: number }> {
    const [run, wait] = this.keyNames;
    const [running, waiting] = await Promise.all([this.redis.client.zcard(run), this.redis.client.zcard(wait)]);
    return { running, waiting };
  }

  async admit(req: AdmissionRequest): Promise<() => void> {
    const id = randomBytes(12).toString('hex');
    let verdict: number;
    try {
      verdict = await this.redis.run<number>(
        ADMIT_SCRIPT,
        ...this.keyNames,
        id,
        req.lane,
        req.admitted ? 1 : 0,
        this.opts.maxConcurrent,
        this.opts.maxQueued,
        this.opts.leaseMs,
      );
    } catch (err) {
      throw coordinationUnavailable(err);
    }
    if (verdict === -1) {
      req.onReject?.('queue_full');
      throw new ApiError('queue_full', 'execution queue is full', { headers: { 'Retry-After': '1' } });
    }
    if (verdict === 0) await this.wait(id, req);
    this.held.add(id);
    return () => this.release(id);
  }

  private wait(id: string, req: AdmissionRequest): Promise<void> {
    req.onQueued?.();
    return new Promise<void>((resolve, reject) => {
      let busy = false;
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.signal.removeEventListener('abort', onAbort);
        this.waiters.delete(id);
        if (this.waiters.size === 0 && this.pollTimer) {
          clearInterval(this.pollTimer);
          this.pollTimer = undefined;
        }
        if (err) {
          void this.leave(id);
          reject(err);
        } else resolve();
      };
      const wake = (): void => {
        if (busy || done) return;
        busy = true;
        this.redis
          .run<number>(PROMOTE_SCRIPT, ...this.keyNames.slice(0, 3), id, this.opts.maxConcurrent, this.opts.leaseMs)
          .then(async (r) => {
            // an entry that expired (Redis was out of reach longer than a lease) queues again at the end
            if (r === -2)
              r = await this.redis.run<number>(
                ADMIT_SCRIPT,
                ...this.keyNames,
                id,
                req.lane,
                1,
                this.opts.maxConcurrent,
                this.opts.maxQueued,
                this.opts.leaseMs,
              );
            if (r === 1) finish();
          })
          .catch(() => undefined) // Redis unreachable: keep waiting until the deadline
          .finally(() => {
            busy = false;
          });
      };
      const onAbort = (): void => finish(new ApiError('internal_error', 'canceled: client disconnected'));
      const timer = setTimeout(
        () => {
          req.onReject?.('queue_timeout');
          finish(new ApiError('backend_timeout', 'timed out while waiting for an execution slot'));
        },
        Math.max(0, req.deadline - Date.now()),
      );
      timer.unref();
      req.signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(id, { id, wake });
      if (!this.pollTimer) {
        this.pollTimer = setInterval(() => this.wakeAll(), this.opts.pollMs ?? 250);
        this.pollTimer.unref();
      }
      if (req.signal.aborted) onAbort();
      else wake();
    });
  }

  private wakeAll(): void {
    for (const w of this.waiters.values()) w.wake();
  }

  private release(id: string): void {
    if (!this.held.delete(id)) return;
    void this.leave(id);
  }

  /** Removes an entry and tells every node that a place may be free (errors: the entry expires). */
  private async leave(id: string): Promise<void> {
    const [run, wait, wexp] = this.keyNames;
    try {
      await this.redis.client.multi().zrem(run, id).zrem(wait, id).zrem(wexp, id).publish(this.channel, '1').exec();
    } catch {
      // unreachable: the entry is no longer renewed and expires within one lease
    }
  }

  private async renew(): Promise<void> {
    const ids = [...this.held, ...this.waiters.keys()];
    if (ids.length === 0) return;
    const [run, , wexp] = this.keyNames;
    await this.redis.run(RENEW_SCRIPT, run, wexp, this.opts.leaseMs, ...ids).catch(() => undefined);
  }

  close(): void {
    clearInterval(this.renewTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
  }
}
