/**
 * Per-key limits checked when an execution is admitted (before the server-wide queue): daily
 * quotas (`requests_per_day`, `tokens_per_day`, per UTC day) and the key's concurrency
 * (`max_concurrent`: its running and queued synchronous executions plus its running jobs).
 *
 * Counting rules (docs/usage.md):
 * - a request counts when its execution starts (each aggregate item, each job run, each compat
 *   call); admission already reserves it so that simultaneous requests cannot all pass the check;
 * - tokens count when a run finishes, so one run may overshoot; the next request is refused;
 * - a run in progress is never cut; dry runs never reach admission;
 * - the counters of the current day are rebuilt from the usage records at start-up, and start again
 *   from zero at UTC midnight (of the injected clock).
 * `KeyLimiter` keeps the counters in this process's memory (its admission decides synchronously, so
 * two requests of one process can never both take the last unit). In cluster mode the same interface
 * is implemented on Redis (`cluster/key-counters.ts`) so that all nodes share one set of counters.
 */
import type { KeyLimits } from '../auth/principal';
import { ApiError } from '../errors';
import { dayOf, nextMidnight, type DailyUsage } from './types';

/** Whose limits apply: a key name and its current limits. */
export interface KeyRef {
  name: string;
  limits: Readonly<KeyLimits>;
}

export interface AdmitOptions {
  /**
   * Quota check: the request needs this many executions (an aggregate: its items). 0 → no quota
   * check (later executions of an admitted request).
   */
  quotaItems: number;
  /** Concurrency check (synchronous requests, first execution only); jobs have their own queue. */
  checkConcurrency: boolean;
  /** Counted in the key's concurrency from admission (synchronous) or only once granted (jobs). */
  countQueued: boolean;
}

/** One admitted execution of a key. Every method may be called more than once. */
export interface Ticket {
  /** The execution got its slot (a job run starts counting toward the key's concurrency). */
  granted(): void;
  /** The CLI was spawned: the reserved request counts for today. */
  started(): void;
  /** The execution is over (or never started): its concurrency unit and reservation are freed. */
  release(): void;
}

interface KeyState {
  /** Executions started today (from the records at start-up, then counted here). */
  requests: number;
  tokens: number;
  /** Admitted, not started yet (reserved against `requests_per_day`). */
  reserved: number;
  /** Running and queued executions. */
  active: number;
}

export const NOOP_TICKET: Ticket = { granted: () => undefined, started: () => undefined, release: () => undefined };

/** Today's counters of one key as `/api/v1/me` shows them. */
export interface KeyToday {
  requests: number;
  tokens: number;
  running: number;
}

/** The per-key counters of admission (in memory, or shared by a cluster). */
export interface KeyCounters {
  /** Sets today's counters of the keys in `usage` from the records (start-up); `day` must be today. */
  rebuild(day: string, usage: Map<string, DailyUsage>): Promise<void>;
  /** 429 `quota_exceeded` / `key_concurrency_limit`, else a ticket for one execution. */
  admit(key: KeyRef | undefined, opts: AdmitOptions): Promise<Ticket>;
  /** 429 `quota_exceeded` when `items` more executions do not fit today (reserves nothing). */
  checkQuota(key: KeyRef | undefined, items: number): Promise<void>;
  /** How many more executions the key may have at once (Infinity without `max_concurrent`). */
  room(key: KeyRef | undefined): Promise<number>;
  /** A finished run's tokens count for today. */
  addTokens(name: string, tokens: number): void;
  today(name: string): Promise<KeyToday>;
  close?(): void;
}

/** The errors of the per-key limits, the same whatever keeps the counters. */
export const limitErrors = {
  requests(key: KeyRef, items: number, used: number, perDay: number, now: number): ApiError {
    return quotaError(
      items > 1 && used < perDay
        ? `daily request quota of key ${key.name} does not cover ${items} executions (${perDay - used} left today)`
        : `daily request quota of key ${key.name} used up (${perDay} per day)`,
      now,
    );
  },
  tokens(key: KeyRef, perDay: number, now: number): ApiError {
    return quotaError(`daily token quota of key ${key.name} used up (${perDay} per day)`, now);
  },
  concurrency(key: KeyRef, active: number, max: number): ApiError {
    return new ApiError(
      'key_concurrency_limit',
      `key ${key.name} already has ${active} executions running or queued (max_concurrent ${max})`,
      { headers: { 'Retry-After': '1' } },
    );
  },
};

/** 429 `quota_exceeded` with `Retry-After` = whole seconds to the next UTC midnight (≥ 1). */
function quotaError(message: string, now: number): ApiError {
  const secs = Math.max(1, Math.ceil((nextMidnight(now) - now) / 1000));
  return new ApiError('quota_exceeded', message, { headers: { 'Retry-After': String(secs) } });
}

/** In this process's memory: the single-node implementation. */
export class KeyLimiter implements KeyCounters {
  private day: string;
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly clock: () => number = Date.now) {
    this.day = dayOf(clock());
  }

  /** Replaces today's counters with what the records say (start-up); `day` must be today. */
  async rebuild(day: string, usage: Map<string, DailyUsage>): Promise<void> {
    this.rollover();
    if (day !== this.day) return;
    for (const [name, u] of usage) {
      const s = this.state(name);
      s.requests = u.requests;
      s.tokens = u.tokens;
    }
  }

  /**
   * Step 13 of a request (before the server-wide queue): 429 `quota_exceeded` when today's requests
   * or tokens are used up (`Retry-After` = seconds to the next UTC midnight), then 429
   * `key_concurrency_limit` when the key's running + queued executions reached `max_concurrent`.
   */
  // Decided synchronously (the promise only carries the answer): no other request of this process
  // can slip between the check and the reservation.
  async admit(key: KeyRef | undefined, opts: AdmitOptions): Promise<Ticket> {
    if (!key) return NOOP_TICKET;
    const max = key.limits.max_concurrent;
    this.rollover();
    this.checkQuotaNow(key, opts.quotaItems);
    const s = this.state(key.name);
    if (opts.checkConcurrency && max !== null && s.active >= max) throw limitErrors.concurrency(key, s.active, max);
    return this.ticket(key.name, opts.countQueued);
  }

  /**
   * 429 `quota_exceeded` when `items` more executions do not fit in today's `requests_per_day`
   * (reservations included) or today's tokens reached `tokens_per_day`. Reserves nothing (a job is
   * checked at creation and again when it starts).
   */
  async checkQuota(key: KeyRef | undefined, items: number): Promise<void> {
    this.checkQuotaNow(key, items);
  }

  private checkQuotaNow(key: KeyRef | undefined, items: number): void {
    if (!key || items <= 0) return;
    const { requests_per_day: rpd, tokens_per_day: tpd } = key.limits;
    if (rpd === null && tpd === null) return;
    this.rollover();
    const s = this.keys.get(key.name);
    const used = s ? s.requests + s.reserved : 0;
    if (rpd !== null && used + items > rpd) throw limitErrors.requests(key, items, used, rpd, this.clock());
    if (tpd !== null && (s?.tokens ?? 0) >= tpd) throw limitErrors.tokens(key, tpd, this.clock());
  }

  /** How many more executions the key may have at once (Infinity without `max_concurrent`). */
  async room(key: KeyRef | undefined): Promise<number> {
    const max = key?.limits.max_concurrent ?? null;
    if (max === null || !key) return Infinity;
    return Math.max(0, max - (this.keys.get(key.name)?.active ?? 0));
  }

  /** A finished run's tokens count for the day it finished in (today). */
  addTokens(name: string, tokens: number): void {
    if (tokens <= 0) return;
    this.rollover();
    this.state(name).tokens += tokens;
  }

  /** Today's counters of a key (GET /api/v1/me). */
  async today(name: string): Promise<KeyToday> {
    this.rollover();
    const s = this.keys.get(name);
    return { requests: s?.requests ?? 0, tokens: s?.tokens ?? 0, running: s?.active ?? 0 };
  }

  private ticket(name: string, countQueued: boolean): Ticket {
    const s = this.state(name);
    s.reserved++;
    let counted = false;
    let reserved = true;
    const count = (): void => {
      if (counted) return;
      counted = true;
      this.state(name).active++;
    };
    if (countQueued) count();
    const unreserve = (): void => {
      if (!reserved) return;
      reserved = false;
      const st = this.state(name);
      st.reserved = Math.max(0, st.reserved - 1);
    };
    return {
      granted: count,
      started: () => {
        if (!reserved) return;
        unreserve();
        this.rollover();
        this.state(name).requests++;
      },
      release: () => {
        unreserve();
        if (counted) {
          counted = false;
          const st = this.state(name);
          st.active = Math.max(0, st.active - 1);
        }
      },
    };
  }

  private state(name: string): KeyState {
    let s = this.keys.get(name);
    if (!s) {
      s = { requests: 0, tokens: 0, reserved: 0, active: 0 };
      this.keys.set(name, s);
    }
    return s;
  }

  /** At UTC midnight the daily counters start again (running and reserved executions stay). */
  private rollover(): void {
    const day = dayOf(this.clock());
    if (day === this.day) return;
    this.day = day;
    for (const s of this.keys.values()) {
      s.requests = 0;
      s.tokens = 0;
    }
  }
}
