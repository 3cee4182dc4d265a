/**
 * openapi-backend 5.20.1 initialises the bundle (full, strict, async init as the server does it),
 * routes every operationId, validates requests as the contract says, and does not enforce the
 * declared security when no security handlers are registered (auth is Express middleware).
 */
import OpenAPIBackend, { type Context, type Document } from 'openapi-backend';
import addFormats from 'ajv-formats';
import { contractDocument, getContractApi, operationIdFor } from '../../helpers/contract';

const ROUTES: Array<[string, string, string]> = [
  ['post', '/api/v1/prompt', 'executePrompt'],
  ['post', '/api/v1/prompt/stream', 'streamPrompt'],
  ['post', '/api/v1/parallel', 'executeParallel'],
  ['post', '/api/v1/chain', 'executeChain'],
  ['post', '/api/v1/compare', 'executeCompare'],
  ['get', '/api/v1/backends', 'listBackends'],
  ['get', '/api/v1/sessions', 'listSessions'],
  ['get', '/api/v1/sessions/3f2a9c0d', 'getSession'],
  ['delete', '/api/v1/sessions/3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d', 'deleteSession'],
  ['get', '/health', 'healthCheck'],
  ['get', '/openapi.json', 'getOpenApiJson'],
  ['get', '/openapi.yaml', 'getOpenApiYaml'],
  ['get', '/docs', 'getDocs'],
  ['get', '/metrics', 'getMetrics'],
  ['get', '/', 'getIndex'],
  ['get', '/openai/v1/models', 'openaiListModels'],
  ['get', '/openai/v1/models/claude', 'openaiGetModel'],
  ['post', '/openai/v1/chat/completions', 'openaiChatCompletions'],
  ['post', '/anthropic/v1/messages', 'anthropicCreateMessage'],
  ['post', '/anthropic/v1/v1/messages', 'anthropicCreateMessageV1'],
  ['get', '/anthropic/v1/models', 'anthropicListModels'],
  ['get', '/anthropic/v1/v1/models', 'anthropicListModelsV1'],
  ['get', '/anthropic/v1/models/claude', 'anthropicGetModel'],
  ['get', '/anthropic/v1/v1/models/claude', 'anthropicGetModelV1'],
  ['post', '/api/v1/jobs', 'createJob'],
  ['get', '/api/v1/jobs', 'listJobs'],
  ['get', '/api/v1/jobs/3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d', 'getJob'],
  ['delete', '/api/v1/jobs/3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d', 'deleteJob'],
  ['get', '/api/v1/jobs/3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d/events', 'streamJobEvents'],
  ['post', '/api/v1/jobs/3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d/cancel', 'cancelJob'],
  ['get', '/api/v1/executions', 'listExecutions'],
  ['post', '/api/v1/executions/3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d/cancel', 'cancelExecution'],
  ['get', '/api/v1/usage', 'getUsage'],
  ['get', '/api/v1/me', 'getCurrentKey'],
];

type Outcome = { kind: string; operationId?: string; errors?: unknown };

let full: OpenAPIBackend;
let initWarnings: unknown[][] = [];

beforeAll(async () => {
  const handlers: Record<string, (c: Context) => Outcome> = {
    notFound: () => ({ kind: 'notFound' }),
    methodNotAllowed: () => ({ kind: 'methodNotAllowed' }),
    validationFail: (c) => ({
      kind: 'validationFail',
      operationId: c.operation.operationId,
      errors: c.validation.errors,
    }),
  };
  for (const [, , id] of ROUTES) handlers[id] = (c) => ({ kind: 'handler', operationId: c.operation.operationId });
  full = new OpenAPIBackend({
    definition: contractDocument() as Document,
    strict: true,
    quick: false,
    validate: true,
    // SPEC §2.10: `/api/v1/backends/` is a different (unknown) path; openapi-backend's default is true
    ignoreTrailingSlashes: false,
    ajvOpts: { allErrors: true },
    customizeAjv: (ajv) => {
      addFormats(ajv);
      return ajv;
    },
    handlers,
  });
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    await full.init();
    initWarnings = warn.mock.calls;
  } finally {
    warn.mockRestore();
  }
});

const request = (method: string, path: string, body?: unknown, query: Record<string, unknown> = {}) => ({
  method,
  path,
  query: query as Record<string, string>,
  headers: { 'content-type': 'application/json' },
  body,
});

const VALID_BODIES: Record<string, unknown> = {
  executePrompt: { backend: 'claude', prompt: 'hi' },
  streamPrompt: { backend: 'claude', prompt: 'hi', output_format: 'stream-json' },
  executeParallel: { tasks: [{ backend: 'claude', prompt: 'hi' }] },
  executeChain: { steps: [{ backend: 'codex', prompt: 'hi' }] },
  executeCompare: { backends: ['claude', 'gemini'], prompt: 'hi' },
  openaiChatCompletions: { model: 'claude', messages: [{ role: 'user', content: 'hi' }] },
  anthropicCreateMessage: { model: 'claude', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
  anthropicCreateMessageV1: { model: 'claude', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
  createJob: { operation: 'prompt', request: { backend: 'claude', prompt: 'hi' } },
};

describe('full strict init', () => {
  it('initialises without warnings and knows every operation', () => {
    expect(full.initialized).toBe(true);
    expect(initWarnings).toEqual([]);
    expect(
      full
        .getOperations()
        .map((o) => o.operationId)
        .sort(),
    ).toEqual(ROUTES.map((r) => r[2]).sort());
  });

  it.each(ROUTES)('routes %s %s to %s', (method, path, id) => {
    expect(full.matchOperation({ method, path, headers: {}, query: {} })?.operationId).toBe(id);
    expect(operationIdFor(method, path)).toBe(id);
  });

  it.each(ROUTES)('handleRequest(%s %s) reaches the %s handler with a valid request', async (method, path, id) => {
    const out = (await full.handleRequest(request(method, path, VALID_BODIES[id]))) as Outcome;
    expect(out).toEqual({ kind: 'handler', operationId: id });
  });

  it('answers notFound and methodNotAllowed without touching handlers', async () => {
    expect(await full.handleRequest(request('get', '/api/v1/nope'))).toEqual({ kind: 'notFound' });
    expect(await full.handleRequest(request('get', '/api/v1/backends/'))).toEqual({ kind: 'notFound' });
    expect(await full.handleRequest(request('get', '/health/'))).toEqual({ kind: 'notFound' });
    expect(await full.handleRequest(request('put', '/api/v1/prompt'))).toEqual({ kind: 'methodNotAllowed' });
    expect(await full.handleRequest(request('delete', '/health'))).toEqual({ kind: 'methodNotAllowed' });
    expect(await full.handleRequest(request('post', '/anthropic/v1/complete'))).toEqual({ kind: 'notFound' });
    expect(await full.handleRequest(request('get', '/openai/v1/embeddings'))).toEqual({ kind: 'notFound' });
  });

  it('calls validationFail for an invalid body', async () => {
    const out = (await full.handleRequest(
      request('post', '/api/v1/prompt', { backend: 'claude', promt: 'x' }),
    )) as Outcome;
    expect(out.kind).toBe('validationFail');
    expect(out.operationId).toBe('executePrompt');
  });

  it('does not enforce the declared security when no security handlers are registered', async () => {
    // /api/v1/backends declares none | ApiKeyHeader | BearerAuth; no key is sent and the handler runs
    expect(full.getOperation('listBackends')?.security ?? full.definition.security).toEqual([
      {},
      { ApiKeyHeader: [] },
      { BearerAuth: [] },
    ]);
    const out = await full.handleRequest(request('get', '/api/v1/backends'));
    expect(out).toEqual({ kind: 'handler', operationId: 'listBackends' });
  });

  it('auth is optional in the document: even a registered unauthorizedHandler is not called without a key', async () => {
    const guarded = new OpenAPIBackend({ definition: contractDocument() as Document, quick: true });
    guarded.register({
      listBackends: () => 'handler',
      unauthorizedHandler: () => 'unauthorized',
      notFound: () => 'notFound',
    });
    guarded.init();
    expect(await guarded.handleRequest(request('get', '/api/v1/backends'))).toBe('handler');
  });

  it('validates requests exactly like the helper instance', () => {
    const samples: Array<[string, ReturnType<typeof request>]> = [
      [
        'executePrompt',
        request('post', '/api/v1/prompt', { backend: 'gpt4', prompt: '', max_turns: 1.5, Backend: 'x' }),
      ],
      [
        'executeParallel',
        request('post', '/api/v1/parallel', { tasks: [{ backend: 'claude', prompt: 'x', dry_run: true }] }),
      ],
      ['listSessions', request('get', '/api/v1/sessions', undefined, { limit: '0', status: 'running' })],
      ['getSession', request('get', '/api/v1/sessions/ABCDEF')],
      ['openaiChatCompletions', request('post', '/openai/v1/chat/completions', { model: '', messages: [], n: 2 })],
    ];
    const helper = getContractApi();
    for (const [id, req] of samples) {
      const a = full.validateRequest(req, id);
      const b = helper.validateRequest(req, id);
      expect(a.valid).toBe(false);
      expect(b.errors).toEqual(a.errors);
    }
  });
});
