/**
 * Wake-ups per job for whoever waits on a job this process does not drive (a reader following
 * stored events, a long poll, a cancel waiting for the outcome): something about the job changed
 * (here or on another node), look at the store again. A waiter subscribes before it reads, so a
 * change between its read and its wait is never missed.
 */

export interface Subscription {
  /** Resolves on the next change of the job (or `false` once `ms` passed). */
  changed(ms: number): Promise<boolean>;
  cancel(): void;
}

export class JobSignals {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Subscribes to the next change of job `id`. */
  subscribe(id: string): Subscription {
    let fired = false;
    let wake: (() => void) | undefined;
    const fn = (): void => {
      fired = true;
      wake?.();
    };
    const set = this.waiters.get(id) ?? new Set();
    set.add(fn);
    this.waiters.set(id, set);
    const cancel = (): void => {
      const s = this.waiters.get(id);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) this.waiters.delete(id);
    };
    return {
      cancel,
      changed: (ms) =>
        new Promise<boolean>((resolve) => {
          if (fired) {
            cancel();
            return resolve(true);
          }
          const timer = setTimeout(() => {
            cancel();
            resolve(false);
          }, ms);
          wake = () => {
            clearTimeout(timer);
            cancel();
            resolve(true);
          };
        }),
    };
  }

  /** Job `id` changed. */
  fire(id: string): void {
    const set = this.waiters.get(id);
    if (!set) return;
    this.waiters.delete(id);
    for (const fn of set) fn();
  }

  /** Every waiter looks again (e.g. when the server stops). */
  fireAll(): void {
    for (const id of [...this.waiters.keys()]) this.fire(id);
  }
}
