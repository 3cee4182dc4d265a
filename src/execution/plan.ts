/**
 * From validated request options to a concrete run plan: semantic validation,
 * option resolution and argv building through the adapter. No I/O except the workdir check.
 */
import { ADAPTERS } from '../backends/adapters';
import { checkExtraFlags, extraFlagNames, optionNamesOf, parseAllowList } from '../backends/extra-flags';
import { assemblePrompt, resolveModel } from '../backends/model-and-prompt';
import type {
  ApprovalMode,
  BackendAdapter,
  BackendName,
  BuildArgsOptions,
  FlagSpec,
  RunMode,
  SandboxMode,
} from '../backends/types';
import {
  checkBackendAllowed,
  checkExtraAllowed,
  checkModesAllowed,
  refusesExtra,
  type PolicyHolder,
} from '../auth/policy';
import type { Config } from '../config/types';
import { ApiError, ValidationDetail, validationError } from '../errors';
import { checkArgText, utf8Bytes } from '../security/text';
import type { ModePolicy } from '../security/modes';
import type { WorkdirPolicy } from '../security/workdir';
import type { ExecutionOptions } from './types';

const METADATA_KEY = /^[A-Za-z0-9_.\-]{1,64}$/;

/** Everything needed to spawn (or render) one CLI run. */
export interface RunPlan {
  backend: BackendName;
  adapter: BackendAdapter;
  /** argv without the executable. */
  args: string[];
  cwd: string;
  /** Effective `--model` value (after aliases), when one is passed. */
  model?: string;
  /** Model as requested (before aliases) or the configured default — what a session stores. */
  requestedModel?: string;
  /** Byte length of the assembled prompt (for usage estimates). */
  promptBytes: number;
  /** Effective approval and sandbox modes (usage records: an audit trail). */
  approvalMode: string;
  sandboxMode: string;
  ephemeral: boolean;
  dryRun: boolean;
  mode: RunMode;
  /** Cluster mode: the worker holding the continued session's CLI state (its turns run there). */
  node?: string;
}

/** Session facts a continued turn contributes to the plan. */
export interface SessionContext {
  workingDir: string;
  model?: string;
  backendSessionId?: string;
  /** Cluster mode: the worker that ran the session's turns. */
  node?: string;
}

export class Planner {
  private readonly allowLists = new Map<BackendName, FlagSpec[]>();

  constructor(
    private readonly config: Config,
    private readonly workdirs: WorkdirPolicy,
    private readonly modes: ModePolicy,
  ) {
    for (const name of Object.keys(ADAPTERS) as BackendName[]) {
      const configured = config.backends[name].allowed_extra_flags;
      this.allowLists.set(name, configured ? parseAllowList(configured) : ADAPTERS[name].extraFlags);
    }
  }

  /**
   * Semantic checks that the schema cannot express (blank strings, NUL, byte limits, metadata keys,
   * extra flags and their repeats), then the API key's backends (403 `backend_not_allowed`), then
   * the workdir (400 before 403; the key's prefixes narrow the server's), then the approval and
   * sandbox modes against the key's lists and the backend's ceilings, then the key's `extra_flags`
   * (403 `option_not_allowed`). `prefix` is the detail path of the options object (`body`,
   * `body.tasks[3]`); `who` is the request's key (undefined: no key policy, e.g. start-up checks).
   * Returns the resolved working directory, unless `skipWorkdir` (a continued session runs in its
   * own, checked separately by `checkSessionWorkdir`).
   */
  async validate(
    opts: ExecutionOptions,
    prefix: string,
    skipWorkdir = false,
    who?: PolicyHolder,
  ): Promise<string | undefined> {
    const problems: ValidationDetail[] = [];
    problems.push(...checkArgText(opts.prompt, `${prefix}.prompt`, { maxBytes: this.config.server.max_prompt_bytes }));
    if (opts.system_prompt !== undefined) {
      problems.push(...checkArgText(opts.system_prompt, `${prefix}.system_prompt`, { allowBlank: true }));
    }
    for (const key of Object.keys(opts.metadata ?? {})) {
      if (!METADATA_KEY.test(key)) problems.push({ path: `${prefix}.metadata`, message: `invalid key: ${key}` });
    }
    // A key without extra flags refuses `extra` as a whole (403 below), whatever it holds.
    if (opts.extra !== undefined && !refusesExtra(who, opts.extra)) {
      const allow = this.allowLists.get(opts.backend)!;
      const extraProblems = checkExtraFlags(opts.backend, opts.extra, allow, `${prefix}.extra`);
      problems.push(...extraProblems);
      if (extraProblems.length === 0) problems.push(...this.repeatedFlags(opts, allow, `${prefix}.extra`));
    }
    if (problems.length === 0) {
      const assembled = this.assemble(opts.backend, opts.prompt, this.systemPrompt(opts));
      const limit = this.config.server.max_prompt_bytes;
      if (utf8Bytes(assembled.prompt) + utf8Bytes(assembled.systemPromptFlag ?? '') > limit) {
        problems.push({ path: `${prefix}.prompt`, message: `exceeds ${limit} bytes` });
      }
    }
    if (problems.length > 0) throw validationError(problems);
    checkBackendAllowed(who, opts.backend);
    let cwd: string | undefined;
    if (!skipWorkdir) {
      const dir = opts.workdir ?? this.config.server.default_workdir;
      cwd = await this.workdirs.resolve(dir, `${prefix}.workdir`, who?.workdirPrefixes);
    }
    checkModesAllowed(who, this.modes.effective(opts.backend, opts.approval_mode, opts.sandbox_mode), prefix);
    this.modes.check(opts.backend, opts.approval_mode, opts.sandbox_mode, prefix);
    checkExtraAllowed(who, opts.extra, prefix);
    return cwd;
  }

  /**
   * A request flag that repeats a flag clinvk itself passes (for these options, in either output
   * mode, resuming or not) or one of the configured `extra_flags` is refused: the CLI would see the
   * option twice and the last one would win.
   */
  private repeatedFlags(opts: ExecutionOptions, allow: FlagSpec[], pathPrefix: string): ValidationDetail[] {
    const adapter = ADAPTERS[opts.backend];
    const canonical = (name: string): string => adapter.flagAliases[name] ?? name;
    const placeholders = { ...opts, prompt: 'x', model: opts.model === undefined ? undefined : 'x', extra: [] };
    const build = this.buildOptions(placeholders as ExecutionOptions, { workingDir: '/', backendSessionId: 'x' });
    build.configExtraFlags = [];
    if (build.systemPrompt !== undefined) build.systemPrompt = 'x';
    if (build.allowedTools !== undefined) build.allowedTools = 'x';
    if (build.model !== undefined) build.model = 'x';
    const produced = new Set<string>();
    for (const mode of ['json', 'stream'] as const) {
      for (const name of optionNamesOf(adapter.buildArgs(build, mode))) produced.add(canonical(name));
      for (const name of optionNamesOf(adapter.buildArgs({ ...build, resumeId: undefined }, mode))) {
        produced.add(canonical(name));
      }
    }
    const configured = new Set(optionNamesOf(this.config.backends[opts.backend].extra_flags).map(canonical));
    const problems: ValidationDetail[] = [];
    for (const { index, name } of extraFlagNames(opts.extra ?? [], allow)) {
      const c = canonical(name);
      if (produced.has(c)) {
        problems.push({ path: `${pathPrefix}[${index}]`, message: `flag already set by clinvk: ${name}` });
      } else if (configured.has(c)) {
        problems.push({ path: `${pathPrefix}[${index}]`, message: `flag already set by the configuration: ${name}` });
      }
    }
    return problems;
  }

  /**
   * Checks a working directory that is not the request's own field (a stored session's, an
   * aggregate's shared one, the default) against the current policy and the key's prefixes.
   */
  checkSessionWorkdir(dir: string, prefix: string, who?: PolicyHolder): Promise<string> {
    return this.workdirs.resolve(dir, `${prefix}.workdir`, who?.workdirPrefixes);
  }

  /** The modes a request without mode fields runs with on `backend` (backend config → unified flags). */
  defaultModes(backend: BackendName): { approval: ApprovalMode; sandbox: SandboxMode } {
    return this.modes.defaults(backend);
  }

  /** Builds the plan; `cwd` is the already-resolved working directory. */
  plan(opts: ExecutionOptions, cwd: string, mode: RunMode, session?: SessionContext): RunPlan {
    const cfg = this.config;
    const b = cfg.backends[opts.backend];
    const adapter = ADAPTERS[opts.backend];
    const requestedModel = opts.model ?? session?.model ?? b.model;
    const build = this.buildOptions(opts, session);
    return {
      backend: opts.backend,
      adapter,
      args: adapter.buildArgs(build, mode),
      cwd,
      model: build.model,
      requestedModel,
      promptBytes: utf8Bytes(build.prompt),
      approvalMode: build.approvalMode,
      sandboxMode: build.sandboxMode,
      ephemeral: build.ephemeral,
      dryRun: opts.dry_run === true || cfg.unified_flags.dry_run,
      mode,
      ...(session?.node !== undefined ? { node: session.node } : {}),
    };
  }

  /** Resolved adapter options (request → backend config → unified flags → built-in defaults). */
  private buildOptions(opts: ExecutionOptions, session?: SessionContext): BuildArgsOptions {
    const cfg = this.config;
    const b = cfg.backends[opts.backend];
    const adapter = ADAPTERS[opts.backend];
    const requestedModel = opts.model ?? session?.model ?? b.model;
    const assembled = this.assemble(opts.backend, opts.prompt, this.systemPrompt(opts));
    const modes = this.modes.effective(opts.backend, opts.approval_mode, opts.sandbox_mode);
    return {
      prompt: assembled.prompt,
      model: resolveModel(adapter, requestedModel, b.model_aliases),
      approvalMode: modes.approval,
      sandboxMode: modes.sandbox,
      maxTurns: opts.max_turns && opts.max_turns > 0 ? opts.max_turns : cfg.unified_flags.max_turns,
      systemPrompt: assembled.systemPromptFlag,
      systemPromptMode: b.system_prompt_mode,
      verbose: opts.verbose ?? cfg.unified_flags.verbose,
      ephemeral: opts.ephemeral === true,
      resumeId: session?.backendSessionId,
      allowedTools: b.allowed_tools,
      containerSandbox: b.container_sandbox,
      extra: (opts.extra ?? []) as string[],
      configExtraFlags: b.extra_flags,
    };
  }

  private systemPrompt(opts: ExecutionOptions): string | undefined {
    const s = opts.system_prompt ?? this.config.backends[opts.backend].system_prompt;
    return s === undefined || s === '' ? undefined : s;
  }

  private assemble(backend: BackendName, prompt: string, systemPrompt: string | undefined) {
    return assemblePrompt(ADAPTERS[backend], prompt, systemPrompt);
  }
}

export function assertNever(x: never): never {
  throw new ApiError('internal_error', `unexpected value ${String(x)}`);
}
