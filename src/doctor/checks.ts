/**
 * `clinvk doctor`: everything a newcomer needs checked before `clinvk serve` works — the
 * configuration, `$CLINVK_HOME`, the session store, API keys (gopass when configured), the port, and
 * per backend: enabled, executable, version against the verified range, credentials (presence
 * only) and the exact next step. With `probe`, a one-line prompt runs on each usable backend through
 * the same services as the server.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ADAPTER_ORDER, ADAPTERS } from '../backends/adapters';
import { BackendAvailability } from '../backends/availability';
import { installCommand } from '../backends/onboarding';
import type { BackendName } from '../backends/types';
import { VersionProbe, versionWarnings, VERSION_TIMEOUT_MS } from '../backends/version-probe';
import { defaultConfig } from '../config/defaults';
import { ConfigError, type ConfigFlags, loadConfig, resolveHome, withApiKeys } from '../config/load';
import type { Config } from '../config/types';
import { ApiError } from '../errors';
import { packageVersion } from '../lib/package-version';
import { createSilentLogger } from '../observability/logger';
import { gopassPathFrom, keySourceOf, resolveApiKeys } from '../auth/sources';
import type { EventSink } from '../execution/events/sink';
import type { NativeEvent } from '../execution/types';
import { createSessionStore } from '../sessions';
import { findCredentials, hasCredential, type CredentialFinding } from './credentials';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  id: 'config' | 'home' | 'session_store' | 'api_keys' | 'port';
  status: CheckStatus;
  summary: string;
  details?: string[];
}

export interface ProbeResult {
  success: boolean;
  latency_ms: number;
  model?: string;
  error?: string;
}

export interface BackendReport {
  name: BackendName;
  status: CheckStatus;
  summary: string;
  enabled: boolean;
  command?: string;
  version?: string;
  verified?: boolean;
  verified_range: string;
  tested_version: string;
  install: string;
  credentials: { found: boolean; sources: CredentialFinding[] };
  warnings: string[];
  /** What to do next, in order (empty when nothing is missing). */
  next_steps: string[];
  probe?: ProbeResult;
}

export interface DoctorReport {
  /** Every enabled backend usable and no failed check (exit code 0). */
  ok: boolean;
  clinvk_version: string;
  home: string;
  config_file?: string;
  checks: Check[];
  backends: BackendReport[];
}

export interface DoctorInput {
  flags: ConfigFlags;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Run a one-line prompt on each usable backend (costs tokens). */
  probe?: boolean;
  versionTimeoutMs?: number;
  probeTimeoutMs?: number;
}

export const PROBE_PROMPT = 'Reply with the single word OK.';
export const PROBE_TIMEOUT_MS = 60_000;

export async function runDoctor(input: DoctorInput): Promise<DoctorReport> {
  const checks: Check[] = [];
  const { config, check } = loadForDoctor(input);
  checks.push(check);
  checks.push(checkHome(config.home));
  checks.push(await checkStore(config));
  const keys = await checkApiKeys(config, input.env);
  checks.push(keys.check);
  checks.push(await checkPort(config));

  const availability = new BackendAvailability({ backends: config.backends, ttlMs: 0, env: input.env });
  const childEnv = (b: BackendName): NodeJS.ProcessEnv => ({ ...input.env, ...config.backends[b].env });
  const versions = new VersionProbe({ env: childEnv, timeoutMs: input.versionTimeoutMs ?? VERSION_TIMEOUT_MS });
  const backends: BackendReport[] = [];
  for (const name of ADAPTER_ORDER) backends.push(await checkBackend(name, availability, versions, childEnv(name)));
  if (input.probe) await probeBackends(withApiKeys(config, keys.keys), backends, input);

  const enabled = backends.filter((b) => b.enabled);
  const ok =
    enabled.length > 0 && !enabled.some((b) => b.status === 'fail') && !checks.some((c) => c.status === 'fail');
  return {
    ok,
    clinvk_version: packageVersion(),
    home: config.home,
    ...(config.config_file ? { config_file: config.config_file } : {}),
    checks,
    backends,
  };
}

function loadForDoctor(input: DoctorInput): { config: Config; check: Check } {
  try {
    const { config, warnings } = loadConfig({ flags: input.flags, env: input.env, cwd: input.cwd });
    const where = config.config_file ? `${config.config_file} is valid` : 'no config file: built-in defaults';
    if (warnings.length > 0)
      return { config, check: { id: 'config', status: 'warn', summary: where, details: warnings } };
    return { config, check: { id: 'config', status: 'ok', summary: where } };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Go on with the built-in defaults so the other checks still say something useful.
    const config = defaultConfig();
    config.home = resolveHome(input.env, input.cwd);
    config.server.default_workdir = input.cwd;
    return {
      config,
      check: {
        id: 'config',
        status: 'fail',
        summary: 'invalid configuration (the checks below use the built-in defaults)',
        details: err.problems,
      },
    };
  }
}

function checkHome(home: string): Check {
  let dir = home;
  while (!fs.existsSync(dir)) {
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    if (!fs.statSync(dir).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    return {
      id: 'home',
      status: 'fail',
      summary: `${dir} is not writable (${(err as Error).message})`,
      details: ['set CLINVK_HOME to a directory the server user can write'],
    };
  }
  return {
    id: 'home',
    status: 'ok',
    summary: dir === home ? `${home} is writable` : `${home} will be created (${dir} is writable)`,
  };
}

async function checkStore(config: Config): Promise<Check> {
  if (!fs.existsSync(config.home)) return { id: 'session_store', status: 'skip', summary: 'created on first start' };
  try {
    const store = await createSessionStore(config, createSilentLogger());
    try {
      const h = await store.health();
      if (!h.available) return { id: 'session_store', status: 'fail', summary: h.error ?? 'not available' };
      return {
        id: 'session_store',
        status: 'ok',
        summary: `${config.session.store} store, ${h.session_count} sessions`,
      };
    } finally {
      await store.close();
    }
  } catch (err) {
    return { id: 'session_store', status: 'fail', summary: (err as Error).message };
  }
}

async function checkApiKeys(config: Config, env: NodeJS.ProcessEnv): Promise<{ check: Check; keys: string[] }> {
  const named = config.auth.keys.length;
  const namedText = named > 0 ? ` and ${named} named keys (auth.keys)` : '';
  const gopassPath = config.server.api_keys_gopass_path;
  const source = keySourceOf({ env, gopassPath });
  const where: Record<string, string> = {
    env: 'CLINVK_API_KEYS',
    file: `the file in CLINVK_API_KEYS_FILE`,
    gopass: `gopass ${gopassPathFrom({ env, gopassPath }) ?? ''}`,
  };
  if (source === 'none') {
    if (named > 0)
      return { check: { id: 'api_keys', status: 'ok', summary: `auth on: ${named} named keys (auth.keys)` }, keys: [] };
    return {
      check: {
        id: 'api_keys',
        status: 'ok',
        summary: 'auth off (no CLINVK_API_KEYS, key file, gopass path or auth.keys): fine on a loopback address',
      },
      keys: [],
    };
  }
  try {
    const keys = await resolveApiKeys({ env, gopassPath });
    return {
      check: {
        id: 'api_keys',
        status: 'ok',
        summary: `auth on: ${keys.length} keys from ${where[source]}${namedText}`,
      },
      keys,
    };
  } catch (err) {
    return {
      check: { id: 'api_keys', status: 'fail', summary: `${where[source]}: ${(err as Error).message}` },
      keys: [],
    };
  }
}

function checkPort(config: Config): Promise<Check> {
  const { host, port } = config.server;
  if (port === 0) return Promise.resolve({ id: 'port', status: 'skip', summary: 'port 0: any free port' });
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'in use (is clinvk already running?)' : err.message;
      resolve({
        id: 'port',
        status: 'warn',
        summary: `${host}:${port} ${why}`,
        details: ['choose another with --port or CLINVK_PORT'],
      });
    });
    server.listen(port, host, () => {
      server.close(() => resolve({ id: 'port', status: 'ok', summary: `${host}:${port} is free` }));
    });
  });
}

async function checkBackend(
  name: BackendName,
  availability: BackendAvailability,
  versions: VersionProbe,
  env: NodeJS.ProcessEnv,
): Promise<BackendReport> {
  const facts = ADAPTERS[name].onboarding;
  const st = await availability.check(name);
  const findings = findCredentials(facts.credentials, env);
  const report: BackendReport = {
    name,
    status: 'ok',
    summary: '',
    enabled: st.enabled,
    ...(st.command ? { command: st.command } : {}),
    verified_range: facts.verified.label,
    tested_version: facts.pinnedVersion,
    install: installCommand(facts),
    credentials: { found: hasCredential(findings), sources: findings },
    warnings: [],
    next_steps: [],
  };
  if (!st.enabled) {
    report.status = 'skip';
    report.summary = `disabled (backends.${name}.enabled: false)`;
    return report;
  }
  if (!st.available || !st.command) {
    report.status = 'fail';
    report.summary = (st.reason ?? 'not available').replace(`backend "${name}" is not available: `, '');
    report.next_steps.push(
      `install it: ${report.install}`,
      `or point backends.${name}.command at the executable`,
      `or, if you do not use ${name}, set backends.${name}.enabled: false`,
    );
    if (!report.credentials.found) report.next_steps.push(`then log in: ${facts.login}`);
    return report;
  }
  const info = await versions.get(name, st.command);
  if (info.version) {
    report.version = info.version;
    report.verified = info.verified ?? false;
  }
  report.warnings.push(...versionWarnings(info, facts));
  if (info.version && !info.verified) report.next_steps.push(`to run the tested version: ${report.install}`);
  if (!report.credentials.found) {
    report.warnings.push('no credentials found (the CLI may still have some doctor cannot see, e.g. a keychain)');
    report.next_steps.push(facts.login);
  }
  if (report.warnings.length > 0) report.status = 'warn';
  report.summary = info.version
    ? `${info.version} (${report.verified ? 'verified' : 'not verified'}: ${facts.verified.label})`
    : 'version unknown';
  return report;
}

/** One short prompt per usable backend, through the server's own services (one at a time). */
async function probeBackends(config: Config, backends: BackendReport[], input: DoctorInput): Promise<void> {
  const { buildServices } = await import('../services');
  const services = await buildServices(config, createSilentLogger(), { env: input.env });
  try {
    for (const b of backends) {
      if (!b.enabled || b.status === 'fail') continue;
      const timeoutMs = input.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
      const started = Date.now();
      const ac = new AbortController();
      // Stream mode: the `init` event names the model the CLI actually used.
      const events: NativeEvent[] = [];
      const sink: EventSink = {
        open: () => undefined,
        write: (e) => events.push(e) > 0,
        drained: () => Promise.resolve(),
        abort: () => ac.abort(),
        close: () => undefined,
      };
      try {
        const r = await services.prompt.stream(
          { backend: b.name, prompt: PROBE_PROMPT, ephemeral: true },
          { requestId: `doctor-${b.name}`, traceparent: '', signal: ac.signal, deadline: started + timeoutMs },
          sink,
        );
        const model = events.find((e) => e.type === 'init')?.content.model ?? r.model;
        const failure = events.find((e) => e.type === 'error')?.content;
        b.probe = {
          success: failure === undefined,
          latency_ms: Date.now() - started,
          ...(typeof model === 'string' ? { model } : {}),
          ...(failure
            ? { error: `${String(failure.code ?? 'error')}: ${String(failure.message ?? r.error ?? '')}` }
            : {}),
        };
      } catch (err) {
        // Failures before the CLI started are ApiErrors (backend_unavailable, queue_full, …).
        const code = err instanceof ApiError ? `${err.code}: ` : '';
        b.probe = { success: false, latency_ms: Date.now() - started, error: `${code}${(err as Error).message}` };
      }
      if (!b.probe.success) {
        b.status = 'fail';
        b.next_steps.push(
          `the one-line prompt failed: check the error above and the credentials (${ADAPTERS[b.name].onboarding.login})`,
        );
      }
    }
  } finally {
    services.limiter.close();
    await services.runner.killAll('doctor finished');
    await services.store.close();
  }
}
