/**
 * The supervisor's side of a run: spawns the CLI (cross-spawn, never a shell, stdin /dev/null,
 * its own process group), hands it the server's stdout connection as its stdout, keeps the stderr
 * tail, kills the group on request (SIGTERM → SIGKILL after the grace period) and once more after
 * the CLI exited (grandchildren), and keeps a record of the group under `$CLINVK_HOME/run/` while
 * it may be alive. Runs in the supervisor process, never in the server.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import spawn from 'cross-spawn';
import { TailBuffer } from '../tail-buffer';
import { processStartTime } from './proc';
import type { FromSupervisor, SpawnRequest } from './protocol';
import { ensureRunDir, removeFile, writeRecord } from './run-records';

export interface SpawnerOptions {
  socketPath: string;
  runDir: string;
  instance: string;
  serverPid: number;
  serverStartTime: number | undefined;
}

interface Run {
  req: SpawnRequest;
  child?: ChildProcess;
  pid?: number;
  spawned: boolean;
  failed: boolean;
  exited: boolean;
  termSent: boolean;
  killRequested: boolean;
  stderrDone: boolean;
  graceTimer?: NodeJS.Timeout;
  drainTimer?: NodeJS.Timeout;
  tail: TailBuffer;
  recordFile?: string;
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));

export class Spawner {
  private readonly runs = new Map<string, Run>();
  private stopping = false;
  private warnedGroups = false;

  constructor(
    private readonly opts: SpawnerOptions,
    private readonly send: (m: FromSupervisor) => void,
  ) {
    if (opts.runDir) {
      try {
        ensureRunDir(opts.runDir);
      } catch (err) {
        this.log('warn', 'supervisor: cannot create the run directory', { dir: opts.runDir, error: String(err) });
      }
    }
  }

  get size(): number {
    return this.runs.size;
  }

  /** Connects the stdout connection, announces the run on it, then spawns the CLI. */
  spawn(req: SpawnRequest): void {
    if (this.stopping || this.runs.has(req.id)) return;
    const run: Run = {
      req,
      spawned: false,
      failed: false,
      exited: false,
      termSent: false,
      killRequested: false,
      stderrDone: false,
      tail: new TailBuffer(req.stderrTailBytes),
    };
    this.runs.set(req.id, run);
    const sock = new net.Socket();
    // Never read: nothing comes from the server on this connection (it only carries the CLI's stdout).
    sock.pause();
    sock.once('error', (err) => this.fail(run, err, sock));
    sock.connect(this.opts.socketPath, () => {
      // The id is the token that pairs the connection with the run. Wait until it is written so
      // that it precedes every byte of the CLI's output.
      sock.write(`${req.id}\n`, (err) => (err ? this.fail(run, err, sock) : this.start(run, sock)));
    });
  }

  kill(id: string): void {
    const run = this.runs.get(id);
    if (!run) return;
    if (!run.spawned) {
      run.killRequested = true;
      return;
    }
    if (run.exited) this.signalGroup(run, 'SIGKILL');
    else this.terminate(run);
  }

  /**
   * The server is gone: SIGTERM every live group, SIGKILL what is left after the longest grace
   * period, remove the records, then call `done`.
   */
  stopAll(done: () => void): void {
    this.stopping = true;
    let grace = 0;
    for (const run of this.runs.values()) {
      grace = Math.max(grace, run.req.killGraceMs);
      if (!run.spawned) run.killRequested = true;
      else if (!run.exited) this.terminate(run);
    }
    const deadline = Date.now() + grace;
    const check = (): void => {
      const live = [...this.runs.values()].filter((r) => r.spawned && !r.exited);
      const pending = [...this.runs.values()].filter((r) => !r.spawned && !r.failed);
      if ((live.length === 0 && pending.length === 0) || Date.now() >= deadline) {
        for (const run of this.runs.values()) {
          // (Exited runs already had their group killed.)
          if (!run.exited) this.signalGroup(run, 'SIGKILL');
          if (run.recordFile) removeFile(run.recordFile);
        }
        done();
        return;
      }
      setTimeout(check, 20);
    };
    check();
  }

  private start(run: Run, sock: net.Socket): void {
    const req = run.req;
    if (this.stopping) return this.fail(run, new Error('supervisor stopping'), sock);
    let command = req.command;
    let args = req.args;
    const options: SpawnOptions = {
      cwd: req.cwd,
      env: req.env,
      // stdout is the server's connection: the CLI writes straight into it (one copy, and the
      // server not reading blocks the CLI's writes: backpressure). stdin is /dev/null.
      stdio: ['ignore', sock, 'pipe'],
      detached: true,
      shell: false,
      windowsHide: true,
    };
    if (req.groups && req.groups.length > 0 && req.uid !== undefined && SETPRIV) {
      // child_process drops every supplementary group when it switches user: setpriv switches
      // (user, group and the given groups) and then execs the CLI, so the PID stays the CLI's.
      args = [
        `--reuid=${req.uid}`,
        `--regid=${req.gid ?? req.uid}`,
        `--groups=${req.groups.join(',')}`,
        '--',
        command,
        ...args,
      ];
      command = SETPRIV;
    } else {
      if (req.uid !== undefined) options.uid = req.uid;
      if (req.gid !== undefined) options.gid = req.gid;
      if (req.groups && req.groups.length > 0 && !this.warnedGroups) {
        this.warnedGroups = true;
        this.log('warn', 'supervisor: setpriv not found; CLIs run without supplementary groups');
      }
    }
    let child: ChildProcess;
    try {
      child = spawn(command, args, options);
    } catch (err) {
      return this.fail(run, err, sock);
    }
    // The CLI has its own copy of the connection; ours must go, or the server would never see EOF.
    sock.destroy();
    if (child.pid === undefined) {
      // ENOENT, EACCES, a missing cwd, …: the 'error' event follows.
      child.once('error', (err) => {
        child.stderr?.destroy();
        this.fail(run, err);
      });
      return;
    }
    run.child = child;
    run.pid = child.pid;
    this.record(run);
    child.stderr?.on('data', (chunk: Buffer) => run.tail.push(chunk));
    child.stderr?.on('error', () => undefined);
    child.stderr?.once('close', () => this.onStderrDone(run));
    child.on('error', (err) => this.log('warn', 'supervisor: child error', { pid: run.pid, error: String(err) }));
    child.once('exit', (code, signal) => this.onExit(run, code, signal));
    child.once('spawn', () => {
      run.spawned = true;
      this.send({ t: 'spawned', id: req.id, pid: run.pid! });
      if (run.killRequested) this.terminate(run);
    });
  }

  private record(run: Run): void {
    if (!this.opts.runDir || run.pid === undefined) return;
    try {
      run.recordFile = writeRecord(this.opts.runDir, {
        instance: this.opts.instance,
        server_pid: this.opts.serverPid,
        server_start_time: this.opts.serverStartTime ?? null,
        pid: run.pid,
        pgid: run.pid,
        // The child is not reaped before this event-loop turn ends, so this PID is still ours.
        start_time: processStartTime(run.pid) ?? null,
        command: run.req.command,
        created: new Date().toISOString(),
      });
    } catch (err) {
      this.log('warn', 'supervisor: cannot record a running CLI', { pid: run.pid, error: String(err) });
    }
  }

  private fail(run: Run, err: unknown, sock?: net.Socket): void {
    sock?.destroy();
    if (run.failed || run.child) return;
    run.failed = true;
    this.runs.delete(run.req.id);
    const e = err as NodeJS.ErrnoException;
    const msg: FromSupervisor = { t: 'spawnError', id: run.req.id, message: e?.message ?? String(err) };
    if (typeof e?.code === 'string') msg.code = e.code;
    if (typeof e?.errno === 'number') msg.errno = e.errno;
    if (typeof e?.syscall === 'string') msg.syscall = e.syscall;
    if (typeof e?.path === 'string') msg.path = e.path;
    this.send(msg);
  }

  /** SIGTERM to the group now, SIGKILL after the grace period unless the CLI has exited. */
  private terminate(run: Run): void {
    if (run.termSent || run.exited) return;
    run.termSent = true;
    this.signalGroup(run, 'SIGTERM');
    run.graceTimer = setTimeout(
      () => {
        run.graceTimer = undefined;
        if (!run.exited) this.signalGroup(run, 'SIGKILL');
      },
      Math.max(0, run.req.killGraceMs),
    );
  }

  private signalGroup(run: Run, signal: NodeJS.Signals): void {
    if (run.pid === undefined) return;
    try {
      process.kill(-run.pid, signal);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH')
        this.log('warn', 'supervisor: cannot signal a process group', { pid: run.pid, signal, code });
    }
  }

  private onExit(run: Run, code: number | null, signal: NodeJS.Signals | null): void {
    run.exited = true;
    if (run.graceTimer) clearTimeout(run.graceTimer);
    run.graceTimer = undefined;
    // Grandchildren in the group must not outlive the run.
    this.signalGroup(run, 'SIGKILL');
    if (run.recordFile) removeFile(run.recordFile);
    run.recordFile = undefined;
    this.send({ t: 'exited', id: run.req.id, code, signal });
    if (!run.stderrDone) {
      // A process that left the group may hold stderr open: close it after the drain timeout.
      run.drainTimer = setTimeout(() => run.child?.stderr?.destroy(), run.req.drainTimeoutMs);
    }
    this.maybeForget(run);
  }

  private onStderrDone(run: Run): void {
    if (run.stderrDone) return;
    run.stderrDone = true;
    if (run.drainTimer) clearTimeout(run.drainTimer);
    this.send({ t: 'stderr', id: run.req.id, tail: run.tail.toString() });
    this.maybeForget(run);
  }

  private maybeForget(run: Run): void {
    if (run.exited && run.stderrDone) this.runs.delete(run.req.id);
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string, meta?: Record<string, unknown>): void {
    this.send({ t: 'log', level, message, meta });
  }
}
