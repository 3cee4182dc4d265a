/** Wiring of the service graph for one server instance (no HTTP here). */
import { KeyRegistry } from './auth/registry';
import { BackendAvailability } from './backends/availability';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { SupervisedRunner } from './backends/runner';
import { reapLeftovers } from './backends/supervisor/leftovers';
import { VersionProbe } from './backends/version-probe';
import type { ProcessRunner } from './backends/runner-types';
import type { Config } from './config/types';
import { AggregateService } from './execution/aggregate';
import { Executor } from './execution/executor';
import { type ExecutionsView, LocalExecutions } from './execution/executions';
import { LocalLauncher } from './execution/launcher';
import { ExecutionLimiter } from './execution/limiter';
import { Planner } from './execution/plan';
import { PromptService } from './execution/prompt-service';
import { StatusService } from './execution/status';
import { FileJobStore } from './jobs/file/file-store';
import { JobService } from './jobs/service';
import type { JobStore } from './jobs/types';
import type { Logger } from './observability/logger';
import { Metrics } from './observability/metrics';
import { packageVersion } from './lib/package-version';
import { ConfigError } from './config/load';
import { ModePolicy } from './security/modes';
import { agentIdentity, enforcementFacts } from './security/startup';
import { WorkdirPolicy } from './security/workdir';
import { cliStateDirs } from './security/child-env';
import os from 'node:os';
import { createSessionStore } from './sessions';
import type { ClusterServices } from './cluster';
import { databaseFromConfig, openDatabase } from './db/postgres';
import type { SessionStore } from './sessions/types';
import { createUsageStore } from './usage';
import { UsageService } from './usage/service';
import type { UsageStore } from './usage/types';

export interface Services {
  config: Config;
  logger: Logger;
  version: string;
  availability: BackendAvailability;
  runner: ProcessRunner;
  limiter: ExecutionLimiter;
  store: SessionStore;
  planner: Planner;
  executor: Executor;
  prompt: PromptService;
  aggregates: AggregateService;
  jobs: JobService;
  status: StatusService;
  /** `--version` of each executable, cached per path and modification time. */
  versions: VersionProbe;
  metrics?: Metrics;
  /** Accepted API keys with their principals (replaced on reload). */
  keys: KeyRegistry;
  /** Cluster mode only: the Redis connection and the cluster-wide admission. */
  cluster?: ClusterServices;
  /** Usage records, per-key quotas and concurrency. */
  usage: UsageService;
  /** Running and queued executions (a cluster API node: of every API node). */
  executions: ExecutionsView;
}

export interface ServiceOptions {
  /** Environment used for PATH look-ups (default: process.env). */
  env?: NodeJS.ProcessEnv;
  store?: SessionStore;
  /** Where `auth.keys` entries with `env:` read their key (default: process.env). */
  keyEnv?: NodeJS.ProcessEnv;
  jobStore?: JobStore;
  usageStore?: UsageStore;
  /** Clock of usage days and quota resets (tests). */
  clock?: () => number;
}

/** Whether a store this process opens itself is configured as `postgres`. */
function usesPostgres(config: Config, opts: ServiceOptions): boolean {
  return (
    (!opts.store && config.session.store === 'postgres') ||
    (!opts.jobStore && config.jobs.store === 'postgres') ||
    (!opts.usageStore && config.usage.store === 'postgres')
  );
}

export async function buildServices(config: Config, logger: Logger, opts: ServiceOptions = {}): Promise<Services> {
  const s = config.server;
  const version = packageVersion();
  const availability = new BackendAvailability({
    backends: config.backends,
    ttlMs: s.backend_check_ttl_secs * 1000,
    env: opts.env,
  });
  // Process groups a crashed previous incarnation left running are killed before anything starts.
  const instance = randomBytes(8).toString('hex');
  const runDir = path.join(config.home, 'run');
  reapLeftovers(runDir, { ownInstance: instance, logger });
  const runner = new SupervisedRunner({ logger, runDir, instance });
  let metrics: Metrics | undefined;
  // Cluster mode's modules (BullMQ, ioredis: ~20 MB of memory) are loaded only when it is configured.
  const cluster = config.cluster.enabled
    ? await (await import('./cluster')).startCluster(config, logger, opts.clock)
    : undefined;
  const limiter = new ExecutionLimiter(
    s.max_concurrent_executions,
    s.max_queued_executions,
    undefined,
    s.exclusive_workdirs,
    cluster?.admission,
  );
  if (s.metrics_enabled) metrics = new Metrics(() => limiter.queued);
  // One pool shared by the postgres stores; migrations run now (a failed one stops start-up).
  const db = usesPostgres(config, opts) ? await openDatabase(databaseFromConfig(config, logger), logger) : undefined;
  const store = opts.store ?? (await createSessionStore(config, logger, db));
  const agent = agentIdentity(config);
  // The CLIs' state directories (for the server's HOME and each backend's child HOME) are protected
  // workdirs, as are the ancestors of the config file's directory.
  const stateDirs = new Set<string>(cliStateDirs({ HOME: process.env.HOME || os.homedir() }));
  for (const b of Object.values(config.backends)) {
    const home = b.env.HOME ?? agent?.home ?? process.env.HOME ?? os.homedir();
    for (const d of cliStateDirs({
      HOME: home,
      CODEX_HOME: b.env.CODEX_HOME,
      CLAUDE_CONFIG_DIR: b.env.CLAUDE_CONFIG_DIR,
    })) {
      stateDirs.add(d);
    }
  }
  for (const name of ['CODEX_HOME', 'CLAUDE_CONFIG_DIR']) if (process.env[name]) stateDirs.add(process.env[name]!);
  const workdirs = new WorkdirPolicy({
    allowedPrefixes: s.allowed_workdir_prefixes,
    blockedPrefixes: s.blocked_workdir_prefixes,
    clinvkHome: config.home,
    protectedDirs: [...stateDirs],
    protectedAncestorsOf: config.config_file ? [path.dirname(config.config_file)] : [],
  });
  const modes = new ModePolicy(config, enforcementFacts(config, agent));
  // Configured defaults a CLI cannot enforce never reach a request (the command line checks this
  // first and exits 2; this keeps embedded servers honest as well).
  const modeProblems = modes.startupProblems();
  if (modeProblems.length > 0) throw new ConfigError(modeProblems);
  // a cluster API node checks working directories as text: they exist on the workers, which check
  // them on their own disks before spawning
  const planWorkdirs = config.cluster.enabled && config.cluster.role !== 'worker' ? workdirs.asText() : workdirs;
  const planner = new Planner(config, planWorkdirs, modes);
  const usage = new UsageService(opts.usageStore ?? createUsageStore(config, logger, db), {
    clock: opts.clock,
    counters: cluster?.keyCounters,
    retentionDays: config.usage.retention_days,
    logger,
    observer: metrics,
    limitsOf: (name) => keys.get(name)?.limits,
  });
  await usage.start();
  // a Redis that comes back empty (restarted without persistence) gets today's counters again
  cluster?.onReconnect(() =>
    usage
      .rebuildCounters()
      .catch((err: Error) => logger.warn('cluster: rebuilding key counters failed', { error: err.message })),
  );
  const local = new LocalLauncher(config, availability, runner, { workdirs, agent });
  // cluster API nodes run CLIs on workers; backends are what live workers report
  const executor = new Executor(
    config,
    cluster?.availability ?? availability,
    cluster?.launcher ?? local,
    limiter,
    logger,
    metrics,
    usage,
  );
  const prompt = new PromptService(config, planner, executor, store, logger, metrics);
  const aggregates = new AggregateService(config, planner, executor, logger);
  const jobStore =
    opts.jobStore ??
    (config.jobs.store === 'postgres' && db
      ? new (await import('./jobs/postgres')).PostgresJobStore({ db, logger })
      : new FileJobStore(path.join(config.home, 'jobs')));
  const jobs = new JobService(config, jobStore, prompt, aggregates, limiter, logger, metrics, usage);
  const versions = new VersionProbe({
    env: (backend) => ({ ...(opts.env ?? process.env), ...config.backends[backend].env }),
    // status answers re-read a CLI's modification time at most once a second
    peekStatTtlMs: 1000,
  });
  // /health checks the session store (directory, index) at most once a second
  const status = new StatusService(
    config,
    cluster?.availability ?? availability,
    store,
    limiter,
    version,
    Date.now(),
    versions,
    cluster?.redis,
    1000,
  );
  await cluster?.startWorker(local, availability, versions);
  if (cluster && metrics && config.cluster.role !== 'api') {
    metrics.worker(() => cluster.workerRuns(), config.cluster.worker_slots);
  }
  const localExecutions = new LocalExecutions(limiter, jobs);
  const keys = new KeyRegistry({
    entries: config.auth.keys,
    unnamed: config.api_keys,
    env: opts.keyEnv ?? process.env,
  });
  return {
    config,
    logger,
    version,
    availability,
    runner,
    limiter,
    store,
    planner,
    executor,
    prompt,
    aggregates,
    jobs,
    status,
    versions,
    metrics,
    keys,
    cluster,
    usage,
    executions: cluster?.executions?.(localExecutions) ?? localExecutions,
  };
}
