/**
 * End-to-end harness: the real CLIs (installed by test/e2e/run.js, described by the JSON file named
 * in CLINVK_E2E_CLIS) against the fake model provider, behind the built `clinvk` command.
 *
 * Every environment gets fresh HOME, CODEX_HOME, TMPDIR and CLINVK_HOME directories, a codex
 * config.toml and a gemini settings.json pointing at the provider, and proxy variables that send any
 * outbound connection attempt to the provider (which refuses and records it). clinvk is started with
 * an environment built from scratch, so nothing of the developer's own environment (real keys,
 * ~/.claude, ~/.codex, ~/.gemini) can leak into a run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { listKeys } from '../../src/config/derive';
import { CONFIG_KEYS } from '../../src/config/keys';
import { startProvider, type Provider, type ProviderRequest } from './provider';

export type Backend = 'claude' | 'codex' | 'gemini';
export const BACKENDS: Backend[] = ['claude', 'codex', 'gemini'];

const REPO = path.resolve(__dirname, '../..');
const BIN = path.join(REPO, 'bin', 'clinvk.js');

/** One CLI as installed by the runner. */
export interface CliInfo {
  package: string;
  version: string;
  /** Absolute path of the executable, when installed. */
  bin?: string;
  /** `--version` output when it ran. */
  reported?: string;
  ok: boolean;
  /** Why it is not usable (install failure, does not run on this Node). */
  problem?: string;
}

/** The CLIs of this run (written by test/e2e/run.js). */
export function cliInfo(): Record<Backend, CliInfo> {
  const file = process.env.CLINVK_E2E_CLIS;
  if (!file || !fs.existsSync(file)) {
    throw new Error('CLINVK_E2E_CLIS is not set: run the end-to-end suite with `make e2e` (test/e2e/run.js)');
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<Backend, CliInfo>;
}

/** A unique prompt (the provider's reply depends on the text, so each test can find its own calls). */
export function uniquePrompt(label: string): string {
  return `${label} ${crypto.randomBytes(6).toString('hex')}`;
}

type Overrides = Record<string, unknown>;

function deepMerge(a: Overrides, b: Overrides): Overrides {
  const out: Overrides = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Overrides, v as Overrides)
        : v;
  }
  return out;
}

/** The variable that carries the codex custom provider's key (its `env_key`; never a CLINVK_ name: those never reach a CLI). */
export const CODEX_KEY_VAR = 'E2E_PROVIDER_KEY';

export interface Clinvk {
  url: string;
  /** Everything clinvk printed (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export interface E2EEnv {
  root: string;
  provider: Provider;
  clis: Record<Backend, CliInfo>;
  /** The clinvk started with the environment (default configuration of the suite). */
  clinvk: Clinvk;
  url: string;
  /** A fresh working directory. */
  workdir(name: string): string;
  /** Starts another clinvk on the same provider and homes with configuration overrides. */
  startClinvk(overrides?: Overrides): Promise<Clinvk>;
  /** The environment clinvk runs with (what the CLIs inherit). */
  cliEnv: NodeJS.ProcessEnv;
  /** Runs a CLI directly (not through clinvk), stdin closed. */
  runCli(
    backend: Backend,
    args: string[],
    cwd: string,
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Model calls whose user text is `text` (count-tokens and catalogue calls excluded). */
  callsFor(text: string): ProviderRequest[];
  close(): Promise<void>;
}

/** Configuration keys this build declares (`backends.codex.env_passthrough`, …). */
const KNOWN_KEYS = new Set(listKeys(CONFIG_KEYS).map((k) => k.path.join('.')));

/** Configuration shared by every clinvk of the suite. */
function baseConfig(root: string, clis: Record<Backend, CliInfo>): Overrides {
  const backends: Record<string, Overrides> = {};
  for (const b of BACKENDS) {
    const info = clis[b];
    backends[b] = info?.bin ? { command: info.bin } : { enabled: false };
  }
  // The child environment is an allow-list: the codex provider's key variable is passed by name.
  if (KNOWN_KEYS.has('backends.codex.env_passthrough')) backends.codex!.env_passthrough = [CODEX_KEY_VAR];
  // gemini's tool run needs approval `none` (--approval-mode=yolo): gemini headless does not even
  // offer its shell tool otherwise; configured modes are ceilings for requests.
  if (KNOWN_KEYS.has('backends.gemini.max_approval_mode')) backends.gemini!.max_approval_mode = 'none';
  return {
    server: {
      host: '127.0.0.1',
      port: 0,
      default_workdir: path.join(root, 'work', 'default'),
      kill_grace_secs: 2,
      request_timeout_secs: 240,
      log_level: 'warn',
    },
    session: { retention_days: 0 },
    backends,
  };
}

/** The environment of the clinvk process: built from scratch, never inherited wholesale. */
function clinvkEnvironment(root: string, provider: Provider): NodeJS.ProcessEnv {
  const url = provider.url;
  const dirs = {
    HOME: path.join(root, 'home'),
    CODEX_HOME: path.join(root, 'codex-home'),
    TMPDIR: path.join(root, 'tmp'),
    CLINVK_HOME: path.join(root, 'clinvk-home'),
  };
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    ...dirs,
    // claude: the provider instead of api.anthropic.com; no telemetry, updates or retries.
    ANTHROPIC_BASE_URL: url,
    ANTHROPIC_API_KEY: 'e2e-dummy-key',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_MAX_RETRIES: '0',
    // codex: the custom provider of $CODEX_HOME/config.toml reads its key from this variable.
    [CODEX_KEY_VAR]: 'e2e-dummy-key',
    // gemini: API-key auth against the provider.
    GEMINI_API_KEY: 'e2e-dummy-key',
    GOOGLE_GEMINI_BASE_URL: url,
    GEMINI_CLI_TRUST_WORKSPACE: 'true',
    GEMINI_TELEMETRY_ENABLED: 'false',
    // Anything that is not the provider goes to the provider as a proxy, which refuses and records it.
    HTTPS_PROXY: url,
    HTTP_PROXY: url,
    https_proxy: url,
    http_proxy: url,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
}

function writeCliConfigs(env: NodeJS.ProcessEnv, provider: Provider): void {
  fs.writeFileSync(
    path.join(env.CODEX_HOME!, 'config.toml'),
    [
      'model_provider = "e2e"',
      'check_for_update_on_startup = false',
      '',
      '[model_providers.e2e]',
      'name = "e2e fake provider"',
      `base_url = "${provider.url}/v1"`,
      `env_key = "${CODEX_KEY_VAR}"`,
      'wire_api = "responses"',
      'request_max_retries = 0',
      'stream_max_retries = 0',
      '',
      '[analytics]',
      'enabled = false',
      '',
      '[features]',
      'plugins = false',
      'apps = false',
      'remote_plugin = false',
      'plugin_sharing = false',
      '',
    ].join('\n'),
  );
  fs.mkdirSync(path.join(env.HOME!, '.gemini'), { recursive: true });
  fs.writeFileSync(
    path.join(env.HOME!, '.gemini', 'settings.json'),
    JSON.stringify({
      security: { auth: { selectedType: 'gemini-api-key' } },
      privacy: { usageStatisticsEnabled: false },
      telemetry: { enabled: false },
      general: { disableAutoUpdate: true, disableUpdateNag: true },
    }),
  );
}

async function launchClinvk(root: string, env: NodeJS.ProcessEnv, config: Overrides, name: string): Promise<Clinvk> {
  const file = path.join(root, `${name}.yaml`);
  fs.writeFileSync(file, stringify(config));
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--config', file], {
    env,
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`clinvk did not start within 30 s:\n${out}`)), 30_000);
    const check = () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`clinvk exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    url,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Starts a provider and a clinvk for one test file. */
export async function startE2E(overrides: Overrides = {}): Promise<E2EEnv> {
  const clis = cliInfo();
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'clinvk-e2e-')));
  const provider = await startProvider();
  const env = clinvkEnvironment(root, provider);
  for (const d of [env.HOME!, env.CODEX_HOME!, env.TMPDIR!, env.CLINVK_HOME!, path.join(root, 'work', 'default')]) {
    fs.mkdirSync(d, { recursive: true });
  }
  writeCliConfigs(env, provider);
  const base = baseConfig(root, clis);
  const started: Clinvk[] = [];
  let n = 0;
  const startClinvk = async (extra: Overrides = {}) => {
    const c = await launchClinvk(root, env, deepMerge(deepMerge(base, overrides), extra), `clinvk-${n++}`);
    started.push(c);
    return c;
  };
  let clinvk: Clinvk;
  try {
    clinvk = await startClinvk();
  } catch (err) {
    await provider.close();
    throw err;
  }
  return {
    root,
    provider,
    clis,
    clinvk,
    url: clinvk.url,
    workdir: (name: string) => {
      const d = path.join(root, 'work', name);
      fs.mkdirSync(d, { recursive: true });
      return d;
    },
    startClinvk,
    cliEnv: env,
    runCli: (backend, args, cwd) =>
      new Promise((resolve, reject) => {
        const bin = clis[backend].bin;
        if (!bin) return reject(new Error(`${backend} is not installed`));
        const child = spawn(bin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      }),
    callsFor: (text: string) =>
      provider.requests.filter(
        (r) => r.userText === text && r.kind !== 'count_tokens' && r.kind !== 'models' && r.status === 200,
      ),
    close: async () => {
      for (const c of started) await c.stop();
      await provider.close();
      if (!process.env.CLINVK_E2E_KEEP) fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Processes (not zombies) whose working directory is `dir` or lies inside it. */
/**
 * A describe block whose tests share one clinvk with all three real CLIs; its tests run only when
 * every CLI is usable here (`check` is `test` or `test.skip`), `env()` is that server.
 */
export function describeAllCLIs(name: string, body: (check: jest.It, env: () => E2EEnv) => void): void {
  const clis = cliInfo();
  const allUsable = BACKENDS.every((b) => clis[b].ok);
  describe(name, () => {
    let env: E2EEnv | undefined;
    beforeAll(async () => {
      if (allUsable) env = await startE2E();
    }, 60_000);
    afterAll(async () => {
      await env?.close();
    });
    body(allUsable ? test : test.skip, () => env!);
  });
}

export function processesIn(dir: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      if (cwd !== dir && !cwd.startsWith(dir + path.sep)) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid, cmd });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

/** Polls `fn` until it returns a truthy value or the timeout passes (then returns the last value). */
export async function poll<T>(fn: () => T, timeoutMs: number, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = fn();
  while (!v && Date.now() < end) {
    await new Promise((r) => setTimeout(r, stepMs));
    v = fn();
  }
  return v;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** POSTs JSON and parses the JSON reply. */
export async function postJson(url: string, body: unknown): Promise<JsonResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** GETs JSON. */
export async function getJson(url: string): Promise<JsonResponse> {
  const res = await fetch(url);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/**
 * Fails with the status and the whole body when the status is not the expected one, so the first
 * line of the failure says what the CLI did differently (the drift report prints it).
 */
export function expectStatus(res: JsonResponse, status: number): void {
  if (res.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body).slice(0, 2000)}`);
  }
}

/** Sum of the usage the provider reported over the given calls. */
export function usageOf(calls: ProviderRequest[]): { input_tokens: number; output_tokens: number } {
  return calls.reduce(
    (acc, c) => ({
      input_tokens: acc.input_tokens + (c.usage?.input_tokens ?? 0),
      output_tokens: acc.output_tokens + (c.usage?.output_tokens ?? 0),
    }),
    { input_tokens: 0, output_tokens: 0 },
  );
}
