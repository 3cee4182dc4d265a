import { renderBanner } from '../../../src/cli/banner';

test('banner of §8.5 with the real URL and metrics state', () => {
  expect(renderBanner('http://127.0.0.1:8080', false)).toBe(
    [
      'clinvk API server listening on http://127.0.0.1:8080',
      '',
      'Available endpoints:',
      '  Native REST     POST /api/v1/prompt  /api/v1/parallel  /api/v1/chain  /api/v1/compare',
      '                  GET  /api/v1/backends  /api/v1/sessions  /api/v1/sessions/{id}',
      '                  DELETE /api/v1/sessions/{id}',
      '  OpenAI          GET  /openai/v1/models   POST /openai/v1/chat/completions',
      '  Anthropic       POST /anthropic/v1/messages',
      '  Docs            GET  /openapi.json  /openapi.yaml  /docs',
      '  Health          GET  /health',
      '  Metrics         GET  /metrics   (disabled)',
      '',
      'Press Ctrl+C to stop',
      '',
    ].join('\n'),
  );
});

test('metrics enabled and another URL', () => {
  const b = renderBanner('http://[::1]:41234', true);
  expect(b.split('\n')[0]).toBe('clinvk API server listening on http://[::1]:41234');
  expect(b).toContain('  Metrics         GET  /metrics   (enabled)\n');
});
