/**
 * Security checks of the configuration that stop start-up (exit 2): the approval/sandbox defaults
 * every enabled backend must be able to enforce, the agent user, and a non-loopback bind without
 * API keys (see docs/security.md).
 */
import * as net from 'node:net';
import type { BackendName } from '../backends/types';
import type { Config } from '../config/types';
import { lookupAgentUser, runningAsRoot, type AgentIdentity } from './agent-user';
import { ModePolicy, type EnforcementFacts } from './modes';

/** True for `localhost`, 127.0.0.0/8, `::1` and IPv4-mapped loopback addresses. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h) || /^(0{1,4}:){7}0{0,3}1$/.test(h);
  return false;
}

/** The identity CLIs run as when it differs from clinvk's: `server.agent_user` while running as root. */
export function agentIdentity(config: Config, asRoot = runningAsRoot()): AgentIdentity | undefined {
  const name = config.server.agent_user;
  if (!name || !asRoot) return undefined;
  return lookupAgentUser(name);
}

/** What each backend can enforce given how its CLI will run. */
export function enforcementFacts(
  config: Config,
  agent: AgentIdentity | undefined,
  asRoot = runningAsRoot(),
  serverEnv: NodeJS.ProcessEnv = process.env,
): (backend: BackendName) => EnforcementFacts {
  return (backend) => {
    const b = config.backends[backend];
    const isSandbox = b.env.IS_SANDBOX ?? (b.env_passthrough.includes('IS_SANDBOX') ? serverEnv.IS_SANDBOX : undefined);
    return {
      containerSandbox: b.container_sandbox,
      runsAsRoot: asRoot && (agent === undefined || agent.uid === 0),
      claudeIsSandboxed: isSandbox === '1',
    };
  };
}

/**
 * What the process serves: `api` (the HTTP API; the default) or `worker` (runs CLIs, serves no
 * API — exempt from the rule on unauthenticated non-loopback binds).
 */
export type ServerRole = 'api' | 'worker';

/**
 * The one place that decides whether a process exposes the API to anyone who can reach its port:
 * an API bound to a non-loopback address with no API key. A start-up error unless
 * `server.allow_unauthenticated` is set (then a warning); a worker serves no API and is exempt.
 */
export function exposesApiWithoutKeys(config: Config, hasKeys: boolean, role: ServerRole = 'api'): boolean {
  return role !== 'worker' && !hasKeys && !isLoopbackHost(config.server.host);
}

export interface StartupCheckOptions {
  /** API keys are configured (from any source). */
  hasKeys: boolean;
  /** Default `api`. */
  role?: ServerRole;
  asRoot?: boolean;
  serverEnv?: NodeJS.ProcessEnv;
}

/** `config error: …` lines; empty when the server may start. */
export function securityStartupProblems(config: Config, o: StartupCheckOptions): string[] {
  const out: string[] = [];
  const asRoot = o.asRoot ?? runningAsRoot();
  const s = config.server;
  if (exposesApiWithoutKeys(config, o.hasKeys, o.role) && !s.allow_unauthenticated) {
    out.push(
      `config error: server.host: binding to non-loopback address ${s.host} without API keys (anyone who can reach the port could run the CLIs): configure API keys or set server.allow_unauthenticated: true`,
    );
  }
  let agent: AgentIdentity | undefined;
  if (s.agent_user) {
    agent = lookupAgentUser(s.agent_user);
    if (!agent) out.push(`config error: server.agent_user: no such user: ${s.agent_user}`);
  }
  const facts = enforcementFacts(config, asRoot ? agent : undefined, asRoot, o.serverEnv ?? process.env);
  out.push(...new ModePolicy(config, facts).startupProblems());
  return out;
}
