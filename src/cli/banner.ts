/** The start-up banner, printed on stdout after the port is bound. */
export function renderBanner(url: string, metricsEnabled: boolean): string {
  return [
    `clinvk API server listening on ${url}`,
    '',
    'Available endpoints:',
    '  Native REST     POST /api/v1/prompt  /api/v1/parallel  /api/v1/chain  /api/v1/compare',
    '                  GET  /api/v1/backends  /api/v1/sessions  /api/v1/sessions/{id}',
    '                  DELETE /api/v1/sessions/{id}',
    '  OpenAI          GET  /openai/v1/models   POST /openai/v1/chat/completions',
    '  Anthropic       POST /anthropic/v1/messages',
    '  Docs            GET  /openapi.json  /openapi.yaml  /docs',
    '  Health          GET  /health',
    `  Metrics         GET  /metrics   (${metricsEnabled ? 'enabled' : 'disabled'})`,
    '',
    'Press Ctrl+C to stop',
    '',
  ].join('\n');
}
