/**
 * Single prompt execution (POST /api/v1/prompt) in JSON and stream mode, with the session
 * turn lifecycle and the order of checks (docs/architecture.md).
 */
import type { SchemaPromptRequest } from '../../generated/types';
import type { RunHandle } from '../backends/runner-types';
import type { BackendName, TokenUsage, UnifiedEvent } from '../backends/types';
import type { PolicyHolder } from '../auth/policy';
import { visibleOwner } from '../auth/principal';
import type { Config } from '../config/types';
import { validationError } from '../errors';
import type { Logger } from '../observability/logger';
import type { SessionRecord, SessionStore, TurnClaim } from '../sessions/types';
import { CANCEL_DISCONNECT, Executor, RunReport } from './executor';
import type { Planner, RunPlan, SessionContext } from './plan';
import { dryRunResult, resultOf, runError, turnUsage } from './results';
import { EventEnvelope } from './events/envelope';
import { Heartbeat } from './events/heartbeat';
import type { EventSink } from './events/sink';
import type { ExecContext, ExecutionOptions, ExecutionResult } from './types';

/** The request body of executePrompt, as generated from the contract. */
export type PromptRequest = SchemaPromptRequest;

export interface StreamOptions {
  /** false: no heartbeat events (jobs: their readers get heartbeats of their own). */
  heartbeat?: boolean;
}

/** Session facts for one turn, once resolved and claimed. */
interface TurnState {
  session?: SessionRecord;
  claim?: TurnClaim;
  /** Id of the session this run belongs to (set when created or continued). */
  sessionId?: string;
  /** Counted in the active-sessions gauge. */
  active?: boolean;
  /** Owner of a session this run creates (the key's name). */
  owner?: string;
}

export interface SessionObserver {
  created(): void;
  activeDelta(delta: 1 | -1): void;
}

export class PromptService {
  constructor(
    private readonly config: Config,
    private readonly planner: Planner,
    private readonly executor: Executor,
    private readonly store: SessionStore,
    private readonly logger: Logger,
    private readonly sessions: SessionObserver = { created: () => undefined, activeDelta: () => undefined },
  ) {}

  /** Effective output format of a prompt request. */
  isStream(req: PromptRequest): boolean {
    const f = req.output_format && req.output_format !== 'default' ? req.output_format : this.config.output.format;
    return f === 'stream-json';
  }

  async execute(req: PromptRequest, ctx: ExecContext): Promise<ExecutionResult> {
    const { opts, plan, turn, command } = await this.prepare(req, 'json', ctx);
    if (plan.dryRun) return dryRunResult(plan, command, await this.dryRunSession(opts, plan, turn));
    const slot = await this.admit(turn, ctx, plan);
    const report = await this.executor.run(plan, command, slot, ctx, this.spawnHooks(opts, plan, turn));
    const result = await this.finishTurn(plan, report, turn);
    if (report.status !== 'success') throw runError(report, result);
    return result;
  }

  /**
   * Stream mode: every failure up to the spawn is thrown (an ordinary HTTP error); after
   * `sink.open` everything is an event and the promise resolves once the terminal event was written
   * and the session updated.
   */
  async stream(
    req: PromptRequest,
    ctx: ExecContext,
    sink: EventSink,
    opts: StreamOptions = {},
  ): Promise<ExecutionResult> {
    const { opts: options, plan, turn, command } = await this.prepare(req, 'stream', ctx);
    const events = new EventEnvelope(plan.backend, sink);
    if (plan.dryRun) {
      const result = dryRunResult(plan, command, await this.dryRunSession(options, plan, turn));
      sink.open(result.session_id);
      events.session(result.session_id);
      events.emit({ type: 'message', content: { text: result.output, role: 'assistant' } });
      events.terminal('done', {
        exit_code: 0,
        duration_ms: 0,
        command: result.command,
        working_dir: result.working_dir,
      });
      sink.close();
      return result;
    }
    const slot = await this.admit(turn, ctx, plan);
    let handle: RunHandle | undefined;
    const heartbeatMs = opts.heartbeat === false ? 0 : this.config.server.stream_heartbeat_secs * 1000;
    const heartbeat = new Heartbeat(heartbeatMs, () =>
      events.emit({ type: 'progress', content: { stage: 'heartbeat' } }),
    );
    const base = this.spawnHooks(options, plan, turn);
    const hooks = {
      ...base,
      started: (h: RunHandle) => {
        base.started();
        handle = h;
        sink.open(turn.sessionId);
        events.session(turn.sessionId);
        heartbeat.start();
      },
      onEvent: (ev: UnifiedEvent) => {
        if (ev.type === 'token_usage') return;
        heartbeat.touch();
        if (!events.emit(ev) && handle) this.backpressure(handle, sink);
      },
    };
    let report: RunReport;
    try {
      report = await this.executor.run(plan, command, slot, ctx, hooks);
    } finally {
      heartbeat.stop();
    }
    try {
      return await this.finishTurn(plan, report, turn, (result) => writeTerminal(events, report, result));
    } finally {
      // The response ends only after the turn is recorded, so a client can continue right away.
      sink.close();
    }
  }

  /**
   * The checks of a request up to (not including) the session claim: validation, session
   * resolution, backend availability. Nothing is claimed or created (jobs check at creation, as
   * `who`: a session they continue must be one `who` sees).
   */
  async check(req: PromptRequest, who?: PolicyHolder): Promise<{ backend: BackendName; sessionId?: string }> {
    const { plan, turn } = await this.prepare(req, 'stream', { principal: who }, false);
    return { backend: plan.backend, sessionId: turn.sessionId };
  }

  // ---------------------------------------------------------------------------------------------

  /** Validation, session resolution and claim, backend availability. */
  private async prepare(
    req: PromptRequest,
    mode: 'json' | 'stream',
    ctx: { principal?: PolicyHolder; meta?: ExecContext['meta'] },
    claim = true,
  ): Promise<{ opts: ExecutionOptions; plan: RunPlan; turn: TurnState; command: string }> {
    // A job's run has no request principal: it acts for the job's owner (the key in its meta).
    const turn: TurnState = { owner: ctx.principal?.name ?? ctx.meta?.key };
    let cwd: string;
    if (req.session_id !== undefined) {
      if (req.ephemeral === true) {
        throw validationError([{ path: 'body.ephemeral', message: 'must not be true together with session_id' }]);
      }
      // A user key continues only its own sessions (another key's is "not found").
      const session = await this.store.resolve(req.session_id, visibleOwner(ctx.principal));
      if (req.backend !== undefined && req.backend !== session.backend) {
        throw validationError([
          { path: 'body.backend', message: `does not match the session's backend (${session.backend})` },
        ]);
      }
      const opts = { ...req, backend: session.backend } as ExecutionOptions;
      // The owner's key is re-checked with its current policy (backends, modes, workdir prefixes).
      const requested = await this.planner.validate(opts, 'body', req.workdir === undefined, ctx.principal);
      const stored = await this.planner.checkSessionWorkdir(session.working_dir, 'body', ctx.principal);
      if (requested !== undefined && requested !== stored) {
        throw validationError([
          { path: 'body.workdir', message: `does not match the session's working directory (${session.working_dir})` },
        ]);
      }
      cwd = stored;
      turn.session = session;
      turn.sessionId = session.id;
      const sctx: SessionContext = {
        workingDir: cwd,
        model: session.model,
        backendSessionId: session.backend_session_id,
        node: session.node,
      };
      const plan = this.planner.plan(opts, cwd, mode, sctx);
      if (plan.dryRun || !claim) return { opts, plan, turn, command: await this.executor.command(opts.backend) };
      turn.claim = await this.store.claimTurn(session.id, this.staleClaimMs());
      try {
        return { opts, plan, turn, command: await this.executor.command(opts.backend) };
      } catch (err) {
        await this.release(turn);
        throw err;
      }
    }
    if (req.backend === undefined) throw validationError([{ path: 'body.backend', message: 'is required' }]);
    const opts = req as ExecutionOptions;
    cwd = (await this.planner.validate(opts, 'body', false, ctx.principal))!;
    const plan = this.planner.plan(opts, cwd, mode);
    return { opts, plan, turn, command: await this.executor.command(opts.backend) };
  }

  /** Step 13: an execution slot; a claimed session is restored when admission fails. */
  private async admit(turn: TurnState, ctx: ExecContext, plan: RunPlan) {
    try {
      return await this.executor.acquire(ctx, { backend: plan.backend, workdir: plan.cwd, sessionId: turn.sessionId });
    } catch (err) {
      await this.release(turn);
      throw err;
    }
  }

  private spawnHooks(opts: ExecutionOptions, plan: RunPlan, turn: TurnState) {
    return {
      beforeSpawn: async () => {
        if (turn.session || plan.ephemeral) return;
        turn.sessionId = await this.createSession(opts, plan, 'active', turn.owner);
      },
      spawnFailed: async () => {
        if (turn.claim) await this.release(turn);
        else if (turn.sessionId) await this.store.discard(turn.sessionId).catch(() => undefined);
        turn.sessionId = turn.session?.id;
      },
      started: () => {
        if (!turn.sessionId) return;
        turn.active = true;
        this.sessions.activeDelta(1);
      },
      usageFacts: (report: RunReport) => {
        const session = turn.session;
        const resumed =
          session?.backend_session_id !== undefined && report.backendSessionId === session.backend_session_id;
        const { usage } = turnUsage(plan, report.usage, resumed, session?.backend_cumulative_usage);
        return { usage, sessionId: turn.sessionId };
      },
    };
  }

  /** Creates the session of a new non-ephemeral dry run. */
  private async dryRunSession(opts: ExecutionOptions, plan: RunPlan, turn: TurnState): Promise<string | undefined> {
    if (turn.session) return turn.session.id;
    if (plan.ephemeral) return undefined;
    return this.createSession(opts, plan, 'completed', turn.owner);
  }

  /**
   * A new session record: `active` with no turn yet (a real run, claimed by its creator), or
   * `completed` with one turn (a dry run). Returns its id.
   */
  private async createSession(
    opts: ExecutionOptions,
    plan: RunPlan,
    status: 'active' | 'completed',
    owner: string | undefined,
  ): Promise<string> {
    const created = await this.store.create({
      ...(owner !== undefined ? { owner } : {}),
      backend: plan.backend,
      working_dir: plan.cwd,
      model: plan.requestedModel,
      initial_prompt: opts.prompt.slice(0, 4096),
      tags: [...this.config.session.default_tags, 'api'],
      metadata: opts.metadata && Object.keys(opts.metadata).length ? opts.metadata : undefined,
      status,
      turn_count: status === 'active' ? 0 : 1,
    });
    this.sessions.created();
    return created.id;
  }

  /**
   * Builds the result and records the turn. `beforeRecord` runs between the two (stream mode writes
   * the terminal event there: the session is updated after it).
   */
  private async finishTurn(
    plan: RunPlan,
    report: RunReport,
    turn: TurnState,
    beforeRecord?: (result: ExecutionResult) => void,
  ): Promise<ExecutionResult> {
    const session = turn.session;
    const resumed = session?.backend_session_id !== undefined && report.backendSessionId === session.backend_session_id;
    const { usage, cumulative } = turnUsage(plan, report.usage, resumed, session?.backend_cumulative_usage);
    const result = resultOf(plan, report, { sessionId: turn.sessionId, usage });
    beforeRecord?.(result);
    if (turn.active) {
      turn.active = false;
      this.sessions.activeDelta(-1);
    }
    if (turn.sessionId) await this.record(turn.sessionId, plan, report, usage, cumulative);
    return result;
  }

  private async record(
    id: string,
    plan: RunPlan,
    report: RunReport,
    usage?: TokenUsage,
    cumulative?: TokenUsage,
  ): Promise<void> {
    try {
      await this.store.completeTurn(
        id,
        {
          success: report.status === 'success',
          error_message: report.status === 'success' ? undefined : report.error,
          backend_session_id: report.backendSessionId,
          usage,
          backend_cumulative_usage: cumulative,
          model: plan.requestedModel,
          node: report.node,
        },
        this.config.session.store_token_usage,
      );
    } catch (err) {
      this.logger.error('could not record session turn', { session_id: id, error: (err as Error).message });
    }
  }

  private async release(turn: TurnState): Promise<void> {
    if (!turn.claim) return;
    const claim = turn.claim;
    turn.claim = undefined;
    await this.store
      .releaseClaim(claim)
      .catch((err: Error) =>
        this.logger.error('could not release session claim', { session_id: claim.id, error: err.message }),
      );
  }

  /** Pauses the CLI's stdout until the socket drains; aborts after `write_timeout_secs`. */
  private backpressure(handle: RunHandle, sink: EventSink): void {
    if (this.paused.has(handle)) return;
    this.paused.add(handle);
    handle.pause();
    const timer = setTimeout(() => {
      handle.kill(CANCEL_DISCONNECT);
      sink.abort();
    }, this.config.server.write_timeout_secs * 1000);
    timer.unref();
    void sink.drained().then(() => {
      clearTimeout(timer);
      this.paused.delete(handle);
      handle.resume();
    });
  }

  /** Runs whose stdout is paused waiting for a drain (one wait per run at a time). */
  private readonly paused = new WeakSet<RunHandle>();

  private staleClaimMs(): number {
    return (this.config.server.request_timeout_secs + 60) * 1000;
  }
}

/** The single `token_usage` event (when known) and the terminal event of a stream. */
function writeTerminal(events: EventEnvelope, report: RunReport, result: ExecutionResult): void {
  if (result.token_usage) events.emit({ type: 'token_usage', content: result.token_usage });
  if (report.status === 'success') {
    events.terminal('done', {
      exit_code: 0,
      duration_ms: report.durationMs,
      ...(result.token_usage ? { token_usage: result.token_usage } : {}),
    });
    return;
  }
  const err = runError(report, result);
  const code =
    report.status === 'line_too_long' ? 'stream_line_too_long' : report.status === 'canceled' ? 'canceled' : err.code;
  events.terminal('error', { message: err.message, code, exit_code: report.exitCode });
}
