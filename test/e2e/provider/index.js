'use strict';
/**
 * Fake model provider for the end-to-end suite: one HTTP server on 127.0.0.1 that answers the three
 * real CLIs (claude, codex, gemini) the way their vendors' APIs would, with deterministic replies.
 *
 *   Anthropic Messages API   POST /v1/messages (SSE when `stream: true`, else JSON), /v1/messages/count_tokens
 *   OpenAI Responses API     POST /v1/responses (SSE), GET /v1/models
 *   Gemini API               POST /v1beta/models/<m>:generateContent, :streamGenerateContent?alt=sse, :countTokens
 *   Proxy                    CONNECT and absolute-URI requests → 403, recorded as outbound attempts
 *
 * Reply text: `MOCK-REPLY: <first 12 hex digits of sha256(user text)>` (`hi` → `MOCK-REPLY: 8f434346648f`),
 * where the user text is the last real user text of the request (tool results and the CLIs' own
 * context blocks are skipped, so the reply after a tool call answers the original prompt).
 *
 * Markers inside the user text:
 *   MOCK_STATUS=<nnn>   answer with that HTTP status and the vendor's error body
 *   MOCK_DELAY=<ms>     wait that long before answering (the wait ends early when the client goes away)
 *   MOCK_TOOL           request one shell tool call (`echo mock-tool-ran`): claude `Bash` tool_use,
 *                       gemini `run_shell_command` functionCall (only when the CLI offers that tool),
 *                       answered with text once the tool result comes back; codex gets a plain reply
 *                       (its shell tool is a grammar-based custom tool)
 *
 * Plain CommonJS with the Node standard library only, so it also runs on its own:
 *   node test/e2e/provider/index.js [--port N]     (prints `listening on http://127.0.0.1:N`)
 */
const crypto = require('node:crypto');
const http = require('node:http');

const TOOL_COMMAND = 'echo mock-tool-ran';
const TOOL_DESCRIPTION = 'Run mock echo';

/** `MOCK-REPLY: <12 hex>` for a user text. */
function mockReply(text) {
  return `MOCK-REPLY: ${crypto.createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12)}`;
}

/** Markers found in a user text. */
function parseMarkers(text) {
  const status = /MOCK_STATUS=(\d{3})/.exec(text);
  const delay = /MOCK_DELAY=(\d+)/.exec(text);
  return {
    status: status ? Number(status[1]) : undefined,
    delayMs: delay ? Number(delay[1]) : undefined,
    tool: /MOCK_TOOL\b/.test(text),
  };
}

/** A deterministic token estimate (about 4 bytes per token, at least 1). */
function tokens(s) {
  return Math.max(1, Math.ceil(Buffer.byteLength(s, 'utf8') / 4));
}

// ---------------------------------------------------------------- request decoding per API

/** Anthropic: the last user message; tool results mark a follow-up after a tool call. */
function anthropicTurn(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const texts = [];
  let userText;
  let toolResults = [];
  const blocksOf = (m) => (typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content || []);
  for (const m of messages) {
    for (const b of blocksOf(m)) {
      if (b && b.type === 'text' && typeof b.text === 'string' && !b.text.startsWith('<system-reminder>')) {
        texts.push({ role: m.role, text: b.text });
      }
    }
  }
  for (let i = messages.length - 1; i >= 0 && userText === undefined; i--) {
    const m = messages[i];
    if (m.role !== 'user') continue;
    const blocks = blocksOf(m);
    if (i === messages.length - 1) toolResults = blocks.filter((b) => b && b.type === 'tool_result');
    const own = blocks.filter(
      (b) => b && b.type === 'text' && typeof b.text === 'string' && !b.text.startsWith('<system-reminder>'),
    );
    if (own.length) userText = own[own.length - 1].text;
  }
  return { userText: userText ?? '', texts, toolResults: toolResults.map((b) => toolResultText(b.content)) };
}

function toolResultText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c) => (c && typeof c.text === 'string' ? c.text : '')).join('\n');
  return JSON.stringify(content ?? null);
}

const CODEX_CONTEXT_PREFIXES = ['<environment_context', '<user_instructions', '<permissions', '<INSTRUCTIONS'];

/** OpenAI Responses: the last `input_text` of the last user message item. */
function responsesTurn(body) {
  const input = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : body.input || [];
  const texts = [];
  let userText;
  const partsOf = (item) =>
    typeof item.content === 'string' ? [{ type: 'input_text', text: item.content }] : item.content || [];
  const own = (p) =>
    p &&
    (p.type === 'input_text' || p.type === 'output_text') &&
    typeof p.text === 'string' &&
    !CODEX_CONTEXT_PREFIXES.some((x) => p.text.startsWith(x));
  for (const item of input) {
    if (!item || (item.type && item.type !== 'message')) continue;
    for (const p of partsOf(item)) if (own(p)) texts.push({ role: item.role, text: p.text });
  }
  for (let i = input.length - 1; i >= 0 && userText === undefined; i--) {
    const item = input[i];
    if (!item || item.role !== 'user') continue;
    const parts = partsOf(item).filter((p) => own(p) && p.type === 'input_text');
    if (parts.length) userText = parts[parts.length - 1].text;
  }
  const toolResults = input
    .filter((i) => i && (i.type === 'function_call_output' || i.type === 'custom_tool_call_output'))
    .map((i) => toolResultText(i.output));
  return { userText: userText ?? '', texts, toolResults };
}

/** Gemini: text parts of the last user content that are not thoughts or session context. */
function geminiTurn(body) {
  const contents = Array.isArray(body.contents) ? body.contents : [];
  const texts = [];
  let userText;
  let toolResults = [];
  const own = (p) => p && typeof p.text === 'string' && !p.thought && !p.text.startsWith('<session_context>');
  for (const c of contents) for (const p of c.parts || []) if (own(p)) texts.push({ role: c.role, text: p.text });
  for (let i = contents.length - 1; i >= 0 && userText === undefined; i--) {
    const c = contents[i];
    if (c.role !== 'user') continue;
    const parts = c.parts || [];
    if (i === contents.length - 1) toolResults = parts.filter((p) => p && p.functionResponse);
    const mine = parts.filter(own);
    if (mine.length) userText = mine.map((p) => p.text).join('');
  }
  return {
    userText: userText ?? '',
    texts,
    toolResults: toolResults.map((p) => JSON.stringify(p.functionResponse.response ?? null)),
  };
}

/** A JSON value satisfying a (Gemini/OpenAPI or JSON) schema: first enum value, minimal shapes. */
function valueForSchema(schema, depth = 0) {
  if (!schema || typeof schema !== 'object' || depth > 8) return null;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  if (schema.const !== undefined) return schema.const;
  for (const k of ['anyOf', 'oneOf'])
    if (Array.isArray(schema[k]) && schema[k].length) return valueForSchema(schema[k][0], depth + 1);
  const type = String(Array.isArray(schema.type) ? schema.type[0] : schema.type || 'object').toLowerCase();
  switch (type) {
    case 'object': {
      const out = {};
      for (const [k, v] of Object.entries(schema.properties || {})) out[k] = valueForSchema(v, depth + 1);
      return out;
    }
    case 'array':
      return schema.minItems ? [valueForSchema(schema.items, depth + 1)] : [];
    case 'string':
      return 'mock';
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

// ---------------------------------------------------------------- the server

/**
 * Starts the provider. Options: `port` (default 0 = any free port), `host` (default 127.0.0.1).
 * Resolves to `{url, port, requests, outbound, unhandled, close()}`; `requests` is the log of model
 * calls (api, path, model, userText, texts, toolResults, markers, reply, status, usage, time).
 */
async function startProvider(opts = {}) {
  const requests = [];
  const outbound = [];
  const unhandled = [];
  const sockets = new Set();
  let seq = 0;
  const nextId = (prefix) => `${prefix}${String(++seq).padStart(6, '0')}`;

  const server = http.createServer((req, res) => {
    if (!req.url.startsWith('/')) {
      // An absolute-URI request: a plain-HTTP proxy request to some other host.
      outbound.push({
        method: req.method,
        target: req.url,
        userAgent: req.headers['user-agent'] || '',
        time: Date.now(),
      });
      req.resume();
      res.writeHead(403, { 'content-type': 'text/plain' }).end('outbound traffic is not allowed in the e2e suite\n');
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = {};
      const raw = Buffer.concat(chunks).toString('utf8');
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = {};
        }
      }
      handle(req, res, body).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(err && err.stack ? err.stack : err) } }));
      });
    });
  });
  server.on('connect', (req, socket) => {
    outbound.push({ method: 'CONNECT', target: req.url, userAgent: req.headers['user-agent'] || '', time: Date.now() });
    socket.on('error', () => {});
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  /** Waits `ms` or until the client disconnects; resolves to false when it went away. */
  function delay(req, res, ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        res.off('close', onClose);
        resolve(true);
      }, ms);
      const onClose = () => {
        clearTimeout(timer);
        resolve(false);
      };
      res.on('close', onClose);
    });
  }

  async function handle(req, res, body) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const p = url.pathname;
    const json = (status, obj) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };

    if (req.method === 'POST' && /^\/v1\/messages\/count_tokens$/.test(p)) {
      requests.push({ api: 'anthropic', kind: 'count_tokens', path: p, time: Date.now() });
      return json(200, { input_tokens: tokens(JSON.stringify(body)) });
    }
    if (req.method === 'POST' && p === '/v1/messages') return anthropic(req, res, body, url);
    if (req.method === 'POST' && p === '/v1/responses') return responses(req, res, body);
    if (req.method === 'GET' && p === '/v1/models') {
      requests.push({ api: 'openai', kind: 'models', path: p, time: Date.now() });
      return json(200, { object: 'list', data: [], models: [] });
    }
    const g = /^\/v1(?:beta|alpha)?\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/.exec(p);
    if (req.method === 'POST' && g) {
      if (g[2] === 'countTokens') {
        requests.push({ api: 'gemini', kind: 'count_tokens', path: p, model: g[1], time: Date.now() });
        return json(200, { totalTokens: tokens(JSON.stringify(body)) });
      }
      return gemini(req, res, body, g[1], g[2] === 'streamGenerateContent');
    }
    unhandled.push({ method: req.method, path: req.url, time: Date.now() });
    return json(404, { error: { message: `fake provider: no route for ${req.method} ${p}` } });
  }

  /** Common pre-answer steps: record, delay, injected error. Returns the record or undefined when done. */
  async function begin(req, res, rec, errorBody) {
    requests.push(rec);
    if (rec.markers.delayMs) {
      rec.delayed = true;
      if (!(await delay(req, res, rec.markers.delayMs))) {
        rec.aborted = true;
        return undefined;
      }
    }
    if (rec.markers.status && rec.markers.status >= 400) {
      rec.status = rec.markers.status;
      res.writeHead(rec.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(errorBody(rec.status)));
      return undefined;
    }
    rec.status = 200;
    return rec;
  }

  // ---------------------------------------------------------------- Anthropic Messages
  async function anthropic(req, res, body) {
    const turn = anthropicTurn(body);
    const markers = parseMarkers(turn.userText);
    const model = String(body.model || 'claude-mock');
    const offersBash = Array.isArray(body.tools) && body.tools.some((t) => t && t.name === 'Bash');
    const callTool = markers.tool && offersBash && turn.toolResults.length === 0;
    const reply = mockReply(turn.userText);
    const input = tokens(JSON.stringify(body));
    const rec = {
      api: 'anthropic',
      kind: 'message',
      path: req.url,
      model,
      stream: body.stream === true,
      ...turn,
      markers,
      reply: callTool ? undefined : reply,
      toolCall: callTool ? TOOL_COMMAND : undefined,
      time: Date.now(),
    };
    const go = await begin(req, res, rec, (status) => ({
      type: 'error',
      error: {
        type: status === 401 ? 'authentication_error' : status >= 500 ? 'api_error' : 'invalid_request_error',
        message: `mock injected error ${status}`,
      },
    }));
    if (!go) return;
    const id = nextId('msg_mock');
    const toolId = nextId('toolu_mock');
    const output = callTool ? tokens(TOOL_COMMAND) + 5 : tokens(reply);
    rec.usage = { input_tokens: input, output_tokens: output };
    const usage = {
      input_tokens: input,
      output_tokens: output,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
    const stopReason = callTool ? 'tool_use' : 'end_turn';
    const toolInput = { command: TOOL_COMMAND, description: TOOL_DESCRIPTION };
    if (body.stream !== true) {
      return json(res, {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: callTool
          ? [{ type: 'tool_use', id: toolId, name: 'Bash', input: toolInput }]
          : [{ type: 'text', text: reply }],
        stop_reason: stopReason,
        stop_sequence: null,
        usage,
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
    send('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    });
    if (callTool) {
      send('content_block_start', {
        index: 0,
        content_block: { type: 'tool_use', id: toolId, name: 'Bash', input: {} },
      });
      send('ping', {});
      send('content_block_delta', {
        index: 0,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(toolInput) },
      });
    } else {
      send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      send('ping', {});
      send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'MOCK-REPLY: ' } });
      send('content_block_delta', {
        index: 0,
        delta: { type: 'text_delta', text: reply.slice('MOCK-REPLY: '.length) },
      });
    }
    send('content_block_stop', { index: 0 });
    send('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage });
    send('message_stop', {});
    res.end();
  }

  function json(res, obj) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  }

  // ---------------------------------------------------------------- OpenAI Responses
  async function responses(req, res, body) {
    const turn = responsesTurn(body);
    const markers = parseMarkers(turn.userText);
    const model = String(body.model || 'gpt-mock');
    const reply = mockReply(turn.userText);
    const input = tokens(JSON.stringify(body));
    const rec = {
      api: 'openai',
      kind: 'response',
      path: req.url,
      model,
      stream: body.stream === true,
      ...turn,
      markers,
      reply,
      time: Date.now(),
    };
    const go = await begin(req, res, rec, (status) => ({
      error: {
        message: `mock injected error ${status}`,
        type: status >= 500 ? 'server_error' : 'invalid_request_error',
        param: null,
        code: String(status),
      },
    }));
    if (!go) return;
    const output = tokens(reply);
    const usage = {
      input_tokens: input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: input + output,
    };
    rec.usage = { input_tokens: input, output_tokens: output };
    const respId = nextId('resp_mock');
    const itemId = nextId('msg_mock');
    const created = Math.floor(Date.now() / 1000);
    const base = { id: respId, object: 'response', created_at: created, model, output: [], usage: null, error: null };
    const part = { type: 'output_text', text: reply, annotations: [] };
    const item = { id: itemId, type: 'message', status: 'completed', role: 'assistant', content: [part] };
    if (body.stream !== true) return json(res, { ...base, status: 'completed', output: [item], usage });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let n = 0;
    const send = (type, data) =>
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: n++, ...data })}\n\n`);
    send('response.created', { response: { ...base, status: 'in_progress' } });
    send('response.in_progress', { response: { ...base, status: 'in_progress' } });
    send('response.output_item.added', {
      output_index: 0,
      item: { id: itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
    const at = { item_id: itemId, output_index: 0, content_index: 0 };
    send('response.content_part.added', { ...at, part: { type: 'output_text', text: '', annotations: [] } });
    send('response.output_text.delta', { ...at, delta: 'MOCK-REPLY: ' });
    send('response.output_text.delta', { ...at, delta: reply.slice('MOCK-REPLY: '.length) });
    send('response.output_text.done', { ...at, text: reply });
    send('response.content_part.done', { ...at, part });
    send('response.output_item.done', { output_index: 0, item });
    send('response.completed', { response: { ...base, status: 'completed', output: [item], usage } });
    res.end();
  }

  // ---------------------------------------------------------------- Gemini
  async function gemini(req, res, body, model, stream) {
    const turn = geminiTurn(body);
    const markers = parseMarkers(turn.userText);
    const cfg = body.generationConfig || {};
    const structured = cfg.responseMimeType === 'application/json';
    const schema = cfg.responseJsonSchema || cfg.responseSchema;
    const declared = [];
    for (const t of body.tools || []) for (const f of t.functionDeclarations || []) declared.push(f.name);
    const callTool =
      !structured && markers.tool && declared.includes('run_shell_command') && turn.toolResults.length === 0;
    const reply = structured ? JSON.stringify(valueForSchema(schema)) : mockReply(turn.userText);
    const input = tokens(JSON.stringify(body));
    const rec = {
      api: 'gemini',
      kind: structured ? 'structured' : 'content',
      path: req.url,
      model,
      stream,
      ...turn,
      // An injected status acts on the call that answers the user, not on the router's structured call.
      markers: structured ? { ...markers, status: undefined } : markers,
      reply: callTool ? undefined : reply,
      toolCall: callTool ? TOOL_COMMAND : undefined,
      time: Date.now(),
    };
    const errorBody = (status) => ({
      error: {
        code: status,
        message: `mock injected error ${status}`,
        status:
          {
            400: 'INVALID_ARGUMENT',
            401: 'UNAUTHENTICATED',
            403: 'PERMISSION_DENIED',
            404: 'NOT_FOUND',
            429: 'RESOURCE_EXHAUSTED',
            500: 'INTERNAL',
            503: 'UNAVAILABLE',
          }[status] || 'UNKNOWN',
      },
    });
    const go = await begin(req, res, rec, errorBody);
    if (!go) return;
    const output = callTool ? tokens(TOOL_COMMAND) + 5 : tokens(reply);
    const usageMetadata = { promptTokenCount: input, candidatesTokenCount: output, totalTokenCount: input + output };
    go.usage = { input_tokens: input, output_tokens: output };
    const candidate = (parts, finish) => ({
      content: { role: 'model', parts },
      ...(finish ? { finishReason: 'STOP' } : {}),
      index: 0,
    });
    const modelVersion = model;
    if (!stream) {
      const parts = callTool
        ? [
            {
              functionCall: {
                name: 'run_shell_command',
                args: { command: TOOL_COMMAND, description: TOOL_DESCRIPTION },
              },
            },
          ]
        : [{ text: reply }];
      return json(res, {
        candidates: [candidate(parts, true)],
        usageMetadata,
        modelVersion,
        responseId: nextId('mockresp'),
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const frame = (obj) => res.write(`data: ${JSON.stringify(obj)}\r\n\r\n`);
    if (callTool) {
      frame({
        candidates: [
          candidate(
            [
              {
                functionCall: {
                  name: 'run_shell_command',
                  args: { command: TOOL_COMMAND, description: TOOL_DESCRIPTION },
                },
              },
            ],
            true,
          ),
        ],
        usageMetadata,
        modelVersion,
      });
    } else if (structured) {
      frame({ candidates: [candidate([{ text: reply }], true)], usageMetadata, modelVersion });
    } else {
      frame({ candidates: [candidate([{ text: 'MOCK-REPLY: ' }], false)], modelVersion });
      frame({
        candidates: [candidate([{ text: reply.slice('MOCK-REPLY: '.length) }], true)],
        usageMetadata,
        modelVersion,
      });
    }
    res.end();
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    outbound,
    unhandled,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

module.exports = { startProvider, mockReply, parseMarkers, valueForSchema, TOOL_COMMAND };

if (require.main === module) {
  const i = process.argv.indexOf('--port');
  startProvider({ port: i > 0 ? Number(process.argv[i + 1]) : 0 }).then((p) => {
    process.stdout.write(`listening on ${p.url}\n`);
    const dump = () => {
      process.stdout.write(
        `${JSON.stringify({ requests: p.requests, outbound: p.outbound, unhandled: p.unhandled })}\n`,
      );
      process.exit(0);
    };
    process.on('SIGINT', dump);
    process.on('SIGTERM', dump);
  });
}
