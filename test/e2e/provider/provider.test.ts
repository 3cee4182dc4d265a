/**
 * The fake provider on its own (no CLI): the formats the CLIs rely on, the markers, and the
 * recording of outbound attempts that the suite's internet check depends on.
 */
import http from 'node:http';
import net from 'node:net';
import { mockReply, startProvider, valueForSchema, type Provider } from '.';

let p: Provider;
beforeAll(async () => {
  p = await startProvider();
});
afterAll(async () => {
  await p.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${p.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function waitUntil(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `event:`/`data:` frames of an SSE body. */
function frames(text: string): { event?: string; data: any }[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((f) => f.trim())
    .map((f) => {
      const event = /^event: (.*)$/m.exec(f)?.[1];
      const data = /^data: (.*)$/m.exec(f)?.[1];
      return { event, data: JSON.parse(data!) };
    });
}

test('reply text: MOCK-REPLY and the first 12 hex digits of sha256', () => {
  expect(mockReply('hi')).toBe('MOCK-REPLY: 8f434346648f');
});

test('Anthropic SSE: the event order claude expects, the reply, recorded usage', async () => {
  const res = await post('/v1/messages?beta=true', {
    model: 'claude-x',
    stream: true,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: '<system-reminder>ctx' },
          { type: 'text', text: 'hi' },
        ],
      },
    ],
  });
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const f = frames(await res.text());
  expect(f.map((x) => x.event)).toEqual([
    'message_start',
    'content_block_start',
    'ping',
    'content_block_delta',
    'content_block_delta',
    'content_block_stop',
    'message_delta',
    'message_stop',
  ]);
  for (const x of f) expect(x.data.type).toBe(x.event);
  expect(
    f
      .filter((x) => x.event === 'content_block_delta')
      .map((x) => x.data.delta.text)
      .join(''),
  ).toBe(mockReply('hi'));
  const rec = p.requests[p.requests.length - 1]!;
  expect(rec).toMatchObject({ api: 'anthropic', userText: 'hi', status: 200 });
  expect(f[6]!.data.usage).toMatchObject(rec.usage!);
});

test('Anthropic tool call: Bash tool_use, then text once the tool result comes back', async () => {
  const tools = [{ name: 'Bash', input_schema: {} }];
  const first = await post('/v1/messages', {
    model: 'm',
    tools,
    messages: [{ role: 'user', content: 'do MOCK_TOOL' }],
  });
  const msg = (await first.json()) as any;
  expect(msg.stop_reason).toBe('tool_use');
  expect(msg.content[0]).toMatchObject({ type: 'tool_use', name: 'Bash', input: { command: 'echo mock-tool-ran' } });
  const second = await post('/v1/messages', {
    model: 'm',
    tools,
    messages: [
      { role: 'user', content: 'do MOCK_TOOL' },
      { role: 'assistant', content: msg.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: msg.content[0].id, content: 'mock-tool-ran' }] },
    ],
  });
  expect(((await second.json()) as any).content).toEqual([{ type: 'text', text: mockReply('do MOCK_TOOL') }]);
  expect(p.requests[p.requests.length - 1]!.toolResults).toEqual(['mock-tool-ran']);
});

test('OpenAI Responses SSE: numbered frames ending with response.completed and usage', async () => {
  const res = await post('/v1/responses', {
    model: 'gpt-x',
    stream: true,
    input: [
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: '<environment_context>x' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
    ],
  });
  const f = frames(await res.text());
  expect(f.map((x) => x.data.sequence_number)).toEqual(f.map((_, i) => i));
  expect(f[0]!.event).toBe('response.created');
  const done = f[f.length - 1]!.data;
  expect(done.type).toBe('response.completed');
  expect(done.response.output[0].content[0].text).toBe(mockReply('hi'));
  expect(Object.keys(done.response.usage).sort()).toEqual([
    'input_tokens',
    'input_tokens_details',
    'output_tokens',
    'output_tokens_details',
    'total_tokens',
  ]);
});

test('Gemini: the router call gets JSON that satisfies its schema, the stream gets the reply', async () => {
  const schema = {
    type: 'object',
    properties: {
      reasoning: { type: 'string' },
      model_choice: { type: 'string', enum: ['flash', 'pro'] },
      score: { type: 'number', minimum: 1 },
    },
  };
  expect(valueForSchema(schema)).toEqual({ reasoning: 'mock', model_choice: 'flash', score: 1 });
  const contents = [{ role: 'user', parts: [{ text: '<session_context>x' }, { text: 'hi' }] }];
  const router = await post('/v1beta/models/lite:generateContent', {
    contents,
    generationConfig: { responseMimeType: 'application/json', responseJsonSchema: schema },
  });
  const r = (await router.json()) as any;
  expect(JSON.parse(r.candidates[0].content.parts[0].text)).toEqual({
    reasoning: 'mock',
    model_choice: 'flash',
    score: 1,
  });
  const res = await post('/v1beta/models/flash:streamGenerateContent?alt=sse', { contents });
  const f = frames(await res.text());
  expect(f.map((x) => x.data.candidates[0].content.parts[0].text).join('')).toBe(mockReply('hi'));
  expect(f[f.length - 1]!.data.candidates[0].finishReason).toBe('STOP');
  expect(f[f.length - 1]!.data.usageMetadata.totalTokenCount).toBeGreaterThan(0);
});

test('MOCK_STATUS: the vendor error body with that status', async () => {
  const a = await post('/v1/messages', { model: 'm', messages: [{ role: 'user', content: 'x MOCK_STATUS=529' }] });
  expect(a.status).toBe(529);
  expect(await a.json()).toEqual({ type: 'error', error: { type: 'api_error', message: 'mock injected error 529' } });
  const g = await post('/v1beta/models/m:streamGenerateContent?alt=sse', {
    contents: [{ role: 'user', parts: [{ text: 'x MOCK_STATUS=400' }] }],
  });
  expect(g.status).toBe(400);
  expect(await g.json()).toEqual({
    error: { code: 400, message: 'mock injected error 400', status: 'INVALID_ARGUMENT' },
  });
});

test('MOCK_DELAY: the answer waits, and a client going away ends the wait', async () => {
  const text = 'slow MOCK_DELAY=60000';
  const req = http.request(`${p.url}/v1/responses`, { method: 'POST' });
  req.on('error', () => undefined);
  req.end(JSON.stringify({ stream: true, input: [{ role: 'user', content: text }] }));
  const find = () => p.requests.find((r) => r.userText === text);
  await waitUntil(() => find() !== undefined);
  expect(find()).toMatchObject({ delayed: true });
  await new Promise((r) => setTimeout(r, 300));
  expect(find()!.status).toBeUndefined();
  req.destroy();
  await waitUntil(() => find()!.aborted === true);
});

test('CONNECT and absolute-URI requests are refused with 403 and recorded', async () => {
  const before = p.outbound.length;
  const status = await new Promise<string>((resolve, reject) => {
    const s = net.connect(p.port, '127.0.0.1', () =>
      s.write('CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n'),
    );
    let buf = '';
    s.on('data', (d) => (buf += d.toString()));
    s.on('end', () => resolve(buf.split('\r\n')[0]!));
    s.on('error', reject);
  });
  expect(status).toBe('HTTP/1.1 403 Forbidden');
  const plain = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: p.port, path: 'http://example.com/x', method: 'GET' },
      (res) => {
        res.resume();
        resolve(res.statusCode!);
      },
    );
    req.on('error', reject);
    req.end();
  });
  expect(plain).toBe(403);
  expect(p.outbound.slice(before).map((o) => [o.method, o.target])).toEqual([
    ['CONNECT', 'api.example.com:443'],
    ['GET', 'http://example.com/x'],
  ]);
});
