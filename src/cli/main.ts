/**
 * The `clinvk` command: `serve`, `version`, `config show`, `--help`.
 *
 * Exit codes: 0 success (including graceful shutdown), 1 runtime failure (e.g. address in use),
 * 2 usage or configuration error (one line per problem on stderr).
 */

// first: keeps V8's young generation small while the server's modules load (see the module)
import '../http/startup-heap';
import { parseArgs } from 'node:util';
import { ConfigError, type ConfigFlags, loadConfig, withApiKeys } from '../config/load';
import { configToYaml } from '../config/show';
import type { Config } from '../config/types';
import { packageVersion } from '../lib/package-version';
import { createLogger, type Logger } from '../observability/logger';
import { resolveApiKeys } from '../auth/sources';
import { reloadKeySet } from '../auth/reload';
import type { KeyRegistry } from '../auth/registry';
import { keySourceOf, readKeyFile } from '../auth/sources';
import { exposesApiWithoutKeys, isLoopbackHost, securityStartupProblems } from '../security/startup';
import type { BackendName } from '../backends/types';
import { renderBanner, type BannerBackend } from './banner';
import { checkNewKeyOptions, keyFromInput, keyStanza, KEYS_USAGE, newApiKey, readAll, sha256Hex } from './keys';
import { CONFIG_USAGE, DOCTOR_USAGE, MAIN_USAGE, SERVE_USAGE, VERSION_USAGE } from './usage-text';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** Where SIGINT/SIGTERM arrive (the process by default; an EventEmitter in tests). */
export interface SignalSource {
  on(event: 'SIGINT' | 'SIGTERM' | 'SIGHUP', listener: (signal: NodeJS.Signals) => void): unknown;
  removeListener(event: 'SIGINT' | 'SIGTERM' | 'SIGHUP', listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signals?: SignalSource;
  /** Where `clinvk keys hash` reads the key (default: process.stdin). */
  stdin?: NodeJS.ReadableStream;
}

const OPTIONS = {
  json: { type: 'boolean' },
  probe: { type: 'boolean' },
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  name: { type: 'string' },
  role: { type: 'string' },
} as const;

type Values = {
  json?: boolean;
  probe?: boolean;
  config?: string;
  host?: string;
  port?: string;
  'log-level'?: string;
  'log-format'?: string;
  help?: boolean;
  version?: boolean;
  name?: string;
  role?: string;
};

class UsageError extends Error {}

function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** First sentence of a parseArgs error (its hints about `--` are noise here). */
function parseErrorText(err: Error): string {
  const m = err.message.split(/\.\s/)[0];
  return m.endsWith('.') ? m.slice(0, -1) : m;
}

function flagsFrom(values: Values): ConfigFlags {
  return {
    config: values.config,
    host: values.host,
    port: values.port,
    logLevel: values['log-level'],
    role: values.role,
  };
}

function rejectOptions(values: Values, allowed: Array<keyof Values>, command: string): void {
  for (const k of Object.keys(values) as Array<keyof Values>) {
    if (values[k] !== undefined && !allowed.includes(k)) {
      throw new UsageError(`option --${k} is not accepted by "clinvk ${command}"`);
    }
  }
}

function rejectExtra(positionals: string[], from: number): void {
  if (positionals.length > from) throw new UsageError(`unexpected argument "${positionals[from]}"`);
}

/**
 * Runs the command line `argv` (without the node/script entries) and resolves with the exit code.
 * `serve` resolves only after the server has shut down.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (err) {
    return usageFailure(io, parseErrorText(err as Error), commandIn(argv));
  }
  const [command, sub] = positionals;
  try {
    switch (command) {
      case undefined:
        if (values.help) return printHelp(io, MAIN_USAGE);
        if (values.version) return printVersion(io);
        write(io.stderr, MAIN_USAGE);
        return EXIT_USAGE;
      case 'help':
        rejectExtra(positionals, 1);
        return printHelp(io, MAIN_USAGE);
      case 'version':
        if (values.help) return printHelp(io, VERSION_USAGE);
        rejectOptions(values, ['config', 'version'], 'version');
        rejectExtra(positionals, 1);
        return printVersion(io);
      case 'serve':
        if (values.help) return printHelp(io, SERVE_USAGE);
        rejectOptions(values, ['config', 'host', 'port', 'log-level', 'log-format', 'role'], 'serve');
        rejectExtra(positionals, 1);
        return await serve(values, io);
      case 'doctor':
        if (values.help) return printHelp(io, DOCTOR_USAGE);
        rejectOptions(values, ['config', 'json', 'probe'], 'doctor');
        rejectExtra(positionals, 1);
        return await doctor(values, io);
      case 'config':
        if (values.help) return printHelp(io, CONFIG_USAGE);
        if (sub === undefined) throw new UsageError('missing sub-command: clinvk config show');
        if (sub !== 'show') throw new UsageError(`unknown config sub-command "${sub}"`);
        rejectOptions(values, ['config', 'host', 'port', 'log-level'], 'config show');
        rejectExtra(positionals, 2);
        return await configShow(values, io);
      case 'keys':
        if (values.help) return printHelp(io, KEYS_USAGE);
        if (sub === 'new') {
          rejectOptions(values, ['name', 'role'], 'keys new');
          rejectExtra(positionals, 2);
          return keysNew(values, io);
        }
        if (sub === 'hash') {
          rejectOptions(values, [], 'keys hash');
          rejectExtra(positionals, 2);
          return await keysHash(io);
        }
        throw new UsageError(
          sub === undefined ? 'missing sub-command: clinvk keys new|hash' : `unknown keys sub-command "${sub}"`,
        );
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) return usageFailure(io, err.message, commandIn(argv));
    throw err;
  }
}

const COMMANDS = ['serve', 'version', 'doctor', 'config', 'keys'];

/** The sub-command named in `argv` (so a usage error can point at that command's help). */
function commandIn(argv: string[]): string | undefined {
  return argv.find((a) => COMMANDS.includes(a));
}

function usageFailure(io: CliIo, message: string, command?: string): number {
  write(io.stderr, `clinvk: ${message}`);
  write(io.stderr, `Run 'clinvk ${command ? `${command} ` : ''}--help' for usage.`);
  return EXIT_USAGE;
}

function printHelp(io: CliIo, text: string): number {
  write(io.stdout, text);
  return EXIT_OK;
}

function printVersion(io: CliIo): number {
  write(io.stdout, `clinvk ${packageVersion()}`);
  return EXIT_OK;
}

function printProblems(io: CliIo, problems: string[]): number {
  for (const p of problems) write(io.stderr, p);
  return EXIT_USAGE;
}

/** loadConfig + API keys; a number is the exit code of a failure already reported. */
async function loadWithKeys(
  values: Values,
  io: CliIo,
): Promise<{ config: Config; warnings: string[]; keyCount: number } | number> {
  let loaded;
  try {
    loaded = loadConfig({ flags: flagsFrom(values), env: io.env, cwd: io.cwd });
  } catch (err) {
    if (err instanceof ConfigError) return printProblems(io, err.problems);
    throw err;
  }
  let keys: string[];
  try {
    keys = await resolveApiKeys({ env: io.env, gopassPath: loaded.config.api_keys_gopass_path });
  } catch (err) {
    return printProblems(io, [`config error: ${(err as Error).message}`]);
  }
  return { config: withApiKeys(loaded.config, keys), warnings: loaded.warnings, keyCount: keys.length };
}

function keysNew(values: Values, io: CliIo): number {
  const problem = checkNewKeyOptions(values.name, values.role);
  if (problem) throw new UsageError(problem);
  const key = newApiKey();
  write(io.stdout, key);
  write(io.stderr, '# Add this entry to the configuration (the key above is shown only once):');
  io.stderr.write(keyStanza(values.name!, (values.role ?? 'user') as 'user' | 'admin', sha256Hex(key)));
  return EXIT_OK;
}

async function keysHash(io: CliIo): Promise<number> {
  const key = keyFromInput(await readAll(io.stdin ?? process.stdin));
  if (key === undefined) throw new UsageError('no key on stdin (e.g. printf %s "$KEY" | clinvk keys hash)');
  write(io.stdout, sha256Hex(key));
  return EXIT_OK;
}

async function doctor(values: Values, io: CliIo): Promise<number> {
  const { runDoctor } = await import('../doctor/checks');
  const { renderDoctorTable } = await import('../doctor/render');
  const report = await runDoctor({ flags: { config: values.config }, env: io.env, cwd: io.cwd, probe: values.probe });
  io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderDoctorTable(report));
  return report.ok ? EXIT_OK : EXIT_RUNTIME;
}

async function configShow(values: Values, io: CliIo): Promise<number> {
  const r = await loadWithKeys(values, io);
  if (typeof r === 'number') return r;
  for (const w of r.warnings) write(io.stderr, w);
  io.stdout.write(configToYaml(r.config, r.keyCount));
  return EXIT_OK;
}

export { isLoopbackHost };

/** Start-up warnings that depend only on the configuration. */
export function startupWarnings(config: Config): string[] {
  const out: string[] = [];
  // Without server.allow_unauthenticated this is a start-up error (securityStartupProblems).
  if (exposesApiWithoutKeys(config, config.api_keys.length > 0 || config.auth.keys.length > 0)) {
    out.push(
      `binding to non-loopback address ${config.server.host} without API keys (server.allow_unauthenticated): anyone who can reach the port can run the CLIs`,
    );
  }
  if (config.unified_flags.dry_run) {
    out.push('unified_flags.dry_run is on: every execution is a dry run, no CLI will be run');
  }
  return out;
}

async function serve(values: Values, io: CliIo): Promise<number> {
  const r = await loadWithKeys(values, io);
  if (typeof r === 'number') return r;
  const { config } = r;
  const problems = securityStartupProblems(config, { hasKeys: r.keyCount > 0 || config.auth.keys.length > 0 });
  if (problems.length > 0) return printProblems(io, problems);
  const format = (values['log-format'] ?? io.env.CLINVK_LOG_FORMAT ?? '').trim().toLowerCase();
  if (format !== '' && format !== 'json' && format !== 'text') {
    const label = values['log-format'] !== undefined ? '--log-format' : 'CLINVK_LOG_FORMAT';
    return printProblems(io, [`config error: ${label}: must be one of json, text (got ${JSON.stringify(format)})`]);
  }
  const logger = createLogger({
    level: config.server.log_level,
    stream: io.stderr,
    ...(format === '' ? {} : { json: format === 'json' }),
  });
  for (const w of r.warnings) logger.warn(w);
  for (const w of startupWarnings(config)) logger.warn(w);

  // Signals that arrive while the server is starting are kept and acted upon once it is up.
  const signals = io.signals ?? process;
  const early: NodeJS.Signals[] = [];
  const onEarly = (signal: NodeJS.Signals): void => {
    early.push(signal);
  };
  signals.on('SIGINT', onEarly);
  signals.on('SIGTERM', onEarly);
  const dropEarly = (): void => {
    signals.removeListener('SIGINT', onEarly);
    signals.removeListener('SIGTERM', onEarly);
  };
  // SIGHUP re-reads the key set (a listener also keeps the default action, exit, from happening).
  let started: StartedServer | undefined;
  const onHup = (): void => {
    if (!started) return;
    reloadKeySet(
      started.services.keys,
      {
        entries: () => loadConfig({ flags: flagsFrom(values), env: io.env, cwd: io.cwd }).config.auth.keys,
        unnamed: () =>
          keySourceOf({ env: io.env, gopassPath: config.api_keys_gopass_path }) === 'file'
            ? readKeyFile(io.env.CLINVK_API_KEYS_FILE!.trim())
            : undefined,
        env: io.env,
      },
      logger,
    );
  };
  signals.on('SIGHUP', onHup);

  let server: StartedServer;
  try {
    const { startServer } = await import('../http/server');
    server = await startServer(config, { logger, keyEnv: io.env });
    started = server;
  } catch (err) {
    signals.removeListener('SIGHUP', onHup);
    dropEarly();
    // A configuration that cannot work (e.g. a failed database migration) exits 2 with the reason.
    if (err instanceof ConfigError) {
      await flushLogger(logger);
      return printProblems(io, err.problems);
    }
    write(io.stderr, `clinvk: ${startFailureText(err as NodeJS.ErrnoException, config)}`);
    await flushLogger(logger);
    return EXIT_RUNTIME;
  }
  io.stdout.write(
    renderBanner({
      url: server.url,
      metricsEnabled: config.server.metrics_enabled,
      apiKeys: r.keyCount + config.auth.keys.length,
      backends: await bannerBackends(server),
      configFile: config.config_file,
      defaultWorkdir: config.server.default_workdir,
      drainSecs: config.server.shutdown_timeout_secs,
      extraEndpoints: (await consoleServed()) ? [['Console', 'GET  /console']] : [],
      ...(server.services.cluster
        ? { cluster: { role: config.cluster.role, node: server.services.cluster.nodeId } }
        : {}),
    }),
  );
  dropEarly();
  const code = await untilSignal(server, signals, logger, early, config.server.shutdown_timeout_secs);
  signals.removeListener('SIGHUP', onHup);
  await flushLogger(logger);
  return code;
}

interface StartedServer {
  url: string;
  services: {
    keys: KeyRegistry;
    availability?: { check(name: BackendName): Promise<BannerBackend> };
    /** Cluster mode: this node's name and, on API nodes, what the workers report. */
    cluster?: { nodeId: string; availability?: { check(name: BackendName): Promise<BannerBackend> } };
  };
  shutdown(opts?: { force?: boolean }): Promise<void>;
}

/** Whether the operator console is built and served at /console. */
async function consoleServed(): Promise<boolean> {
  const { consoleDir } = await import('../http/console');
  return consoleDir() !== undefined;
}

/**
 * Which CLIs the server found, for the banner (the availability check is cached, not re-run); a
 * cluster API or `all` node shows what the live workers report.
 */
async function bannerBackends(server: StartedServer): Promise<BannerBackend[]> {
  const availability = server.services.cluster?.availability ?? server.services.availability;
  if (!availability) return [];
  const { ADAPTER_ORDER } = await import('../backends/adapters');
  const out: BannerBackend[] = [];
  for (const name of ADAPTER_ORDER) {
    const st = await availability.check(name);
    out.push({ name, enabled: st.enabled, available: st.available, command: st.command });
  }
  return out;
}

function startFailureText(err: NodeJS.ErrnoException, config: Config): string {
  const where = `${config.server.host}:${config.server.port}`;
  if (err.code === 'EADDRINUSE') return `cannot listen on ${where}: address already in use`;
  if (err.code === 'EACCES') return `cannot listen on ${where}: permission denied`;
  if (err.code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: address not available`;
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `cannot listen on ${where}: unknown host`;
  return `failed to start the server: ${err.message ?? String(err)}`;
}

/**
 * Waits for SIGINT/SIGTERM: the first drains (`shutdown()`), the second skips the drain
 * (`shutdown({force: true})`), a third gives up at once (exit 1). `alreadyReceived` are signals
 * that arrived during start-up; they count as if received now.
 */
function untilSignal(
  server: StartedServer,
  signals: SignalSource,
  logger: Logger,
  alreadyReceived: readonly NodeJS.Signals[] = [],
  drainSecs?: number,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let count = 0;
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      signals.removeListener('SIGINT', onSignal);
      signals.removeListener('SIGTERM', onSignal);
      resolve(code);
    };
    const shut = (force: boolean): void => {
      server.shutdown(force ? { force: true } : undefined).then(
        () => finish(EXIT_OK),
        (err: unknown) => {
          logger.error('shutdown failed', { error: (err as Error)?.message ?? String(err) });
          finish(EXIT_RUNTIME);
        },
      );
    };
    function onSignal(signal: NodeJS.Signals): void {
      count += 1;
      if (count === 1) {
        logger.info(
          `shutting down: running requests get up to ${drainSecs ?? '?'} s to finish; send the signal again (Ctrl+C) to stop at once`,
          { signal, drain_secs: drainSecs },
        );
        shut(false);
      } else if (count === 2) {
        logger.warn('second signal: skipping the drain', { signal });
        shut(true);
      } else {
        logger.error('third signal: exiting immediately', { signal });
        finish(EXIT_RUNTIME);
      }
    }
    signals.on('SIGINT', onSignal);
    signals.on('SIGTERM', onSignal);
    for (const signal of alreadyReceived) onSignal(signal);
  });
}

function flushLogger(_logger: Logger): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Entry point of bin/clinvk.js. */
export async function main(argv: string[]): Promise<void> {
  let code: number;
  try {
    code = await run(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
  } catch (err) {
    process.stderr.write(`clinvk: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    code = EXIT_RUNTIME;
  }
  process.exit(code);
}
