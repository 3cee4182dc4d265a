/**
 * Where a CLI run is started. The executor owns the slot, the deadline, the parsing and the
 * bookkeeping of a run; a launcher only starts the process and hands back a handle: the local
 * launcher spawns it on this machine, the cluster's remote launcher has a worker node spawn it
 * (docs/cluster.md). Both check the working directory on the filesystem that runs the CLI.
 */
import type { BackendAvailability } from '../backends/availability';
import type { ProcessRunner, RunHandle } from '../backends/runner-types';
import type { BackendName } from '../backends/types';
import type { Config } from '../config/types';
import { ApiError } from '../errors';
import type { AgentIdentity } from '../security/agent-user';
import { childEnv } from '../security/child-env';
import type { WorkdirPolicy } from '../security/workdir';

/** One run to start, as the executor describes it (nothing here is node-specific). */
export interface LaunchSpec {
  backend: BackendName;
  /** The executable as this node resolved it (a worker resolves its own). */
  command: string;
  args: string[];
  cwd: string;
  traceparent: string;
  /** The key's workdir prefixes, checked again where the CLI runs. */
  workdirPrefixes?: readonly string[];
  /** Epoch ms when the run is killed with `timeout`. */
  deadline: number;
  mode: 'collect' | 'lines';
  maxOutputBytes?: number;
  maxLineBytes?: number;
  killGraceMs: number;
  onLine?: (line: string) => void;
  /** Cluster: the worker that must run it (a session's continuation); undefined → any worker. */
  node?: string;
  /** Cluster: the reader of a synchronous stream may slow the CLI down (never for jobs). */
  backpressure?: boolean;
  /** Aborted while the run waits to be started (client gone): the launch is abandoned. */
  signal?: AbortSignal;
}

/** A started run; `node` names the worker it runs on (cluster mode). */
export interface LaunchedRun extends RunHandle {
  readonly node?: string;
}

export interface RunLauncher {
  /**
   * Checks on the filesystem that runs the CLI that nothing changed since the request was
   * validated (a directory replaced by a symlink is refused). Called before any session record is
   * created; a remote launcher checks on the worker instead, right before spawning.
   */
  precheck(spec: LaunchSpec): Promise<void>;
  /**
   * Starts the run. Rejects with an ApiError before the CLI started (workdir refused on the
   * worker, backend unavailable, spawn failure, abandoned while waiting).
   */
  launch(spec: LaunchSpec): Promise<LaunchedRun>;
}

/** Security collaborators of a local launch (all optional: embedded uses and tests may omit them). */
export interface LaunchSecurity {
  /** Re-validates the working directory right before every spawn. */
  workdirs?: WorkdirPolicy;
  /** The user CLIs run as (`server.agent_user` while clinvk runs as root). */
  agent?: AgentIdentity;
  /** The environment the child allow-list draws from (default: process.env). */
  serverEnv?: NodeJS.ProcessEnv;
}

/** Spawns the CLI on this machine through the process runner. */
export class LocalLauncher implements RunLauncher {
  constructor(
    private readonly config: Config,
    private readonly availability: Pick<BackendAvailability, 'invalidate'>,
    readonly runner: ProcessRunner,
    private readonly security: LaunchSecurity = {},
  ) {}

  async precheck(spec: LaunchSpec): Promise<void> {
    // The slot is granted: the directory must still be the one validated, and the CLI runs in that real path.
    await this.security.workdirs?.recheck(spec.cwd, spec.workdirPrefixes as string[] | undefined);
  }

  /**
   * A cluster worker: the working directory as the API node checked it (as text) is resolved and
   * checked here, on the disk the CLI runs on; the real path is where it runs.
   */
  async resolveWorkdir(cwd: string, workdirPrefixes?: readonly string[]): Promise<string> {
    return this.security.workdirs ? this.security.workdirs.resolve(cwd, 'workdir', workdirPrefixes) : cwd;
  }

  async launch(spec: LaunchSpec): Promise<LaunchedRun> {
    try {
      return await this.runner.start({
        command: spec.command,
        args: spec.args,
        cwd: spec.cwd,
        env: this.envFor(spec.backend, spec.traceparent),
        ...this.identity(),
        killGraceMs: spec.killGraceMs,
        mode: spec.mode,
        maxOutputBytes: spec.maxOutputBytes,
        maxLineBytes: spec.maxLineBytes,
        onLine: spec.onLine,
      });
    } catch (err) {
      if (err instanceof ApiError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES') this.availability.invalidate(spec.backend);
      throw new ApiError(
        'backend_unavailable',
        `backend "${spec.backend}" could not be started: ${(err as Error).message}`,
      );
    }
  }

  /** An allow-list, not the server's environment (see docs/security.md, "Child environment"). */
  envFor(backend: BackendName, traceparent: string): NodeJS.ProcessEnv {
    const b = this.config.backends[backend];
    const agent = this.security.agent;
    return childEnv({
      backend,
      serverEnv: this.security.serverEnv ?? process.env,
      values: b.env,
      passthrough: b.env_passthrough ?? [],
      identity: agent ? { HOME: agent.home, USER: agent.name, LOGNAME: agent.name } : undefined,
      overrides: { TRACEPARENT: traceparent },
    });
  }

  /** uid/gid/groups of the agent user (when clinvk runs as root and `server.agent_user` is set). */
  private identity(): { uid?: number; gid?: number; groups?: number[] } {
    const agent = this.security.agent;
    return agent ? { uid: agent.uid, gid: agent.gid, groups: agent.groups } : {};
  }
}
