/**
 * The start-up banner, printed on stdout after the port is bound: where the server listens, the
 * facts a newcomer needs first (is auth on, which CLIs were found, which config file, where agents
 * run), the endpoints, and how to stop it.
 */

export interface BannerBackend {
  name: string;
  enabled: boolean;
  available: boolean;
  command?: string;
}

export interface BannerFacts {
  url: string;
  metricsEnabled: boolean;
  /** Number of API keys (unnamed and named); 0 = auth off. */
  apiKeys: number;
  backends: BannerBackend[];
  /** The configuration file read, or undefined for built-in defaults. */
  configFile?: string;
  defaultWorkdir: string;
  /** Drain time of a graceful shutdown (`server.shutdown_timeout_secs`). */
  drainSecs: number;
  /** Extra endpoint lines (label, text), e.g. the console when it is served. */
  extraEndpoints?: Array<[string, string]>;
  /** Cluster mode: this node's role and name. */
  cluster?: { role: 'all' | 'api' | 'worker'; node: string };
}

function backendText(b: BannerBackend): string {
  if (!b.enabled) return `${b.name} (disabled)`;
  if (!b.available) return `${b.name} (not found)`;
  return b.command ? `${b.name} (${b.command})` : b.name;
}

const row = (label: string, text: string): string => `  ${label.padEnd(16)}${text}`;

const ROLE_TEXT = {
  all: 'API and worker',
  api: 'API node: runs go to the workers',
  worker: 'worker',
} as const;

export function renderBanner(f: BannerFacts): string {
  if (f.cluster?.role === 'worker') return workerBanner(f, f.cluster.node);
  const found = f.backends.filter((b) => b.enabled && b.available);
  const missing = f.backends.filter((b) => b.enabled && !b.available);
  const auth =
    f.apiKeys > 0
      ? `on (${f.apiKeys} API key${f.apiKeys === 1 ? '' : 's'}; send Authorization: Bearer <key> or x-api-key)`
      : 'off (no API keys configured: every client that reaches the port can run the agents)';
  return [
    `clinvk API server listening on ${f.url}`,
    '',
    ...(f.cluster ? [row('Cluster node', `${f.cluster.node} (${ROLE_TEXT[f.cluster.role]})`)] : []),
    row('Auth', auth),
    row('Backends', f.backends.map(backendText).join('  ')),
    ...(missing.length > 0
      ? [
          row(
            '',
            `not found: install them (clinvk doctor) or set backends.<name>.enabled: false${found.length === 0 ? '; no backend can run' : ''}`,
          ),
        ]
      : []),
    row('Config file', f.configFile ?? 'none (built-in defaults)'),
    row('Default workdir', `${f.defaultWorkdir} (agents run here when a request names no workdir)`),
    '',
    'Available endpoints:',
    '  Native REST     POST /api/v1/prompt  /api/v1/parallel  /api/v1/chain  /api/v1/compare',
    '                  GET  /api/v1/backends  /api/v1/sessions  /api/v1/sessions/{id}',
    '                  DELETE /api/v1/sessions/{id}',
    '  OpenAI          GET  /openai/v1/models   POST /openai/v1/chat/completions',
    '  Anthropic       POST /anthropic/v1/messages',
    '  Docs            GET  /  /openapi.json  /openapi.yaml  /docs',
    '  Health          GET  /health',
    `  Metrics         GET  /metrics   (${f.metricsEnabled ? 'enabled' : 'disabled: server.metrics_enabled'})`,
    ...(f.extraEndpoints ?? []).map(([label, text]) => row(label, text)),
    '',
    `Press Ctrl+C to stop (running requests get up to ${f.drainSecs} s to finish; press it again to stop at once)`,
    '',
  ].join('\n');
}

/** A worker node serves no API: it says what it is and what it can run. */
function workerBanner(f: BannerFacts, node: string): string {
  return [
    `clinvk worker node ${node} listening on ${f.url} (GET /health and /metrics only)`,
    '',
    row('Backends', f.backends.map(backendText).join('  ')),
    row('Config file', f.configFile ?? 'none (built-in defaults)'),
    '',
    `Press Ctrl+C to stop (running CLIs get up to ${f.drainSecs} s to finish; press it again to stop at once)`,
    '',
  ].join('\n');
}
