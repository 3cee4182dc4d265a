/**
 * From validated request options to a concrete run plan: semantic validation,
 * option resolution and argv building through the adapter. No I/O except the workdir check.
 */
import { ADAPTERS } from '../backends/adapters';
import { checkExtraFlags, parseAllowList } from '../backends/extra-flags';
import { assemblePrompt, resolveModel } from '../backends/model-and-prompt';
import type { BackendAdapter, BackendName, BuildArgsOptions, FlagSpec, RunMode } from '../backends/types';
import type { Config } from '../config/types';
import { ApiError, ValidationDetail, validationError } from '../errors';
import { checkArgText, utf8Bytes } from '../security/text';
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
  ephemeral: boolean;
  dryRun: boolean;
  mode: RunMode;
}

/** Session facts a continued turn contributes to the plan. */
export interface SessionContext {
  workingDir: string;
  model?: string;
  backendSessionId?: string;
}

export class Planner {
  private readonly allowLists = new Map<BackendName, FlagSpec[]>();

  constructor(
    private readonly config: Config,
    private readonly workdirs: WorkdirPolicy,
  ) {
    for (const name of Object.keys(ADAPTERS) as BackendName[]) {
      const configured = config.backends[name].allowed_extra_flags;
      this.allowLists.set(name, configured ? parseAllowList(configured) : ADAPTERS[name].extraFlags);
    }
  }

  /**
   * Semantic checks that the schema cannot express (blank strings, NUL, byte limits, metadata keys,
   * extra flags), then the workdir (400 before 403). `prefix` is the detail path of the options
   * object (`body`, `body.tasks[3]`). Returns the resolved working directory, unless `skipWorkdir`
   * (a continued session runs in its own, checked separately).
   */
  async validate(opts: ExecutionOptions, prefix: string, skipWorkdir = false): Promise<string | undefined> {
    const problems: ValidationDetail[] = [];
    problems.push(...checkArgText(opts.prompt, `${prefix}.prompt`, { maxBytes: this.config.server.max_prompt_bytes }));
    if (opts.system_prompt !== undefined) {
      problems.push(...checkArgText(opts.system_prompt, `${prefix}.system_prompt`, { allowBlank: true }));
    }
    for (const key of Object.keys(opts.metadata ?? {})) {
      if (!METADATA_KEY.test(key)) problems.push({ path: `${prefix}.metadata`, message: `invalid key: ${key}` });
    }
    if (opts.extra !== undefined) {
      problems.push(
        ...checkExtraFlags(opts.backend, opts.extra, this.allowLists.get(opts.backend)!, `${prefix}.extra`),
      );
    }
    if (problems.length === 0) {
      const assembled = this.assemble(opts.backend, opts.prompt, this.systemPrompt(opts));
      const limit = this.config.server.max_prompt_bytes;
      if (utf8Bytes(assembled.prompt) + utf8Bytes(assembled.systemPromptFlag ?? '') > limit) {
        problems.push({ path: `${prefix}.prompt`, message: `exceeds ${limit} bytes` });
      }
    }
    if (problems.length > 0) throw validationError(problems);
    if (skipWorkdir) return undefined;
    if (opts.workdir !== undefined) return this.workdirs.resolve(opts.workdir, `${prefix}.workdir`);
    return this.workdirs.resolve(this.config.server.default_workdir, `${prefix}.workdir`);
  }

  /** Re-checks a stored session working directory against the current policy. */
  checkSessionWorkdir(dir: string, prefix: string): Promise<string> {
    return this.workdirs.resolve(dir, `${prefix}.workdir`);
  }

  /** Builds the plan; `cwd` is the already-resolved working directory. */
  plan(opts: ExecutionOptions, cwd: string, mode: RunMode, session?: SessionContext): RunPlan {
    const cfg = this.config;
    const b = cfg.backends[opts.backend];
    const adapter = ADAPTERS[opts.backend];
    const requestedModel = opts.model ?? session?.model ?? b.model;
    const model = resolveModel(adapter, requestedModel, b.model_aliases);
    const assembled = this.assemble(opts.backend, opts.prompt, this.systemPrompt(opts));
    const ephemeral = opts.ephemeral === true;
    const build: BuildArgsOptions = {
      prompt: assembled.prompt,
      model,
      approvalMode: pick(opts.approval_mode, b.approval_mode, cfg.unified_flags.approval_mode),
      sandboxMode: pick(opts.sandbox_mode, b.sandbox_mode, cfg.unified_flags.sandbox_mode),
      maxTurns: opts.max_turns && opts.max_turns > 0 ? opts.max_turns : cfg.unified_flags.max_turns,
      systemPrompt: assembled.systemPromptFlag,
      systemPromptMode: b.system_prompt_mode,
      verbose: opts.verbose ?? cfg.unified_flags.verbose,
      ephemeral,
      resumeId: session?.backendSessionId,
      allowedTools: b.allowed_tools,
      containerSandbox: b.container_sandbox,
      extra: (opts.extra ?? []) as string[],
      configExtraFlags: b.extra_flags,
    };
    return {
      backend: opts.backend,
      adapter,
      args: adapter.buildArgs(build, mode),
      cwd,
      model,
      requestedModel,
      promptBytes: utf8Bytes(assembled.prompt),
      ephemeral,
      dryRun: opts.dry_run === true || cfg.unified_flags.dry_run,
      mode,
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

/** Request value (unless absent or `default`) → backend config → unified flag. */
function pick<T extends string>(request: T | undefined, backend: T | undefined, unified: T): T {
  if (request !== undefined && request !== 'default') return request;
  if (backend !== undefined && backend !== 'default') return backend;
  return unified;
}

export function assertNever(x: never): never {
  throw new ApiError('internal_error', `unexpected value ${String(x)}`);
}
