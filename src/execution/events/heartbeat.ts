/**
 * Keep-alive for idle streams: calls `beat` when nothing was written for `intervalMs` (0
 * disables). Streamed events only record a timestamp, so the hot path never touches a timer; the
 * one timer re-arms itself for the rest of the interval.
 */
export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private last = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly beat: () => void,
  ) {}

  start(): void {
    if (this.intervalMs <= 0) return;
    this.last = Date.now();
    this.schedule(this.intervalMs);
  }

  /** Something was written now. */
  touch(): void {
    this.last = Date.now();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      const idle = Date.now() - this.last;
      if (idle >= this.intervalMs) {
        this.beat();
        this.last = Date.now();
        this.schedule(this.intervalMs);
      } else {
        this.schedule(this.intervalMs - idle);
      }
    }, ms);
    this.timer.unref();
  }
}
