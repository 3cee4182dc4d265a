/**
 * The ProcessRunner: spawns a CLI with cross-spawn (never a shell, stdin `/dev/null`,
 * own process group), collects or line-splits stdout with hard byte limits, keeps the stderr tail,
 * and kills the whole process group (SIGTERM → SIGKILL) on demand, plus one final SIGKILL to the
 * group after the child exited so that grandchildren never outlive a run.
 */
import type { ChildProcess } from 'child_process';
import spawn from 'cross-spawn';
import type { ProcessRunner, RunHandle, RunOutcome, RunSpec } from './runner-types';
import type { ProcessExit } from './types';
import { errnoCode } from '../lib/errno';

/** Bytes of stderr kept (the tail). */
export const STDERR_TAIL_BYTES = 64 * 1024;

/**
 * When the child has exited but stdout/stderr are still open after this long (a process that left
 * the group, e.g. via setsid, still holds the pipes), the pipes are destroyed so `done` can resolve.
 * The timer only fires while the consumer is not pausing stdout.
 */
export const DEFAULT_DRAIN_TIMEOUT_MS = 2000;

/** The subset of a (winston) logger the runner uses. */
export interface RunnerLogger {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export interface CrossSpawnRunnerOptions {
  logger?: RunnerLogger;
  /** See DEFAULT_DRAIN_TIMEOUT_MS. */
  drainTimeoutMs?: number;
}

/** RunOutcome plus runner-specific details. */
export interface CrossSpawnRunOutcome extends RunOutcome {
  /** An exception thrown by `onLine`; the child was killed and delivery stopped. */
  lineCallbackError?: unknown;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/** Keeps only the last `limit` bytes written to it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    if (chunk.length >= this.limit) {
      this.chunks = [chunk.subarray(chunk.length - this.limit)];
      this.size = this.limit;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit) {
      const first = this.chunks[0];
      const excess = this.size - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  toString(): string {
    let buf = Buffer.concat(this.chunks, this.size);
    // The cut may have landed inside a multi-byte character: drop leading continuation bytes.
    let start = 0;
    while (start < buf.length && start < 3 && (buf[start] & 0xc0) === 0x80) start++;
    if (start > 0) buf = buf.subarray(start);
    return buf.toString('utf8');
  }
}

class CrossSpawnRunHandle implements RunHandle {
  readonly pid: number;
  readonly done: Promise<RunOutcome>;

  private exited = false;
  private closed = false;
  private termSent = false;
  private killReason?: string;
  private graceTimer?: NodeJS.Timeout;
  private drainTimer?: NodeJS.Timeout;
  private drainDeferred = false;

  /** Consumer asked for a pause (lines mode backpressure). */
  private consumerPaused = false;
  private reading = false;
  /** stdout is no longer of interest (limit hit, callback failure or kill in lines mode): read and drop. */
  private discarding = false;

  // collect mode
  private readonly collected: Buffer[] = [];
  private collectedBytes = 0;
  // lines mode
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  private readonly stderrTail = new TailBuffer(STDERR_TAIL_BYTES);
  private outputTooLarge = false;
  private lineTooLong = false;
  private lineCallbackError?: unknown;

  private readonly maxOutputBytes: number;
  private readonly maxLineBytes: number;

  constructor(
    private readonly child: ChildProcess,
    private readonly spec: RunSpec,
    private readonly logger: RunnerLogger | undefined,
    private readonly drainTimeoutMs: number,
    onClosed: (h: CrossSpawnRunHandle) => void,
  ) {
    if (child.pid === undefined) throw new Error('child has no pid');
    this.pid = child.pid;
    this.maxOutputBytes = spec.maxOutputBytes ?? Number.POSITIVE_INFINITY;
    this.maxLineBytes = spec.maxLineBytes ?? Number.POSITIVE_INFINITY;

    const stdout = child.stdout;
    const stderr = child.stderr;
    if (stdout) {
      // stdout is consumed with 'readable' + read() rather than 'data': Node's ChildProcess resumes
      // flowing ('data'-only) stdio streams when the child exits, which would defeat pause().
      stdout.on('readable', () => this.readStdout());
      stdout.on('end', () => this.onStdoutEnd());
      stdout.on('error', (err) => this.logger?.debug('runner: stdout error', { pid: this.pid, error: String(err) }));
    }
    if (stderr) {
      stderr.on('data', (chunk: Buffer) => this.stderrTail.push(chunk));
      stderr.on('error', (err) => this.logger?.debug('runner: stderr error', { pid: this.pid, error: String(err) }));
    }

    child.on('exit', () => this.onExit());

    this.done = new Promise<RunOutcome>((resolve) => {
      child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.closed) return;
        this.closed = true;
        this.exited = true;
        this.clearTimers();
        onClosed(this);
        resolve(this.outcome({ code, signal }));
      });
    });
  }

  /**
   * SIGTERM → SIGKILL to the group and records `reason` (first call wins). In `lines` mode no
   * further line is delivered and the rest of stdout is read and dropped, so a paused consumer
   * cannot keep the run alive. After the child exited but before `done` (pipes still draining):
   * SIGKILL to the group; in `lines` mode, if stdout has not been delivered to its end, the rest is
   * dropped and the reason recorded (the consumer will not see the end of the output). After
   * `done`: no-op.
   */
  kill(reason: string): void {
    if (this.closed) return;
    if (this.exited) {
      this.signalGroup('SIGKILL');
      if (this.spec.mode === 'lines' && !this.discarding && this.child.stdout?.readableEnded === false) {
        if (this.killReason === undefined) this.killReason = reason;
        this.startDiscarding();
      }
      return;
    }
    if (this.killReason === undefined) this.killReason = reason;
    if (this.spec.mode === 'lines') this.startDiscarding();
    this.terminate();
  }

  pause(): void {
    this.consumerPaused = true;
  }

  resume(): void {
    this.consumerPaused = false;
    this.readStdout();
    if (this.drainDeferred) {
      this.drainDeferred = false;
      this.armDrainTimer();
    }
  }

  /** SIGTERM to the group now, SIGKILL after the grace period unless the child has exited. */
  private terminate(): void {
    if (this.termSent || this.exited) return;
    this.termSent = true;
    this.signalGroup('SIGTERM');
    this.graceTimer = setTimeout(
      () => {
        this.graceTimer = undefined;
        if (!this.exited) this.signalGroup('SIGKILL');
      },
      Math.max(0, this.spec.killGraceMs),
    );
    this.graceTimer.unref();
  }

  private signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch (err) {
      if (errnoCode(err) !== 'ESRCH') {
        this.logger?.warn('runner: could not signal process group', {
          pid: this.pid,
          signal,
          error: String(err),
        });
      }
    }
  }

  private onExit(): void {
    if (this.exited) return;
    this.exited = true;
    if (this.graceTimer) {
      clearTimeout(this.graceTimer);
      this.graceTimer = undefined;
    }
    // Grandchildren in the group must not outlive the run.
    this.signalGroup('SIGKILL');
    this.armDrainTimer();
  }

  /** After exit: if the pipes are still open after the drain timeout, close them (see DEFAULT_DRAIN_TIMEOUT_MS). */
  private armDrainTimer(): void {
    if (this.closed || this.drainTimer) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      if (this.closed) return;
      if (this.consumerPaused && !this.discarding) {
        // The consumer is applying backpressure: unread output is legitimate. Re-arm on resume().
        this.drainDeferred = true;
        return;
      }
      this.destroyPipes();
    }, this.drainTimeoutMs);
    this.drainTimer.unref();
  }

  private destroyPipes(): void {
    this.logger?.debug('runner: child exited but its pipes stayed open; closing them', { pid: this.pid });
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
  }

  private clearTimers(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.graceTimer = undefined;
    this.drainTimer = undefined;
  }

  private startDiscarding(): void {
    if (this.discarding) return;
    this.discarding = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.collected.length = 0;
    this.collectedBytes = 0;
    // Keep reading (and dropping) so the pipes reach EOF even if the consumer had paused.
    this.readStdout();
  }

  /** Reads whatever stdout has buffered, unless the consumer pauses (backpressure). */
  private readStdout(): void {
    const stdout = this.child.stdout;
    if (!stdout || this.reading) return; // re-entry (resume()/kill() from inside onLine): the outer loop continues
    this.reading = true;
    try {
      let chunk: Buffer | null;
      while ((!this.consumerPaused || this.discarding) && (chunk = stdout.read() as Buffer | null) !== null) {
        this.onStdout(chunk);
      }
    } finally {
      this.reading = false;
    }
  }

  private onStdout(chunk: Buffer): void {
    if (this.discarding) return;
    if (this.spec.mode === 'collect') this.collect(chunk);
    else this.splitLines(chunk);
  }

  private collect(chunk: Buffer): void {
    if (this.outputTooLarge) return;
    if (this.collectedBytes + chunk.length > this.maxOutputBytes) {
      this.outputTooLarge = true;
      const room = this.maxOutputBytes - this.collectedBytes;
      if (room > 0) {
        this.collected.push(chunk.subarray(0, room));
        this.collectedBytes += room;
      }
      this.logger?.debug('runner: output limit exceeded, killing', { pid: this.pid, limit: this.maxOutputBytes });
      this.terminate();
      return;
    }
    this.collected.push(chunk);
    this.collectedBytes += chunk.length;
  }

  private splitLines(chunk: Buffer): void {
    const max = this.maxLineBytes;
    let start = 0;
    while (!this.discarding) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) break;
      const segment = chunk.subarray(start, nl);
      start = nl + 1;
      let line: Buffer;
      if (this.pendingBytes === 0) {
        line = segment;
      } else {
        this.pending.push(segment);
        line = Buffer.concat(this.pending, this.pendingBytes + segment.length);
        this.pending = [];
        this.pendingBytes = 0;
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      if (line.length > max) {
        this.onLineTooLong();
        return;
      }
      this.deliver(line);
    }
    if (this.discarding || start >= chunk.length) return;
    const rest = chunk.subarray(start);
    // +1: a trailing `\r` that will be stripped does not count against the limit.
    if (this.pendingBytes + rest.length > max + 1) {
      this.onLineTooLong();
      return;
    }
    this.pending.push(rest);
    this.pendingBytes += rest.length;
  }

  private onStdoutEnd(): void {
    if (this.spec.mode !== 'lines' || this.discarding || this.pendingBytes === 0) return;
    let line = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > this.maxLineBytes) {
      this.onLineTooLong();
      return;
    }
    this.deliver(line);
  }

  private deliver(line: Buffer): void {
    const onLine = this.spec.onLine;
    if (!onLine) return;
    try {
      onLine(line.toString('utf8'));
    } catch (err) {
      this.lineCallbackError = err;
      this.logger?.warn('runner: onLine threw, killing', { pid: this.pid, error: String(err) });
      this.startDiscarding();
      this.terminate();
    }
  }

  private onLineTooLong(): void {
    this.lineTooLong = true;
    this.logger?.debug('runner: line limit exceeded, killing', { pid: this.pid, limit: this.maxLineBytes });
    this.startDiscarding();
    this.terminate();
  }

  private outcome(exit: ProcessExit): CrossSpawnRunOutcome {
    const out: CrossSpawnRunOutcome = {
      exit,
      stdout: this.spec.mode === 'collect' ? Buffer.concat(this.collected, this.collectedBytes).toString('utf8') : '',
      stderr: this.stderrTail.toString(),
      outputTooLarge: this.outputTooLarge,
      lineTooLong: this.lineTooLong,
    };
    if (this.killReason !== undefined) out.killReason = this.killReason;
    if (this.lineCallbackError !== undefined) out.lineCallbackError = this.lineCallbackError;
    return out;
  }
}

export class CrossSpawnRunner implements ProcessRunner {
  private readonly live = new Set<RunHandle>();
  private readonly logger?: RunnerLogger;
  private readonly drainTimeoutMs: number;

  constructor(opts: CrossSpawnRunnerOptions = {}) {
    this.logger = opts.logger;
    this.drainTimeoutMs = opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  }

  get running(): ReadonlySet<RunHandle> {
    return this.live;
  }

  start(spec: RunSpec): Promise<RunHandle> {
    return new Promise<RunHandle>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(spec.command, spec.args, {
          cwd: spec.cwd,
          env: spec.env,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
          shell: false,
          windowsHide: true,
        });
      } catch (err) {
        reject(err);
        return;
      }

      if (child.pid === undefined) {
        // The spawn failed (ENOENT, EACCES, ...): the 'error' event follows on the next tick.
        child.once('error', (err) => {
          // The stdio pipes were set up before the failure; make sure they are released.
          child.stdout?.destroy();
          child.stderr?.destroy();
          reject(err);
        });
        return;
      }

      let handle: CrossSpawnRunHandle;
      try {
        handle = new CrossSpawnRunHandle(child, spec, this.logger, this.drainTimeoutMs, (h) => this.live.delete(h));
      } catch (err) {
        reject(err);
        return;
      }
      this.live.add(handle);
      let spawned = false;
      // Late errors (e.g. a failed signal delivery through ChildProcess) must not crash the server.
      child.on('error', (err) => {
        if (!spawned) {
          this.live.delete(handle);
          reject(err);
          return;
        }
        this.logger?.warn('runner: child error', { pid: child.pid, error: String(err) });
      });
      child.once('spawn', () => {
        spawned = true;
        resolve(handle);
      });
    });
  }

  async killAll(reason: string): Promise<void> {
    const handles = [...this.live];
    for (const h of handles) h.kill(reason);
    await Promise.all(handles.map((h) => h.done));
  }
}
