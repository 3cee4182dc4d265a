/**
 * Responses and stream events from the SPEC examples validate against the contract, error bodies of
 * every code validate in all three styles, and the helpers reject what the contract forbids.
 */
import { ERROR_STATUS, type ErrorCode } from '../../../src/errors';
import {
  anthropicErrorTypeFor,
  expectMatchesSpec,
  expectStreamMatchesSpec,
  expectValidSchema,
  matchesSchema,
  openaiErrorTypeFor,
  streamEventSchemaFor,
} from '../../helpers/contract';

const SID = '3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d';
const TS = '2026-11-26T19:21:46.308Z';
const CODES = Object.keys(ERROR_STATUS) as ErrorCode[];
const NATIVE_ONLY: ErrorCode[] = [
  'ambiguous_session_id',
  'session_not_found',
  'session_busy',
  'job_not_found',
  'job_active',
  'idempotency_conflict',
];

describe('native success responses (SPEC §3 examples)', () => {
  it('executePrompt: result, dry run', () => {
    expectMatchesSpec('executePrompt', 200, {
      success: true,
      data: {
        session_id: SID,
        backend: 'claude',
        model: 'haiku',
        exit_code: 0,
        duration_ms: 1840,
        output: '4',
        token_usage: { input_tokens: 1650, output_tokens: 6, cached_tokens: 0 },
      },
    });
    expectMatchesSpec('executePrompt', 200, {
      success: true,
      data: {
        session_id: '9b0c3f2a9c0d4b1e4f6a8c7d2e1f0a9b',
        backend: 'codex',
        exit_code: 0,
        duration_ms: 0,
        output: 'Would execute: /usr/local/bin/codex [exec --json --skip-git-repo-check -- What is 2+2?]',
        command: ['/usr/local/bin/codex', 'exec', '--json', '--skip-git-repo-check', '--', 'What is 2+2?'],
        working_dir: '/home/alice/project',
      },
    });
    // ephemeral: no session_id
    expectMatchesSpec('executePrompt', 200, {
      success: true,
      data: { backend: 'gemini', exit_code: 0, duration_ms: 5, output: '' },
    });
  });

  it('executeParallel', () => {
    expectMatchesSpec('executeParallel', 200, {
      success: true,
      data: {
        total_tasks: 3,
        completed: 1,
        failed: 1,
        canceled: 1,
        total_duration_ms: 2040,
        results: [
          {
            backend: 'claude',
            exit_code: 0,
            duration_ms: 1810,
            output: '…',
            token_usage: { input_tokens: 1650, output_tokens: 6 },
          },
          {
            backend: 'gemini',
            exit_code: 144,
            duration_ms: 2030,
            output: '',
            error: '{"error":{"code":400}}',
            error_code: 'backend_failed',
          },
          {
            backend: 'codex',
            exit_code: -1,
            duration_ms: 0,
            output: '',
            error: 'canceled (fail_fast)',
            error_code: 'canceled',
          },
        ],
      },
    });
  });

  it('executeChain', () => {
    expectMatchesSpec('executeChain', 200, {
      success: true,
      data: {
        total_steps: 2,
        completed_steps: 2,
        total_duration_ms: 3500,
        results: [
          { step: 1, name: 'analyze', backend: 'claude', exit_code: 0, duration_ms: 2000, output: '…' },
          { step: 2, backend: 'codex', exit_code: 0, duration_ms: 1500, output: '…' },
        ],
      },
    });
    expectMatchesSpec('executeChain', 200, {
      success: true,
      data: {
        total_steps: 2,
        completed_steps: 0,
        failed_step: 1,
        total_duration_ms: 10,
        results: [
          {
            step: 1,
            backend: 'claude',
            exit_code: -1,
            duration_ms: 0,
            output: '',
            error: 'x',
            error_code: 'validation_error',
          },
        ],
      },
    });
  });

  it('executeCompare', () => {
    expectMatchesSpec('executeCompare', 200, {
      success: true,
      data: {
        prompt: 'Explain this',
        backends: ['claude', 'codex'],
        total_duration_ms: 3200,
        results: [
          { backend: 'claude', model: 'sonnet', exit_code: 0, duration_ms: 2500, output: '…' },
          { backend: 'codex', exit_code: 0, duration_ms: 3100, output: '…' },
        ],
      },
    });
  });

  it('listBackends', () => {
    expectMatchesSpec('listBackends', 200, {
      success: true,
      data: {
        backends: [
          { name: 'claude', available: true, enabled: true, command: '/usr/local/bin/claude', model: 'sonnet' },
          { name: 'codex', available: false, enabled: true },
          { name: 'gemini', available: false, enabled: false, command: '/usr/local/bin/gemini' },
        ],
      },
    });
  });

  const session = {
    id: SID,
    backend: 'claude',
    created_at: TS,
    last_used: TS,
    working_dir: '/home/alice/project',
    model: 'fast',
    initial_prompt: 'What is 2+2?',
    status: 'completed',
    turn_count: 2,
    token_usage: { input_tokens: 3300, output_tokens: 12, cached_tokens: 0 },
    tags: ['api'],
    metadata: { ticket: 'ABC-1' },
  };

  it('listSessions, getSession, deleteSession', () => {
    expectMatchesSpec('listSessions', 200, {
      success: true,
      data: { sessions: [session], total: 42, limit: 100, offset: 0 },
    });
    expectMatchesSpec('listSessions', 200, { success: true, data: { sessions: [], total: 0, limit: 1, offset: 5 } });
    expectMatchesSpec('getSession', 200, { success: true, data: session });
    expectMatchesSpec('getSession', 200, {
      success: true,
      data: {
        id: 'a1b2c3d4e5f60718',
        backend: 'gemini',
        created_at: TS,
        last_used: TS,
        status: 'error',
        error_message: 'timed out after 300 s',
      },
    });
    expectMatchesSpec('deleteSession', 200, { success: true, data: { deleted: true, id: SID } });
  });

  it('healthCheck: 200 ok/degraded and 503 unhealthy', () => {
    const health = {
      status: 'degraded',
      version: '0.1.0',
      uptime: '2m31s',
      uptime_ms: 151000,
      backends: [
        { name: 'claude', available: true, enabled: true },
        { name: 'codex', available: false, enabled: true },
        { name: 'gemini', available: true, enabled: true },
      ],
      session_store: { available: true, session_count: 15 },
      executions: { running: 1, queued: 0, max_concurrent: 8, max_queued: 64 },
    };
    expectMatchesSpec('healthCheck', 200, health);
    expectMatchesSpec('healthCheck', 200, { ...health, status: 'ok', uptime: '1h0m5s' });
    expectMatchesSpec('healthCheck', 200, { ...health, uptime: '59s' });
    expectMatchesSpec('healthCheck', 503, {
      ...health,
      status: 'unhealthy',
      session_store: { available: false, session_count: 0, error: 'EACCES: permission denied' },
    });
    expect(() => expectMatchesSpec('healthCheck', 200, { ...health, uptime: '151s ' })).toThrow(/uptime/);
    expect(() => expectMatchesSpec('healthCheck', 200, { ...health, status: 'fine' })).toThrow(/status/);
  });

  it('getOpenApiJson', () => {
    expectMatchesSpec('getOpenApiJson', 200, {
      openapi: '3.0.3',
      info: { title: 'clinvk API', version: '0.1.0' },
      paths: {},
    });
  });
});

describe('native error envelopes', () => {
  it.each(CODES)('%s validates with its fixed status on every native operation that declares it', (code) => {
    const status = ERROR_STATUS[code];
    const body = { success: false, error: `some ${code}`, code };
    expectMatchesSpec('executePrompt', status, body);
    expectMatchesSpec('listSessions', status, body);
    // /health's 503 is the health body itself (status "unhealthy")
    if (status !== 503) expectMatchesSpec('healthCheck', status, body);
    expectMatchesSpec('getMetrics', status, body);
  });

  it('validation_error with details; failed run with data', () => {
    expectMatchesSpec('executePrompt', 400, {
      success: false,
      error: 'request validation failed: body.backend must be one of: claude, codex, gemini (and 1 more)',
      code: 'validation_error',
      details: [
        { path: 'body.backend', message: 'must be one of: claude, codex, gemini' },
        { path: 'body.tasks[2].prompt', message: 'is required' },
      ],
    });
    expectMatchesSpec('executePrompt', 502, {
      success: false,
      error: 'claude failed: API Error: 400 mock injected error 400',
      code: 'backend_failed',
      data: {
        session_id: SID,
        backend: 'claude',
        exit_code: 1,
        duration_ms: 912,
        output: '',
        error: 'API Error: 400 mock injected error 400',
        token_usage: { input_tokens: 0, output_tokens: 0, cached_tokens: 0 },
      },
    });
    expectMatchesSpec('executePrompt', 504, {
      success: false,
      error: 'timed out after 300 s',
      code: 'backend_timeout',
      data: { backend: 'codex', exit_code: -1, duration_ms: 300000, output: '', error: 'timed out after 300 s' },
    });
    expectMatchesSpec('executeParallel', 504, {
      success: false,
      error: 'timed out after 300 s',
      code: 'backend_timeout',
      data: {
        total_tasks: 1,
        completed: 0,
        failed: 1,
        canceled: 0,
        total_duration_ms: 300000,
        results: [
          {
            backend: 'codex',
            exit_code: -1,
            duration_ms: 300000,
            output: '',
            error: 'timed out after 300 s',
            error_code: 'backend_timeout',
          },
        ],
      },
    });
    expectMatchesSpec('executeChain', 504, {
      success: false,
      error: 'timed out after 300 s',
      code: 'backend_timeout',
      data: {
        total_steps: 3,
        completed_steps: 1,
        total_duration_ms: 300000,
        results: [{ step: 1, backend: 'claude', exit_code: 0, duration_ms: 1, output: 'x' }],
      },
    });
    expectMatchesSpec('getSession', 400, {
      success: false,
      error: 'ambiguous session id prefix "3f": matches 7 sessions',
      code: 'ambiguous_session_id',
    });
  });

  it('405/408/431 fall back to the default response of the operation', () => {
    expectMatchesSpec('executePrompt', 405, {
      success: false,
      error: 'method not allowed',
      code: 'method_not_allowed',
    });
    expectMatchesSpec('healthCheck', 405, { success: false, error: 'method not allowed', code: 'method_not_allowed' });
    expectMatchesSpec('getDocs', 431, { success: false, error: 'headers too large', code: 'header_too_large' });
    expectMatchesSpec('listBackends', 408, { success: false, error: 'timeout', code: 'request_timeout' });
  });

  it('rejects bodies that break the contract, with readable messages', () => {
    expect(() => expectMatchesSpec('executePrompt', 400, { success: false, error: 'x', code: 'nope' })).toThrow(
      /\/code must be equal to one of the allowed values/,
    );
    expect(() =>
      expectMatchesSpec('executePrompt', 404, { success: false, error: 'x', code: 'validation_error' }),
    ).toThrow(/code validation_error must be sent with HTTP 400, not 404/);
    expect(() =>
      expectMatchesSpec('executePrompt', 400, {
        success: false,
        error: 'x',
        code: 'invalid_json',
        details: [{ path: 'body', message: 'x' }],
      }),
    ).toThrow(/details is only allowed with codes validation_error and option_not_allowed/);
    expect(() => expectMatchesSpec('executePrompt', 400, { success: false, error: 'x' })).toThrow(
      /must have required property 'code'/,
    );
    expect(() =>
      expectMatchesSpec('executePrompt', 200, {
        success: true,
        data: { backend: 'claude', exit_code: 0, duration_ms: 1, output: '', extra: 1 },
      }),
    ).toThrow(/must NOT have additional properties/);
    expect(() =>
      expectMatchesSpec('executePrompt', 200, {
        success: true,
        data: { backend: 'claude', exit_code: 0, duration_ms: 1 },
      }),
    ).toThrow(/must have required property 'output'/);
    expect(() =>
      expectMatchesSpec('executePrompt', 200, { success: false, error: 'x', code: 'internal_error' }),
    ).toThrow(/does not match/);
    expect(() =>
      expectMatchesSpec('getSession', 200, {
        success: true,
        data: { id: SID, backend: 'claude', created_at: 'yesterday', last_used: TS },
      }),
    ).toThrow(/must match format "date-time"/);
    expect(() =>
      expectMatchesSpec('getSession', 200, {
        success: true,
        data: { id: 'ABC', backend: 'claude', created_at: TS, last_used: TS },
      }),
    ).toThrow(/\/data\/id/);
    expect(() => expectMatchesSpec('deleteSession', 200, { success: true, data: { deleted: false, id: SID } })).toThrow(
      /deleted/,
    );
  });

  it('rejects unknown operations, and statuses without a JSON body', () => {
    expect(() => expectMatchesSpec('nope', 200, {})).toThrow(/unknown operationId/);
    expect(() => expectMatchesSpec('getDocs', 200, {})).toThrow(/declares no application\/json body \(text\/html\)/);
    expect(() => expectMatchesSpec('getMetrics', 200, {})).toThrow(/text\/plain/);
    expect(() => expectMatchesSpec('getOpenApiYaml', 200, {})).toThrow(/application\/yaml/);
  });
});

describe('OpenAI-compatible responses (§3.13, §3.16, §2.4)', () => {
  const models = [
    { id: 'claude', object: 'model', created: 1795721130, owned_by: 'anthropic' },
    { id: 'codex', object: 'model', created: 1795721130, owned_by: 'openai' },
    { id: 'gemini', object: 'model', created: 1795721130, owned_by: 'google' },
  ];
  it('models and chat completion', () => {
    expectMatchesSpec('openaiListModels', 200, { object: 'list', data: models });
    expectMatchesSpec('openaiListModels', 200, { object: 'list', data: [] });
    expectMatchesSpec('openaiGetModel', 200, models[0]);
    expectMatchesSpec('openaiChatCompletions', 200, {
      id: 'chatcmpl-4fQ0bX2mZk9sY1TqR7uWc3Ld',
      object: 'chat.completion',
      created: 1795721130,
      model: 'claude',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: '4', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 1650,
        completion_tokens: 6,
        total_tokens: 1656,
        prompt_tokens_details: { cached_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    });
    expectMatchesSpec('openaiChatCompletions', 200, {
      id: 'chatcmpl-4fQ0bX2mZk9sY1TqR7uWc3Ld',
      object: 'chat.completion',
      created: 1795721130,
      model: 'gpt-5',
      choices: [
        { index: 0, message: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 },
    });
    expect(() =>
      expectMatchesSpec('openaiChatCompletions', 200, {
        id: 'chatcmpl-x',
        object: 'chat.completion',
        created: 1,
        model: 'claude',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: '4', refusal: null },
            logprobs: {},
            finish_reason: 'error',
          },
        ],
        usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 },
      }),
    ).toThrow(/\/id must match pattern[\s\S]*logprobs[\s\S]*finish_reason/);
  });

  it.each(CODES.filter((c) => !NATIVE_ONLY.includes(c)))('error %s validates in OpenAI shape', (code) => {
    const body = {
      error: {
        message: `${code}: x`,
        type: openaiErrorTypeFor(code),
        param: code === 'validation_error' ? 'messages' : null,
        code,
      },
    };
    expectMatchesSpec('openaiChatCompletions', ERROR_STATUS[code], body);
    expectMatchesSpec('openaiGetModel', ERROR_STATUS[code], body);
  });

  it('rejects inconsistent or malformed OpenAI errors', () => {
    expect(() =>
      expectMatchesSpec('openaiChatCompletions', 500, {
        error: { message: 'x', type: 'server_error', param: null, code: 'backend_failed' },
      }),
    ).toThrow(/must be sent with HTTP 502/);
    expect(() =>
      expectMatchesSpec('openaiChatCompletions', 401, {
        error: { message: 'x', type: 'authentication_error', param: null, code: 'unauthorized' },
      }),
    ).toThrow(/type/);
    expect(() =>
      expectMatchesSpec('openaiChatCompletions', 400, {
        error: { message: 'x', type: 'invalid_request_error', code: 'validation_error' },
      }),
    ).toThrow(/param/);
    expect(() =>
      expectMatchesSpec('openaiChatCompletions', 404, {
        error: { message: 'x', type: 'invalid_request_error', param: null, code: 'session_not_found' },
      }),
    ).toThrow(/native-only/);
    expect(() =>
      expectMatchesSpec('openaiChatCompletions', 400, { success: false, error: 'x', code: 'validation_error' }),
    ).toThrow(/does not match/);
  });
});

describe('Anthropic-compatible responses (§3.19, §3.20, §2.5)', () => {
  const models = [
    { type: 'model', id: 'claude', display_name: 'Claude Code (claude CLI)', created_at: '2026-11-26T19:00:00.000Z' },
    { type: 'model', id: 'codex', display_name: 'Codex CLI (codex)', created_at: '2026-11-26T19:00:00.000Z' },
  ];
  it('message and models', () => {
    const message = {
      id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
      type: 'message',
      role: 'assistant',
      model: 'claude',
      content: [{ type: 'text', text: '4' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 1650, output_tokens: 6 },
    };
    expectMatchesSpec('anthropicCreateMessage', 200, message);
    expectMatchesSpec('anthropicCreateMessageV1', 200, { ...message, content: [{ type: 'text', text: '' }] });
    expect(() => expectMatchesSpec('anthropicCreateMessage', 200, { ...message, content: [] })).toThrow(/content/);
    expect(() => expectMatchesSpec('anthropicCreateMessage', 200, { ...message, stop_reason: 'error' })).toThrow(
      /stop_reason/,
    );
    const list = { data: models, has_more: false, first_id: 'claude', last_id: 'codex' };
    expectMatchesSpec('anthropicListModels', 200, list);
    expectMatchesSpec('anthropicListModelsV1', 200, { data: [], has_more: false, first_id: null, last_id: null });
    expectMatchesSpec('anthropicGetModel', 200, models[0]);
    expectMatchesSpec('anthropicGetModelV1', 200, models[1]);
  });

  it.each(CODES.filter((c) => !NATIVE_ONLY.includes(c)))('error %s validates in Anthropic shape', (code) => {
    const body = { type: 'error', error: { type: anthropicErrorTypeFor(code), message: `${code}: x` } };
    expectMatchesSpec('anthropicCreateMessage', ERROR_STATUS[code], body);
    expectMatchesSpec('anthropicGetModelV1', ERROR_STATUS[code], body);
  });

  it('rejects inconsistent or malformed Anthropic errors', () => {
    expect(() =>
      expectMatchesSpec('anthropicCreateMessage', 400, {
        type: 'error',
        error: { type: 'authentication_error', message: 'x' },
      }),
    ).toThrow(/HTTP 401, not 400/);
    expect(() =>
      expectMatchesSpec('anthropicCreateMessage', 400, { type: 'error', error: { type: 'bad', message: 'x' } }),
    ).toThrow(/allowed values/);
    expect(() =>
      expectMatchesSpec('anthropicCreateMessage', 400, { error: { type: 'invalid_request_error', message: 'x' } }),
    ).toThrow(/'type'/);
  });
});

describe('stream events (§4.2–§4.4)', () => {
  const base = { backend: 'claude', session_id: SID, timestamp: TS };
  it('native NDJSON events from the SPEC examples', () => {
    const events = [
      {
        type: 'init',
        ...base,
        sequence: 1,
        content: {
          backend_session_id: '02e114fa-c8ed-4ce4-ab97-5d27f3fe6cc0',
          model: 'claude-opus-4-8[1m]',
          working_dir: '/home/alice/project',
        },
      },
      { type: 'progress', ...base, sequence: 2, content: { stage: 'requesting' } },
      { type: 'message', ...base, sequence: 3, content: { text: 'MOCK-REPLY: ', role: 'assistant', is_partial: true } },
      { type: 'thinking', ...base, sequence: 4, content: { text: 'hmm' } },
      {
        type: 'tool_use',
        ...base,
        sequence: 5,
        content: { tool_id: 't1', tool_name: 'Bash', input: { command: 'ls' } },
      },
      {
        type: 'tool_result',
        ...base,
        sequence: 6,
        content: { tool_id: 't1', tool_name: '', output: 'a\nb', is_error: false },
      },
      { type: 'progress', ...base, sequence: 7, content: { stage: 'heartbeat' } },
      {
        type: 'token_usage',
        ...base,
        sequence: 8,
        content: { input_tokens: 1651, output_tokens: 6, cached_tokens: 0 },
      },
      {
        type: 'done',
        ...base,
        sequence: 9,
        content: {
          exit_code: 0,
          duration_ms: 1210,
          token_usage: { input_tokens: 1651, output_tokens: 6, cached_tokens: 0 },
        },
      },
      {
        type: 'init',
        backend: 'codex',
        timestamp: TS,
        sequence: 1,
        content: { backend_session_id: '01a2194d-b210-7611-96ba-c80581abb3f3' },
      },
      {
        type: 'progress',
        backend: 'codex',
        timestamp: TS,
        sequence: 3,
        content: { stage: 'warning', message: 'unexpected status 401' },
      },
      {
        type: 'error',
        backend: 'codex',
        timestamp: TS,
        sequence: 4,
        content: { message: 'unexpected status 401', code: 'backend_failed', exit_code: 1 },
      },
      {
        type: 'error',
        backend: 'gemini',
        timestamp: TS,
        sequence: 2,
        content: { message: 'backend output line exceeded 10 bytes', code: 'stream_line_too_long', exit_code: -1 },
      },
      {
        type: 'message',
        backend: 'codex',
        timestamp: TS,
        sequence: 1,
        content: { text: 'Would execute: /usr/bin/codex [exec]', role: 'assistant' },
      },
      {
        type: 'done',
        backend: 'codex',
        timestamp: TS,
        sequence: 2,
        content: { exit_code: 0, duration_ms: 0, command: ['/usr/bin/codex', 'exec'], working_dir: '/tmp' },
      },
    ];
    for (const e of events) expectValidSchema('NativeStreamEvent', e);
  });

  it('rejects malformed native events, naming the branch', () => {
    expect(() =>
      expectValidSchema('NativeStreamEvent', { type: 'message', ...base, sequence: 3, content: { text: 'x' } }),
    ).toThrow(/NativeStreamEvent → StreamMessageEvent[\s\S]*must have required property 'role'/);
    expect(() =>
      expectValidSchema('NativeStreamEvent', {
        type: 'done',
        ...base,
        sequence: 2,
        content: { exit_code: 1, duration_ms: 1 },
      }),
    ).toThrow(/StreamDoneEvent/);
    expect(() =>
      expectValidSchema('NativeStreamEvent', {
        type: 'error',
        ...base,
        sequence: 2,
        content: { message: 'x', code: 'queue_full', exit_code: 1 },
      }),
    ).toThrow(/StreamErrorEvent/);
    expect(() => expectValidSchema('NativeStreamEvent', { type: 'init', ...base, sequence: 0, content: {} })).toThrow(
      /sequence/,
    );
    expect(() => expectValidSchema('NativeStreamEvent', { type: 'init', ...base, sequence: 1 })).toThrow(/content/);
    expect(() => expectValidSchema('NativeStreamEvent', { type: 'bogus', ...base, sequence: 1, content: {} })).toThrow(
      /no branch for type "bogus"/,
    );
    expect(
      matchesSchema('NativeStreamEvent', {
        type: 'init',
        ...base,
        session_id: 'backend-uuid',
        sequence: 1,
        content: {},
      }),
    ).toBe(false);
  });

  it('OpenAI chunks from the SPEC example, with and without include_usage', () => {
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
      id: 'chatcmpl-4fQ0bX2mZk9sY1TqR7uWc3Ld',
      object: 'chat.completion.chunk',
      created: 1795721130,
      model: 'gpt-5',
      choices,
      ...extra,
    });
    const choice = (delta: Record<string, unknown>, finish: string | null = null) => ({
      index: 0,
      delta,
      logprobs: null,
      finish_reason: finish,
    });
    expectValidSchema('OpenAIChatCompletionChunk', chunk([choice({ role: 'assistant', content: '' })]));
    expectValidSchema('OpenAIChatCompletionChunk', chunk([choice({ content: 'MOCK-REPLY: 8f434346648f' })]));
    expectValidSchema('OpenAIChatCompletionChunk', chunk([choice({}, 'stop')]));
    expectValidSchema('OpenAIChatCompletionChunk', chunk([choice({ content: 'x' })], { usage: null }));
    expectValidSchema(
      'OpenAIChatCompletionChunk',
      chunk([], { usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }),
    );
    expectValidSchema('OpenAIErrorResponse', {
      error: { message: 'claude failed: x', type: 'server_error', param: null, code: 'stream_line_too_long' },
    });
    expect(() => expectValidSchema('OpenAIChatCompletionChunk', chunk([choice({ content: 'x' }, 'length')]))).toThrow(
      /finish_reason/,
    );
    expect(() =>
      expectValidSchema('OpenAIChatCompletionChunk', chunk([choice({ content: 'x' })], { object: 'chat.completion' })),
    ).toThrow(/object/);
    expect(() =>
      expectValidSchema('OpenAIChatCompletionChunk', chunk([{ index: 0, delta: {}, finish_reason: null }])),
    ).toThrow(/logprobs/);
  });

  it('Anthropic SSE events in the §4.4 order, plus the error frame', () => {
    const events = [
      {
        type: 'message_start',
        message: {
          id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
          type: 'message',
          role: 'assistant',
          model: 'claude',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 0, output_tokens: 0 },
        },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'ping' },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'MOCK' } },
      { type: 'content_block_stop', index: 0 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { input_tokens: 10, output_tokens: 2 },
      },
      { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } },
      { type: 'message_stop' },
      { type: 'error', error: { type: 'api_error', message: 'claude failed: x' } },
      { type: 'error', error: { type: 'overloaded_error', message: 'server shutting down' } },
    ];
    for (const e of events) expectValidSchema('AnthropicStreamEvent', e);
    expect(() =>
      expectValidSchema('AnthropicStreamEvent', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: {},
      }),
    ).toThrow(/AnthropicMessageDeltaEvent[\s\S]*output_tokens/);
    expect(() =>
      expectValidSchema('AnthropicStreamEvent', {
        ...events[0],
        message: { ...(events[0].message as object), stop_reason: undefined },
      }),
    ).toThrow(/stop_reason/);
    expect(() =>
      expectValidSchema('AnthropicStreamEvent', {
        type: 'content_block_delta',
        index: 1,
        delta: { type: 'text_delta', text: 'x' },
      }),
    ).toThrow(/index/);
  });

  it('rejects unknown schema names', () => {
    expect(() => expectValidSchema('Nope', {})).toThrow(/unknown component schema "Nope"/);
  });
});

describe('failure data is precise per operation', () => {
  const parallel = { total_tasks: 0, completed: 0, failed: 0, canceled: 0, total_duration_ms: 1, results: [] };
  const execution = { backend: 'codex', exit_code: -1, duration_ms: 3, output: '', error: 'timed out' };
  it('a run result is accepted only where that operation can send it', () => {
    expectMatchesSpec('executePrompt', 503, { success: false, error: 'x', code: 'shutting_down', data: execution });
    expectMatchesSpec('executeParallel', 503, { success: false, error: 'x', code: 'shutting_down', data: parallel });
    expect(() =>
      expectMatchesSpec('executePrompt', 504, { success: false, error: 'x', code: 'backend_timeout', data: parallel }),
    ).toThrow(/does not match the contract/);
    expect(() =>
      expectMatchesSpec('executeParallel', 504, {
        success: false,
        error: 'x',
        code: 'backend_timeout',
        data: execution,
      }),
    ).toThrow(/does not match the contract/);
    // errors that never carry a run result have no data at all
    expect(() =>
      expectMatchesSpec('executePrompt', 400, { success: false, error: 'x', code: 'invalid_json', data: execution }),
    ).toThrow(/additional/);
    expect(() =>
      expectMatchesSpec('streamPrompt', 504, { success: false, error: 'x', code: 'backend_timeout', data: execution }),
    ).toThrow(/additional/);
  });
});

describe('stream bodies (x-clinvk-stream-event)', () => {
  const ev = (type: string, sequence: number, content: Record<string, unknown>) => ({
    type,
    backend: 'claude',
    timestamp: TS,
    sequence,
    content,
  });
  it('names the event schema per operation, status and media type', () => {
    expect(streamEventSchemaFor('streamPrompt', 200, 'application/x-ndjson')).toBe('NativeStreamEvent');
    // executePrompt's stream-json compatibility case: the events of streamPrompt
    expect(streamEventSchemaFor('executePrompt', 200, 'application/x-ndjson')).toBe('NativeStreamEvent');
    expect(streamEventSchemaFor('openaiChatCompletions', 200, 'text/event-stream; charset=utf-8')).toBe(
      'OpenAIStreamEvent',
    );
    expect(streamEventSchemaFor('anthropicCreateMessageV1', 200, 'text/event-stream')).toBe('AnthropicStreamEvent');
    expect(() => streamEventSchemaFor('listBackends', 200, 'application/x-ndjson')).toThrow(/no application\/x-ndjson/);
    expect(() => streamEventSchemaFor('streamPrompt', 400, 'application/x-ndjson')).toThrow(/declares no/);
  });

  it('validates every NDJSON line', () => {
    const lines = [ev('message', 1, { text: 'x', role: 'assistant' }), ev('done', 2, { exit_code: 0, duration_ms: 1 })];
    const body = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
    const parsed = expectStreamMatchesSpec('streamPrompt', 200, 'application/x-ndjson', body);
    expect(parsed.events.map((e) => e.data)).toEqual(lines);
    const bad = `${JSON.stringify(ev('message', 1, { text: 'x' }))}\n`;
    expect(() => expectStreamMatchesSpec('streamPrompt', 200, 'application/x-ndjson', bad)).toThrow(
      /line 1[\s\S]*StreamMessageEvent[\s\S]*role/,
    );
    expect(() => expectStreamMatchesSpec('executePrompt', 200, 'application/x-ndjson', 'nope\n')).toThrow(/not JSON/);
    expect(() =>
      expectStreamMatchesSpec('streamPrompt', 200, 'application/x-ndjson', JSON.stringify(lines[0])),
    ).toThrow(/newline/);
  });

  it('validates every SSE data frame, accepting [DONE] only last and heartbeat comments anywhere', () => {
    const chunk = {
      id: 'chatcmpl-4fQ0bX2mZk9sY1TqR7uWc3Ld',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'claude',
      choices: [{ index: 0, delta: { content: 'x' }, logprobs: null, finish_reason: null }],
    };
    const error = { error: { message: 'claude failed: x', type: 'server_error', param: null, code: 'backend_failed' } };
    const ok = `data: ${JSON.stringify(chunk)}\n\n: keep-alive\n\ndata: [DONE]\n\n`;
    const parsed = expectStreamMatchesSpec('openaiChatCompletions', 200, 'text/event-stream; charset=utf-8', ok);
    expect(parsed).toMatchObject({ schema: 'OpenAIStreamEvent', done: true, comments: ['keep-alive'] });
    expectStreamMatchesSpec('openaiChatCompletions', 200, 'text/event-stream', `data: ${JSON.stringify(error)}\n\n`);
    expect(() =>
      expectStreamMatchesSpec(
        'openaiChatCompletions',
        200,
        'text/event-stream',
        `data: [DONE]\n\ndata: ${JSON.stringify(chunk)}\n\n`,
      ),
    ).toThrow(/follows data: \[DONE\]/);
    expect(() =>
      expectStreamMatchesSpec(
        'openaiChatCompletions',
        200,
        'text/event-stream',
        `data: ${JSON.stringify({ ...chunk, object: 'chat.completion' })}\n\n`,
      ),
    ).toThrow(/frame 1/);
    const ping = { type: 'ping' };
    expectStreamMatchesSpec(
      'anthropicCreateMessage',
      200,
      'text/event-stream',
      `event: ping\ndata: ${JSON.stringify(ping)}\n\n`,
    );
    expect(() =>
      expectStreamMatchesSpec(
        'anthropicCreateMessage',
        200,
        'text/event-stream',
        `event: message_stop\ndata: ${JSON.stringify(ping)}\n\n`,
      ),
    ).toThrow(/event message_stop but data.type ping/);
    expect(() =>
      expectStreamMatchesSpec(
        'anthropicCreateMessage',
        200,
        'text/event-stream',
        `event: ping\ndata: ${JSON.stringify(ping)}\n`,
      ),
    ).toThrow(/blank line/);
  });
});
