/**
 * The server's side of the process supervisor (main.ts): forks it (once; again after it died),
 * sends spawn and kill requests over IPC and receives the runs' events.
 *
 * A run's stdout reaches the server through one unix-socket connection per run, not through the
 * supervisor: the supervisor connects to this client's listener, writes the run's random id (the
 * token that pairs the connection with the run) and passes the connection to the CLI as its
 * stdout. The CLI then writes straight into the socket the server reads — one copy, nothing in
 * between, and when the server stops reading, the socket buffers fill and the CLI's writes block
 * (backpressure, as with a pipe). Chosen over passing descriptors through IPC because Node can
 * only pass a socket it has already started reading (bytes could be lost in the hand-over), and
 * over relaying through the supervisor because that doubles the copies and the buffering. On Linux
 * the listener is in the abstract namespace (no file, gone with the process); the token keeps
 * other local processes from posing as a run.
 * stderr goes to the supervisor, which keeps the tail and sends it when the run ends.
 */
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FromSupervisor, SpawnRequest, SupervisorOptions, ToSupervisor } from './protocol';
import { supervisorScript } from './script';

export interface SupervisorLogger {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  info?(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error?(message: string, meta?: Record<string, unknown>): unknown;
}

/** What the client reports about one run. */
export interface RunEvents {
  spawned(pid: number): void;
  spawnError(err: Error): void;
  /** The run's stdout connection (may arrive before or after `spawned`). */
  stdout(socket: net.Socket): void;
  exited(code: number | null, signal: NodeJS.Signals | null): void;
  stderr(tail: string): void;
  /** The supervisor died: nothing more will be reported. */
  lost(): void;
}

export interface SupervisorClientOptions {
  /** `$CLINVK_HOME/run` for the records of running CLIs ('' = none). */
  runDir: string;
  /** Server instance id (recorded with each run). */
  instance: string;
  logger?: SupervisorLogger;
  /** The supervisor program (default: supervisorScript()). */
  script?: string;
}

export type SpawnParams = Omit<SpawnRequest, 't' | 'id'>;

/** A connection has this long to present its token. */
const TOKEN_TIMEOUT_MS = 10_000;
const TOKEN_BYTES = 16;
/** Time allowed for the supervisor to start. */
const READY_TIMEOUT_MS = 15_000;
/**
 * Keep the supervisor small (≈40 MB RSS, most of it the node binary's pages): a tiny young
 * generation, and no JIT (its JavaScript is a few message handlers; the interpreter is plenty).
 */
const SUPERVISOR_EXEC_ARGV = ['--max-semi-space-size=1', '--jitless', '--no-expose-wasm'];

export class SupervisorClient {
  private child?: ChildProcess;
  private starting?: Promise<ChildProcess>;
  private listener?: net.Server;
  private readonly socketPath: string;
  /** Runs in flight, with the supervisor process that runs each (a restarted one has new runs). */
  private readonly runs = new Map<string, { events: RunEvents; owner: ChildProcess }>();
  private closed = false;
  private keepWarm = false;
  private lastStart = 0;
  private restartTimer?: NodeJS.Timeout;

  constructor(private readonly opts: SupervisorClientOptions) {
    const name = `clinvk-supervisor-${opts.instance}-${crypto.randomBytes(4).toString('hex')}`;
    this.socketPath = process.platform === 'linux' ? `\0${name}` : path.join(os.tmpdir(), `${name}.sock`);
  }

  /** PID of the running supervisor, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the supervisor now and keeps it running (restarted when it dies) until close(). */
  async warmUp(): Promise<void> {
    this.keepWarm = true;
    await this.ensureStarted();
  }

  /** Sends a spawn request; events arrive on `events`. Resolves with the run id once sent. */
  async spawn(params: SpawnParams, events: RunEvents): Promise<string> {
    const child = await this.ensureStarted();
    const id = crypto.randomBytes(TOKEN_BYTES).toString('hex');
    this.runs.set(id, { events, owner: child });
    this.updateRef();
    this.send(child, { t: 'spawn', id, ...params });
    return id;
  }

  kill(id: string): void {
    const run = this.runs.get(id);
    if (run) this.send(run.owner, { t: 'kill', id });
  }

  /** The run is finished on the server side: forget it. */
  release(id: string): void {
    this.runs.delete(id);
    this.updateRef();
  }

  /** Stops the supervisor (it kills whatever is still running) and the listener. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child ?? (await this.starting?.catch(() => undefined));
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.connected) child.disconnect();
      else child.kill('SIGKILL');
      await exited;
    }
    this.listener?.close();
    this.listener = undefined;
  }

  private send(child: ChildProcess, m: ToSupervisor): void {
    if (!child.connected) return; // it is dying: its 'exit' reports every run as lost
    child.send(m, undefined, {}, (err) => {
      if (err) this.opts.logger?.debug('supervisor: send failed', { error: String(err) });
    });
  }

  private ensureStarted(): Promise<ChildProcess> {
    if (this.closed) return Promise.reject(new Error('process supervisor closed'));
    if (this.child?.connected) return Promise.resolve(this.child);
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async start(): Promise<ChildProcess> {
    await this.listen();
    const options: SupervisorOptions = {
      socketPath: this.socketPath,
      runDir: this.opts.runDir,
      instance: this.opts.instance,
    };
    this.lastStart = Date.now();
    // The supervisor gets no environment of its own (every spawn request carries the CLI's):
    // nothing secret of the server's environment sits in its /proc/<pid>/environ. One malloc
    // arena: its few allocations do not need per-thread arenas.
    const child = fork(supervisorScript(), [JSON.stringify(options)], {
      env: { MALLOC_ARENA_MAX: '1' },
      execArgv: SUPERVISOR_EXEC_ARGV,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('process supervisor did not start in time'));
      }, READY_TIMEOUT_MS);
      const settle = (err?: Error): void => {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('error', settle);
        if (err) reject(err);
        else resolve();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        settle(new Error(`process supervisor exited at start (code ${code}, signal ${signal})`));
      child.once('error', settle);
      child.once('exit', onExit);
      // Registered at once: messages that follow 'ready' in the same read must not be lost.
      child.on('message', (m: FromSupervisor) => (m.t === 'ready' ? settle() : this.onMessage(m)));
    });
    child.on('error', (err) => this.opts.logger?.warn('supervisor: error', { error: String(err) }));
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    this.child = child;
    this.updateRef();
    this.opts.logger?.debug('process supervisor started', { pid: child.pid });
    if (this.closed) {
      child.disconnect();
      throw new Error('process supervisor closed');
    }
    return child;
  }

  private onMessage(m: FromSupervisor): void {
    if (m.t === 'log') {
      const log = this.opts.logger;
      const fn =
        (m.level === 'error' ? log?.error : m.level === 'info' ? log?.info : undefined) ??
        log?.[m.level === 'debug' ? 'debug' : 'warn'];
      fn?.call(log, m.message, m.meta);
      return;
    }
    if (m.t === 'ready') return;
    const run = this.runs.get(m.id)?.events;
    if (!run) return;
    switch (m.t) {
      case 'spawned':
        run.spawned(m.pid);
        break;
      case 'spawnError': {
        this.release(m.id);
        const err = Object.assign(new Error(m.message), {
          code: m.code,
          errno: m.errno,
          syscall: m.syscall,
          path: m.path,
        });
        run.spawnError(err);
        break;
      }
      case 'exited':
        run.exited(m.code, m.signal);
        break;
      case 'stderr':
        run.stderr(m.tail);
        break;
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child === child) this.child = undefined;
    const runs: RunEvents[] = [];
    for (const [id, run] of this.runs) {
      if (run.owner !== child) continue;
      runs.push(run.events);
      this.runs.delete(id);
    }
    this.updateRef();
    if (!this.closed) {
      this.opts.logger?.warn('process supervisor exited', { pid: child.pid, code, signal, runs: runs.length });
    }
    for (const run of runs) run.lost();
    if (this.keepWarm && !this.closed && !this.child) {
      // Restart at once, but not in a tight loop when it keeps dying right after the start.
      const delay = Date.now() - this.lastStart < 1000 ? 1000 : 0;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        this.ensureStarted().catch((err) =>
          this.opts.logger?.warn('process supervisor restart failed', { error: String(err) }),
        );
      }, delay);
      this.restartTimer.unref();
    }
  }

  /** The supervisor keeps the server's event loop alive only while runs are in flight. */
  private updateRef(): void {
    const child = this.child;
    if (!child) return;
    const channel = child.channel as { ref?(): void; unref?(): void } | undefined;
    if (this.runs.size > 0) {
      child.ref();
      channel?.ref?.();
    } else {
      child.unref();
      channel?.unref?.();
    }
  }

  private listen(): Promise<void> {
    if (this.listener) return Promise.resolve();
    const server = net.createServer((sock) => this.onConnection(sock));
    server.on('error', (err) => this.opts.logger?.warn('supervisor: stdout listener error', { error: String(err) }));
    this.listener = server;
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        server.unref();
        resolve();
      });
    });
  }

  /** Reads the token line, then hands the connection (with any bytes after the token) to its run. */
  private onConnection(sock: net.Socket): void {
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => sock.destroy(), TOKEN_TIMEOUT_MS);
    timer.unref();
    sock.on('error', () => undefined);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = sock.read() as Buffer | null) !== null) {
        head = head.length ? Buffer.concat([head, chunk]) : chunk;
        const nl = head.indexOf(0x0a);
        if (nl === -1) {
          if (head.length > TOKEN_BYTES * 2) {
            clearTimeout(timer);
            sock.destroy();
          }
          continue;
        }
        sock.off('readable', onReadable);
        sock.off('end', onEnd);
        clearTimeout(timer);
        const run = this.runs.get(head.subarray(0, nl).toString('latin1'))?.events;
        if (!run) {
          sock.destroy();
          return;
        }
        const rest = head.subarray(nl + 1);
        if (rest.length > 0) sock.unshift(rest);
        run.stdout(sock);
        return;
      }
    };
    const onEnd = (): void => {
      clearTimeout(timer);
      sock.destroy();
    };
    sock.on('readable', onReadable);
    sock.on('end', onEnd);
  }
}
