import { renderBanner, type BannerFacts } from '../../../src/cli/banner';

const facts: BannerFacts = {
  url: 'http://127.0.0.1:8080',
  metricsEnabled: false,
  apiKeys: 0,
  backends: [
    { name: 'claude', enabled: true, available: true, command: '/usr/local/bin/claude' },
    { name: 'codex', enabled: true, available: false },
    { name: 'gemini', enabled: false, available: false },
  ],
  defaultWorkdir: '/srv/agents',
  drainSecs: 30,
};

test('the banner: URL, auth, backends found, config file, default workdir, endpoints, how to stop', () => {
  expect(renderBanner(facts)).toBe(
    [
      'clinvk API server listening on http://127.0.0.1:8080',
      '',
      '  Auth            off (no API keys configured: every client that reaches the port can run the agents)',
      '  Backends        claude (/usr/local/bin/claude)  codex (not found)  gemini (disabled)',
      '                  not found: install them (clinvk doctor) or set backends.<name>.enabled: false',
      '  Config file     none (built-in defaults)',
      '  Default workdir /srv/agents (agents run here when a request names no workdir)',
      '',
      'Available endpoints:',
      '  Native REST     POST /api/v1/prompt  /api/v1/parallel  /api/v1/chain  /api/v1/compare',
      '                  GET  /api/v1/backends  /api/v1/sessions  /api/v1/sessions/{id}',
      '                  DELETE /api/v1/sessions/{id}',
      '  OpenAI          GET  /openai/v1/models   POST /openai/v1/chat/completions',
      '  Anthropic       POST /anthropic/v1/messages',
      '  Docs            GET  /  /openapi.json  /openapi.yaml  /docs',
      '  Health          GET  /health',
      '  Metrics         GET  /metrics   (disabled: server.metrics_enabled)',
      '',
      'Press Ctrl+C to stop (running requests get up to 30 s to finish; press it again to stop at once)',
      '',
    ].join('\n'),
  );
});

test('auth on, every backend found, a config file, metrics enabled, another URL', () => {
  const b = renderBanner({
    ...facts,
    url: 'http://[::1]:41234',
    metricsEnabled: true,
    apiKeys: 1,
    backends: facts.backends.map((x) => ({ ...x, enabled: true, available: true, command: undefined })),
    configFile: '/etc/clinvk/config.yaml',
    drainSecs: 5,
  });
  expect(b.split('\n')[0]).toBe('clinvk API server listening on http://[::1]:41234');
  expect(b).toContain('  Auth            on (1 API key; send Authorization: Bearer <key> or x-api-key)\n');
  expect(b).toContain('  Backends        claude  codex  gemini\n  Config file     /etc/clinvk/config.yaml\n');
  expect(b).not.toContain('not found');
  expect(b).toContain('  Metrics         GET  /metrics   (enabled)\n');
  expect(b).toContain('up to 5 s to finish');
});

test('no backend usable is said so', () => {
  const b = renderBanner({ ...facts, backends: facts.backends.map((x) => ({ ...x, available: false })) });
  expect(b).toContain('codex (not found)');
  expect(b).toContain('; no backend can run\n');
});
