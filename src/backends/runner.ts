/**
 * The ProcessRunner: runs a CLI through the process supervisor (supervisor/: the server's event
 * loop never forks), reads its stdout from the run's own connection — collected with a byte cap,
 * or split into lines with a per-line cap — with backpressure (pause() stops reading; the CLI's
 * writes then block), and asks the supervisor to kill the whole process group (SIGTERM → SIGKILL)
 * on demand. The supervisor spawns with cross-spawn (never a shell, stdin `/dev/null`, own process
 * group), keeps the stderr tail, and SIGKILLs the group once more after the CLI exited so that
 * grandchildren never outlive a run.
 */
import crypto from 'node:crypto';
import type net from 'node:net';
import { LineSplitter } from './line-splitter';
import type { ProcessRunner, RunHandle, RunOutcome, RunSpec } from './runner-types';
import { SupervisorClient, type RunEvents } from './supervisor/client';
import type { ProcessExit } from './types';

/** Bytes of stderr kept (the tail). */
export const STDERR_TAIL_BYTES = 64 * 1024;

/**
 * When the child has exited but its stdout/stderr are still open after this long (a process that
 * left the group, e.g. via setsid, still holds them), they are closed so `done` can resolve.
 * For stdout the timer only fires while the consumer is not pausing it.
 */
export const DEFAULT_DRAIN_TIMEOUT_MS = 2000;

/** The subset of a (winston) logger the runner uses. */
export interface RunnerLogger {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  info?(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error?(message: string, meta?: Record<string, unknown>): unknown;
}

export interface SupervisedRunnerOptions {
  logger?: RunnerLogger;
  /** See DEFAULT_DRAIN_TIMEOUT_MS. */
  drainTimeoutMs?: number;
  /** `$CLINVK_HOME/run`: records of running CLIs for the clean-up after a crash (none when unset). */
  runDir?: string;
  /** Server instance id recorded with each run (default: random). */
  instance?: string;
}

/** RunOutcome plus runner-specific details. */
export interface SupervisedRunOutcome extends RunOutcome {
  /** An exception thrown by `onLine`; the child was killed and delivery stopped. */
  lineCallbackError?: unknown;
}

const LOST: ProcessExit = { code: null, signal: 'SIGKILL' };

class SupervisedRunHandle implements RunHandle, RunEvents {
  readonly done: Promise<RunOutcome>;
  id?: string;

  private childPid = 0;
  private spawnedOk = false;
  /** stdout is read only once start() has resolved and its awaiting code ran (see spawned()). */
  private readingAllowed = false;
  private exit?: ProcessExit;
  private stderrTail?: string;
  private out?: net.Socket;
  private stdoutDone = false;
  private closed = false;
  private termSent = false;
  private killReason?: string;
  private drainTimer?: NodeJS.Timeout;
  private drainDeferred = false;
  private resolveDone!: (o: RunOutcome) => void;

  /** Consumer asked for a pause (lines mode backpressure). */
  private consumerPaused = false;
  private reading = false;
  /** stdout is no longer of interest (limit hit, callback failure or kill in lines mode): read and drop. */
  private discarding = false;

  // collect mode
  private readonly collected: Buffer[] = [];
  private collectedBytes = 0;
  // lines mode
  private readonly splitter?: LineSplitter;

  private outputTooLarge = false;
  private lineCallbackError?: unknown;
  private readonly maxOutputBytes: number;

  constructor(
    private readonly spec: RunSpec,
    private readonly client: SupervisorClient,
    private readonly logger: RunnerLogger | undefined,
    private readonly drainTimeoutMs: number,
    private readonly onSpawned: (h: SupervisedRunHandle) => void,
    private readonly onSpawnError: (err: Error) => void,
    private readonly onClosed: (h: SupervisedRunHandle) => void,
  ) {
    this.maxOutputBytes = spec.maxOutputBytes ?? Number.POSITIVE_INFINITY;
    if (spec.mode === 'lines') {
      this.splitter = new LineSplitter(spec.maxLineBytes ?? Number.POSITIVE_INFINITY, (line) => this.deliver(line));
    }
    this.done = new Promise<RunOutcome>((resolve) => (this.resolveDone = resolve));
  }

  get pid(): number {
    return this.childPid;
  }

  // ---- events from the supervisor client ----

  spawned(pid: number): void {
    this.childPid = pid;
    this.spawnedOk = true;
    this.onSpawned(this);
    // The stdout connection may be there before this message: no line may be delivered before the
    // code awaiting start() has run (a stream writes its response head there). That code runs in
    // the microtasks of this turn; read from the next one.
    setImmediate(() => {
      this.readingAllowed = true;
      this.readStdout();
    });
  }

  spawnError(err: Error): void {
    this.closed = true;
    this.out?.destroy();
    this.onSpawnError(err);
  }

  stdout(socket: net.Socket): void {
    if (this.closed || this.out) {
      socket.destroy();
      return;
    }
    this.out = socket;
    // 'readable' + read() rather than 'data': reading stops exactly when the consumer pauses.
    socket.on('readable', () => this.readStdout());
    socket.on('end', () => this.onStdoutEnd());
    socket.on('close', () => this.onStdoutClosed());
    socket.on('error', (err) => this.logger?.debug('runner: stdout error', { pid: this.pid, error: String(err) }));
    this.readStdout();
  }

  exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exit) return;
    this.exit = { code, signal };
    this.armDrainTimer();
    this.maybeClose();
  }

  stderr(tail: string): void {
    this.stderrTail = tail;
    this.maybeClose();
  }

  lost(): void {
    if (this.closed) return;
    if (!this.spawnedOk) {
      this.spawnError(new Error('the process supervisor exited before the CLI started'));
      return;
    }
    this.logger?.warn('runner: the process supervisor died; killing the run', { pid: this.pid });
    if (!this.exit) {
      // Nobody can wait for the CLI any more: kill its group and report it killed.
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    this.stderrTail ??= '';
    if (!this.exit) this.exited(LOST.code, LOST.signal);
    else this.maybeClose();
  }

  // ---- RunHandle ----

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
    if (this.exit) {
      if (this.id) this.client.kill(this.id);
      if (this.spec.mode === 'lines' && !this.discarding && !this.out?.readableEnded) {
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

  // ---- internals ----

  /** SIGTERM to the group now, SIGKILL after the grace period (the supervisor keeps the timer). */
  private terminate(): void {
    if (this.termSent || this.exit) return;
    this.termSent = true;
    if (this.id) this.client.kill(this.id);
  }

  /** After exit: if stdout is still open after the drain timeout, close it (see DEFAULT_DRAIN_TIMEOUT_MS). */
  private armDrainTimer(): void {
    if (this.closed || this.drainTimer || this.stdoutDone) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      if (this.closed || this.stdoutDone) return;
      if (this.consumerPaused && !this.discarding) {
        // The consumer is applying backpressure: unread output is legitimate. Re-arm on resume().
        this.drainDeferred = true;
        return;
      }
      this.logger?.debug('runner: child exited but its stdout stayed open; closing it', { pid: this.pid });
      if (this.out) this.out.destroy();
      else this.onStdoutClosed();
    }, this.drainTimeoutMs);
    this.drainTimer.unref();
  }

  private startDiscarding(): void {
    if (this.discarding) return;
    this.discarding = true;
    this.splitter?.stop();
    this.collected.length = 0;
    this.collectedBytes = 0;
    // Keep reading (and dropping) so stdout reaches EOF even if the consumer had paused.
    this.readStdout();
  }

  /** Reads whatever stdout has buffered, unless the consumer pauses (backpressure). */
  private readStdout(): void {
    const stdout = this.out;
    if (!stdout || this.reading || !this.readingAllowed) return; // re-entry (resume()/kill() from inside onLine): the outer loop continues
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
    else if (!this.splitter!.push(chunk) && this.splitter!.overflowed) this.onLineTooLong();
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

  private onStdoutEnd(): void {
    if (this.spec.mode !== 'lines' || this.discarding) return;
    if (!this.splitter!.end() && this.splitter!.overflowed) this.onLineTooLong();
  }

  private onStdoutClosed(): void {
    if (this.stdoutDone) return;
    this.stdoutDone = true;
    this.maybeClose();
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
    this.logger?.debug('runner: line limit exceeded, killing', { pid: this.pid, limit: this.spec.maxLineBytes });
    this.startDiscarding();
    this.terminate();
  }

  /** `done` resolves once the CLI exited, its stderr tail arrived and stdout reached its end. */
  private maybeClose(): void {
    if (this.closed || !this.exit || this.stderrTail === undefined || !this.stdoutDone) return;
    this.closed = true;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    if (this.id) this.client.release(this.id);
    this.onClosed(this);
    this.resolveDone(this.outcome(this.exit));
  }

  private outcome(exit: ProcessExit): SupervisedRunOutcome {
    const out: SupervisedRunOutcome = {
      exit,
      stdout: this.spec.mode === 'collect' ? Buffer.concat(this.collected, this.collectedBytes).toString('utf8') : '',
      stderr: this.stderrTail ?? '',
      outputTooLarge: this.outputTooLarge,
      lineTooLong: this.splitter?.overflowed ?? false,
    };
    if (this.killReason !== undefined) out.killReason = this.killReason;
    if (this.lineCallbackError !== undefined) out.lineCallbackError = this.lineCallbackError;
    return out;
  }
}

/** Only string values reach the CLI's environment. */
function plainEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') out[k] = v;
  return out;
}

export class SupervisedRunner implements ProcessRunner {
  private readonly live = new Set<RunHandle>();
  private readonly logger?: RunnerLogger;
  private readonly drainTimeoutMs: number;
  private readonly client: SupervisorClient;

  constructor(opts: SupervisedRunnerOptions = {}) {
    this.logger = opts.logger;
    this.drainTimeoutMs = opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.client = new SupervisorClient({
      runDir: opts.runDir ?? '',
      instance: opts.instance ?? crypto.randomBytes(8).toString('hex'),
      logger: opts.logger,
    });
  }

  get running(): ReadonlySet<RunHandle> {
    return this.live;
  }

  /** PID of the supervisor process (undefined until it has started). */
  get supervisorPid(): number | undefined {
    return this.client.pid;
  }

  warmUp(): Promise<void> {
    return this.client.warmUp();
  }

  start(spec: RunSpec): Promise<RunHandle> {
    return new Promise<RunHandle>((resolve, reject) => {
      const handle: SupervisedRunHandle = new SupervisedRunHandle(
        spec,
        this.client,
        this.logger,
        this.drainTimeoutMs,
        (h) => {
          this.live.add(h);
          resolve(h);
        },
        reject,
        (h) => this.live.delete(h),
      );
      this.client
        .spawn(
          {
            command: spec.command,
            args: spec.args,
            cwd: spec.cwd,
            env: plainEnv(spec.env),
            ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
            ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
            ...(spec.groups !== undefined ? { groups: spec.groups } : {}),
            killGraceMs: spec.killGraceMs,
            drainTimeoutMs: this.drainTimeoutMs,
            stderrTailBytes: STDERR_TAIL_BYTES,
          },
          handle,
        )
        .then((id) => (handle.id = id), reject);
    });
  }

  async killAll(reason: string): Promise<void> {
    const handles = [...this.live];
    for (const h of handles) h.kill(reason);
    await Promise.all(handles.map((h) => h.done));
  }

  /** Stops the supervisor (after killAll, nothing is left for it to kill). */
  close(): Promise<void> {
    return this.client.close();
  }
}
