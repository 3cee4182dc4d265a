/**
 * Request validation through openapi-backend against the bundled contract (SPEC §3, §9): what the
 * schema rejects (400 validation_error) and what it deliberately leaves to the handler.
 */
import { getContractApi } from '../../helpers/contract';

type Req = {
  method: string;
  path: string;
  query?: Record<string, unknown>;
  headers?: Record<string, string>;
  body?: unknown;
};

function errors(operationId: string, req: Req): string[] {
  const result = getContractApi().validateRequest(
    {
      method: req.method,
      path: req.path,
      query: (req.query ?? {}) as Record<string, string>,
      headers: req.headers ?? { 'content-type': 'application/json' },
      body: req.body,
    },
    operationId,
  );
  return (result.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

const prompt = (body: unknown) => errors('executePrompt', { method: 'post', path: '/api/v1/prompt', body });
const parallel = (body: unknown) => errors('executeParallel', { method: 'post', path: '/api/v1/parallel', body });
const chain = (body: unknown) => errors('executeChain', { method: 'post', path: '/api/v1/chain', body });
const compare = (body: unknown) => errors('executeCompare', { method: 'post', path: '/api/v1/compare', body });
const sessions = (query: Record<string, unknown>) =>
  errors('listSessions', { method: 'get', path: '/api/v1/sessions', query });
const openai = (body: unknown) =>
  errors('openaiChatCompletions', { method: 'post', path: '/openai/v1/chat/completions', body });
const anthropic = (body: unknown) =>
  errors('anthropicCreateMessage', { method: 'post', path: '/anthropic/v1/messages', body });

describe('executePrompt request', () => {
  it('accepts the SPEC examples and every documented field', () => {
    expect(
      prompt({ backend: 'claude', prompt: 'What is 2+2?', model: 'fast', workdir: '/home/alice/project' }),
    ).toEqual([]);
    expect(prompt({ session_id: '3f2a9c0d', prompt: 'And times 3?' })).toEqual([]);
    expect(
      prompt({
        backend: 'gemini',
        prompt: 'x',
        session_id: '3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d',
        model: 'claude-sonnet-4@2025[1m]',
        workdir: '/tmp',
        approval_mode: 'none',
        sandbox_mode: 'read-only',
        output_format: 'stream-json',
        max_tokens: 10000000,
        max_turns: 1000,
        system_prompt: '',
        verbose: true,
        dry_run: false,
        ephemeral: false,
        extra: Array.from({ length: 32 }, () => '--debug'),
        metadata: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, 'v'.repeat(1024)])),
      }),
    ).toEqual([]);
  });

  it('backend is optional in the schema (the handler requires it without session_id)', () => {
    expect(prompt({ prompt: 'hi' })).toEqual([]);
  });

  it('rejects unknown and wrongly cased properties (§9 #6)', () => {
    expect(prompt({ backend: 'claude', prompt: 'hi', promt: 'x' })).toEqual([
      '/requestBody must NOT have additional properties',
    ]);
    expect(prompt({ Backend: 'claude', prompt: 'hi' })).toEqual(['/requestBody must NOT have additional properties']);
  });

  it('reports all problems, not just the first (allErrors)', () => {
    expect(prompt({ backend: 'gpt4', prompt: 42, dry_run: 'yes' }).length).toBe(3);
  });

  it('rejects wrong types without coercion (§9 #4)', () => {
    expect(prompt({ backend: 'claude', prompt: 42 })).toEqual(['/requestBody/prompt must be string']);
    expect(prompt({ backend: 'claude', prompt: 'x', dry_run: 'yes' })).toEqual([
      '/requestBody/dry_run must be boolean',
    ]);
    expect(prompt({ backend: null, prompt: 'x' })).toContain('/requestBody/backend must be string');
    expect(prompt({ backend: 'claude', prompt: 'x', max_turns: '3' })).toEqual([
      '/requestBody/max_turns must be integer',
    ]);
  });

  it('prompt: missing or empty is a schema error, blank is left to the handler (§9 #5)', () => {
    expect(prompt({ backend: 'claude' })).toEqual(["/requestBody must have required property 'prompt'"]);
    expect(prompt({ backend: 'claude', prompt: '' })).toEqual([
      '/requestBody/prompt must NOT have fewer than 1 characters',
    ]);
    expect(prompt({ backend: 'claude', prompt: '  \n\t' })).toEqual([]);
  });

  it('rejects a non-object or missing body (§9 #2, #3)', () => {
    expect(prompt([])).toEqual(['/requestBody must be object']);
    expect(prompt(null)).toEqual(['/requestBody must be object']);
    expect(prompt(undefined)).toEqual([" must have required property 'requestBody'"]);
  });

  it('(trap) a non-object body is only reported as "must be object" when content-type is exactly application/json', () => {
    const withType = (body: unknown, ct: string) =>
      errors('executePrompt', { method: 'post', path: '/api/v1/prompt', headers: { 'content-type': ct }, body });
    expect(withType(42, 'application/json')).toEqual(['/requestBody must be object']);
    // any other spelling: openapi-backend leaves the body out and reports it as missing
    expect(withType(42, 'application/json; charset=utf-8')).toEqual([" must have required property 'requestBody'"]);
    // a string body is also re-parsed as JSON text (keyword "parse")
    expect(withType('hi', 'application/json')[0]).toMatch(/^ Unexpected token/);
  });

  it('enforces enums (§9 #7, #28)', () => {
    expect(prompt({ backend: 'gpt4', prompt: 'x' })).toEqual([
      '/requestBody/backend must be equal to one of the allowed values',
    ]);
    expect(prompt({ backend: 'claude', prompt: 'x', approval_mode: 'yolo' })).toHaveLength(1);
    expect(prompt({ backend: 'claude', prompt: 'x', sandbox_mode: 'danger' })).toHaveLength(1);
    expect(prompt({ backend: 'claude', prompt: 'x', output_format: 'STREAM-JSON' })).toHaveLength(1);
  });

  it('enforces numeric ranges (§3.1, §9 #29)', () => {
    expect(prompt({ backend: 'claude', prompt: 'x', max_turns: -1 })).toEqual(['/requestBody/max_turns must be >= 0']);
    expect(prompt({ backend: 'claude', prompt: 'x', max_turns: 1001 })).toEqual([
      '/requestBody/max_turns must be <= 1000',
    ]);
    expect(prompt({ backend: 'claude', prompt: 'x', max_turns: 1.5 })).toEqual([
      '/requestBody/max_turns must be integer',
    ]);
    expect(prompt({ backend: 'claude', prompt: 'x', max_tokens: 10000001 })).toEqual([
      '/requestBody/max_tokens must be <= 10000000',
    ]);
    expect(prompt({ backend: 'claude', prompt: 'x', max_tokens: -1 })).toEqual([
      '/requestBody/max_tokens must be >= 0',
    ]);
  });

  it('model: pattern and length (§9 #13, #14)', () => {
    expect(prompt({ backend: 'claude', prompt: 'x', model: '--dangerously-skip-permissions' })).toHaveLength(1);
    expect(prompt({ backend: 'claude', prompt: 'x', model: 'sonnet --yolo' })).toHaveLength(1);
    expect(prompt({ backend: 'claude', prompt: 'x', model: '' })).toHaveLength(2);
    expect(prompt({ backend: 'claude', prompt: 'x', model: 'a'.repeat(201) })).toEqual([
      '/requestBody/model must NOT have more than 200 characters',
    ]);
    expect(prompt({ backend: 'claude', prompt: 'x', model: 'a'.repeat(200) })).toEqual([]);
    expect(prompt({ backend: 'codex', prompt: 'x', model: 'gpt-6.2-sol' })).toEqual([]);
  });

  it('workdir: only the length is a schema concern (absolute/exists/policy are the handler’s)', () => {
    expect(prompt({ backend: 'claude', prompt: 'x', workdir: 'relative/dir' })).toEqual([]);
    expect(prompt({ backend: 'claude', prompt: 'x', workdir: `/${'a'.repeat(4096)}` })).toEqual([
      '/requestBody/workdir must NOT have more than 4096 characters',
    ]);
  });

  it('session_id pattern (§9 #30)', () => {
    expect(prompt({ session_id: 'ZZZ', prompt: 'x' })).toHaveLength(1);
    expect(prompt({ session_id: '../../etc/passwd', prompt: 'x' })).toHaveLength(1);
    expect(prompt({ session_id: 'a'.repeat(33), prompt: 'x' })).toHaveLength(1);
    expect(prompt({ session_id: 'ABCDEF', prompt: 'x' })).toHaveLength(1);
  });

  it('extra and metadata limits (§9 #20, #29)', () => {
    expect(prompt({ backend: 'claude', prompt: 'x', extra: Array.from({ length: 33 }, () => '--bare') })).toEqual([
      '/requestBody/extra must NOT have more than 32 items',
    ]);
    expect(prompt({ backend: 'claude', prompt: 'x', extra: ['--bare', 5] })).toEqual([
      '/requestBody/extra/1 must be string',
    ]);
    expect(prompt({ backend: 'claude', prompt: 'x', extra: [''] })).toHaveLength(1);
    expect(prompt({ backend: 'claude', prompt: 'x', metadata: { k: 1 } })).toEqual([
      '/requestBody/metadata/k must be string',
    ]);
    expect(prompt({ backend: 'claude', prompt: 'x', metadata: { k: 'v'.repeat(1025) } })).toHaveLength(1);
    expect(
      prompt({
        backend: 'claude',
        prompt: 'x',
        metadata: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])),
      }),
    ).toEqual(['/requestBody/metadata must NOT have more than 32 properties']);
    // key pattern is checked by the handler (OpenAPI 3.0 has no propertyNames)
    expect(prompt({ backend: 'claude', prompt: 'x', metadata: { '../x': 'v' } })).toEqual([]);
  });
});

describe('aggregate requests', () => {
  const task = { backend: 'claude', prompt: 'x' };
  it('parallel: tasks 1–100, max_parallel 1–64, no per-task dry_run / session_id / stream-json (§9 #38)', () => {
    expect(parallel({ tasks: [task], max_parallel: 64, fail_fast: true, dry_run: true })).toEqual([]);
    expect(parallel({ tasks: [{ ...task, ephemeral: true, metadata: { a: 'b' }, output_format: 'json' }] })).toEqual(
      [],
    );
    expect(parallel({ tasks: [] })).toEqual(['/requestBody/tasks must NOT have fewer than 1 items']);
    expect(parallel({ tasks: Array.from({ length: 101 }, () => task) })).toEqual([
      '/requestBody/tasks must NOT have more than 100 items',
    ]);
    expect(parallel({ tasks: [task], max_parallel: 0 })).toEqual(['/requestBody/max_parallel must be >= 1']);
    expect(parallel({ tasks: [task], max_parallel: 65 })).toEqual(['/requestBody/max_parallel must be <= 64']);
    expect(parallel({ tasks: [{ ...task, dry_run: true }] })).toEqual([
      '/requestBody/tasks/0 must NOT have additional properties',
    ]);
    expect(parallel({ tasks: [{ ...task, session_id: 'ab' }] })).toEqual([
      '/requestBody/tasks/0 must NOT have additional properties',
    ]);
    expect(parallel({ tasks: [{ ...task, output_format: 'stream-json' }] })).toHaveLength(1);
    expect(parallel({ tasks: [task, { prompt: 'x' }] })).toEqual([
      "/requestBody/tasks/1 must have required property 'backend'",
    ]);
    expect(parallel({})).toEqual(["/requestBody must have required property 'tasks'"]);
  });

  it('chain: steps 1–50, booleans only (semantic checks are the handler’s) (§9 #40)', () => {
    expect(chain({ steps: [{ ...task, name: 'analyze' }], stop_on_failure: true, pass_working_dir: true })).toEqual([]);
    expect(chain({ steps: [task], pass_session_id: true, persist_sessions: true })).toEqual([]);
    expect(chain({ steps: [{ ...task, prompt: 'use {{session}}' }] })).toEqual([]);
    expect(chain({ steps: [] })).toHaveLength(1);
    expect(chain({ steps: Array.from({ length: 51 }, () => task) })).toHaveLength(1);
    expect(chain({ steps: [{ ...task, output_format: 'json' }] })).toEqual([
      '/requestBody/steps/0 must NOT have additional properties',
    ]);
    expect(chain({ steps: [{ ...task, ephemeral: true }] })).toHaveLength(1);
    expect(chain({ steps: [{ ...task, metadata: {} }] })).toHaveLength(1);
    expect(chain({ steps: [{ ...task, name: '' }] })).toHaveLength(1);
    expect(chain({ steps: [{ ...task, name: 'n'.repeat(101) }] })).toHaveLength(1);
    expect(chain({ steps: [task], pass_session_id: 'no' })).toEqual(['/requestBody/pass_session_id must be boolean']);
  });

  it('compare: backends 1–10 of the enum, duplicates allowed (§9 #41)', () => {
    expect(
      compare({
        backends: ['claude', 'claude', 'codex'],
        prompt: 'x',
        sequential: true,
        dry_run: true,
        model: 'fast',
        workdir: '/tmp',
      }),
    ).toEqual([]);
    expect(compare({ backends: [], prompt: 'x' })).toHaveLength(1);
    expect(compare({ backends: ['claude', 'foo'], prompt: 'x' })).toEqual([
      '/requestBody/backends/1 must be equal to one of the allowed values',
    ]);
    expect(compare({ backends: Array.from({ length: 11 }, () => 'codex'), prompt: 'x' })).toHaveLength(1);
    expect(compare({ backends: ['claude'] })).toHaveLength(1);
    expect(compare({ backends: ['claude'], prompt: 'x', max_turns: 1 })).toHaveLength(1);
  });
});

describe('query and path parameters', () => {
  it('listSessions query (§3.8, §9 #37); query values arrive as strings', () => {
    expect(sessions({})).toEqual([]);
    expect(sessions({ backend: 'codex', status: 'completed', limit: '1000', offset: '0' })).toEqual([]);
    expect(sessions({ limit: '0' })).toEqual(['/query/limit must be >= 1']);
    expect(sessions({ limit: '1001' })).toEqual(['/query/limit must be <= 1000']);
    expect(sessions({ limit: 'abc' })).toEqual(['/query/limit must be integer']);
    expect(sessions({ offset: '-1' })).toEqual(['/query/offset must be >= 0']);
    expect(sessions({ status: 'running' })).toHaveLength(1);
    expect(sessions({ backend: 'gpt' })).toHaveLength(1);
    expect(sessions({ limit: ['1', '2'] })).toEqual(['/query/limit must be integer']);
  });

  it('(trap) openapi-backend rejects undeclared query parameters: the HTTP layer must pass only declared ones', () => {
    // SPEC §2.10 says unknown query parameters are ignored
    expect(sessions({ foo: '1' })).toEqual(['/query must NOT have additional properties']);
    expect(errors('listBackends', { method: 'get', path: '/api/v1/backends', query: { x: '1' } })).toEqual([
      '/query must NOT have additional properties',
    ]);
  });

  it('session id path parameter (§3.9, §9 #35)', () => {
    const get = (id: string) => errors('getSession', { method: 'get', path: `/api/v1/sessions/${id}` });
    expect(get('3f')).toEqual([]);
    expect(get('3f2a9c0d4b1e4f6a8c7d2e1f0a9b8c7d')).toEqual([]);
    expect(get('ABCDEF')).toHaveLength(1);
    expect(get('a'.repeat(33))).toHaveLength(1);
    expect(get('..%2F..%2Fetc%2Fpasswd')).toHaveLength(1);
    expect(errors('deleteSession', { method: 'delete', path: '/api/v1/sessions/xyz' })).toHaveLength(1);
  });
});

describe('OpenAI chat completions request (lenient, §3.14, §9 #54–57)', () => {
  const ok = { model: 'claude', messages: [{ role: 'user', content: 'hi' }] };
  it('accepts unknown fields at the top level and inside messages', () => {
    expect(openai({ ...ok, foo: 1, tools: [{ type: 'function', function: { name: 'f' } }] })).toEqual([]);
    expect(openai({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi', weird: true }] })).toEqual([]);
  });

  it('accepts the documented message forms', () => {
    expect(
      openai({
        model: 'codex/gpt-5',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'developer', content: [{ type: 'text', text: 'dev' }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a' },
              { type: 'text', text: 'b' },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'result' },
          { role: 'function', name: 'f', content: 'x' },
        ],
        stream: true,
        stream_options: { include_usage: true },
        n: 1,
        temperature: null,
        max_tokens: 100,
        stop: ['\n'],
      }),
    ).toEqual([]);
  });

  it('leaves unsupported content parts to the handler (400 unsupported_content, not validation_error)', () => {
    expect(
      openai({
        model: 'claude',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }],
      }),
    ).toEqual([]);
  });

  it('rejects the §9 #54 cases', () => {
    expect(openai({ model: 'claude', messages: [] })).toEqual([
      '/requestBody/messages must NOT have fewer than 1 items',
    ]);
    expect(openai({ messages: ok.messages })).toEqual(["/requestBody must have required property 'model'"]);
    expect(openai({ ...ok, model: '' }).length).toBeGreaterThan(0);
    expect(openai({ ...ok, n: 2 })).toEqual(['/requestBody/n must be <= 1']);
    expect(openai({ ...ok, stream: 'true' })).toEqual(['/requestBody/stream must be boolean']);
    expect(openai({ model: 'claude', messages: [{ role: 'robot', content: 'x' }] })).toHaveLength(1);
    expect(openai({ model: 'claude', messages: [{ content: 'x' }] })).toHaveLength(1);
  });
});

describe('Anthropic messages request (lenient, §3.18, §9 #55–59)', () => {
  const ok = { model: 'claude', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }] };
  it('accepts the SDK shapes and unknown fields', () => {
    expect(anthropic(ok)).toEqual([]);
    expect(
      anthropic({
        ...ok,
        system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }],
        stream: true,
        metadata: { user_id: 'u' },
        temperature: 0.2,
        top_k: 5,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        foo: 1,
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'hi' }] },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: '…', signature: 's' },
              { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'ls' } },
            ],
          },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'ok' }] }],
          },
        ],
      }),
    ).toEqual([]);
    expect(errors('anthropicCreateMessageV1', { method: 'post', path: '/anthropic/v1/v1/messages', body: ok })).toEqual(
      [],
    );
  });

  it('leaves image/document blocks to the handler (400 unsupported_content)', () => {
    expect(anthropic({ ...ok, messages: [{ role: 'user', content: [{ type: 'image', source: {} }] }] })).toEqual([]);
  });

  it('rejects missing/zero max_tokens and a system role in messages', () => {
    expect(anthropic({ model: 'claude', messages: ok.messages })).toEqual([
      "/requestBody must have required property 'max_tokens'",
    ]);
    expect(anthropic({ ...ok, max_tokens: 0 })).toEqual(['/requestBody/max_tokens must be >= 1']);
    expect(anthropic({ ...ok, messages: [{ role: 'system', content: 'x' }] })).toHaveLength(1);
    expect(anthropic({ ...ok, messages: [] })).toHaveLength(1);
  });
});
