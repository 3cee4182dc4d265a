/**
 * NDJSON streaming over a real socket (SPEC §4.1–§4.2): unified events per backend, no buffering,
 * exactly one terminal event, and process hygiene on disconnect, timeout, line limit and shutdown.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import request from 'supertest';
import { expectValidSchema, streamEventSchemaFor } from '../helpers/contract';
import { inProcessOnly, isAlive, makeTestServer, waitFor, type TestServer } from '../helpers/server';
import { lineArrivals, ndjson, readStream } from '../helpers/stream';

const reply = (prompt: string) =>
  `MOCK-REPLY: ${crypto.createHash('sha256').update(prompt).digest('hex').slice(0, 12)}`;

// output_format stream-json on /api/v1/prompt: the events of the schema the contract names
const EVENT_SCHEMA = streamEventSchemaFor('executePrompt', 200, 'application/x-ndjson');

function checkEnvelope(events: Record<string, any>[], backend: string, sessionId?: string) {
  events.forEach((e, i) => {
    expectValidSchema(EVENT_SCHEMA, e);
    expect(Object.keys(e)).toEqual(
      sessionId
        ? ['type', 'backend', 'session_id', 'timestamp', 'sequence', 'content']
        : ['type', 'backend', 'timestamp', 'sequence', 'content'],
    );
    expect(e.sequence).toBe(i + 1);
    expect(e.backend).toBe(backend);
    if (sessionId) expect(e.session_id).toBe(sessionId);
    expect(e.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
  const terminal = events.filter((e) => e.type === 'done' || e.type === 'error');
  expect(terminal).toHaveLength(1);
  expect(events.at(-1)).toBe(terminal[0]);
  expect(events.filter((e) => e.type === 'token_usage').length).toBeLessThanOrEqual(1);
}

const text = (events: Record<string, any>[]) =>
  events
    .filter((e) => e.type === 'message')
    .map((e) => e.content.text)
    .join('');

describe('stream-json', () => {
  let t: TestServer;
  beforeAll(async () => {
    // gemini may run with approval none (its tools are only offered then).
    t = await makeTestServer({ backends: { gemini: { max_approval_mode: 'none' } } });
  });
  afterAll(() => t.close());
  const url = () => `${t.url}/api/v1/prompt`;

  test('claude: init, progress, partial messages, usage, done; session updated after', async () => {
    const r = await readStream(url(), { backend: 'claude', prompt: 'hello stream', output_format: 'stream-json' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/x-ndjson');
    expect(r.headers.get('cache-control')).toBe('no-cache');
    expect(r.headers.get('x-accel-buffering')).toBe('no');
    expect(r.headers.get('content-length')).toBeNull();
    const sessionId = r.headers.get('x-clinvk-session-id')!;
    expect(sessionId).toMatch(/^[0-9a-f]{32}$/);
    const events = ndjson(r.body);
    checkEnvelope(events, 'claude', sessionId);
    expect(events[0]).toMatchObject({
      type: 'init',
      content: { backend_session_id: expect.any(String), working_dir: t.workdir },
    });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['init', 'message', 'token_usage', 'done']));
    expect(text(events)).toBe(reply('hello stream'));
    expect(events.filter((e) => e.type === 'message').every((e) => e.content.is_partial === true)).toBe(true);
    const done = events.at(-1)!;
    expect(done.content).toEqual({
      exit_code: 0,
      duration_ms: expect.any(Number),
      token_usage: events.find((e) => e.type === 'token_usage')!.content,
    });
    const s = await request(t.url).get(`/api/v1/sessions/${sessionId}`);
    expect(s.body.data).toMatchObject({ status: 'completed', turn_count: 1 });
  });

  test('codex failure ends with one error event carrying the provider message', async () => {
    const r = await readStream(url(), {
      backend: 'codex',
      prompt: 'x [E401]',
      output_format: 'stream-json',
      ephemeral: true,
    });
    const events = ndjson(r.body);
    checkEnvelope(events, 'codex');
    expect(events.map((e) => e.type)).toEqual(['init', 'progress', 'progress', 'error']);
    expect(events[1].content).toEqual({ stage: 'turn_started' });
    expect(events[2].content).toMatchObject({ stage: 'warning' });
    expect(events[3].content).toEqual({
      message: expect.stringMatching(/^codex failed: unexpected status 401 Unauthorized/),
      code: 'backend_failed',
      exit_code: 1,
    });
  });

  test('gemini: deltas, tool events with --approval-mode=yolo', async () => {
    const r = await readStream(url(), {
      backend: 'gemini',
      prompt: 'run [TOOL]',
      output_format: 'stream-json',
      ephemeral: true,
      approval_mode: 'none',
    });
    const events = ndjson(r.body);
    checkEnvelope(events, 'gemini');
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('init');
    expect(types).toEqual(expect.arrayContaining(['tool_use', 'tool_result', 'message', 'token_usage', 'done']));
    const use = events.find((e) => e.type === 'tool_use')!;
    const result = events.find((e) => e.type === 'tool_result')!;
    expect(result.content.tool_id).toBe(use.content.tool_id);
    expect(result.content.tool_name).toBe(use.content.tool_name);
  });

  test('dry run streams one message and done with the argv', async () => {
    const r = await readStream(url(), {
      backend: 'codex',
      prompt: 'hi',
      output_format: 'stream-json',
      dry_run: true,
      ephemeral: true,
    });
    const events = ndjson(r.body);
    checkEnvelope(events, 'codex');
    expect(events.map((e) => e.type)).toEqual(['message', 'done']);
    expect(events[1].content).toMatchObject({ exit_code: 0, command: expect.any(Array), working_dir: t.workdir });
  });

  test('errors before spawn are ordinary HTTP errors', async () => {
    const r = await readStream(url(), { backend: 'claude', prompt: '  ', output_format: 'stream-json' });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(JSON.parse(r.body).code).toBe('validation_error');
  });

  test('no buffering: lines written 400 ms apart arrive apart', async () => {
    const r = await readStream(url(), {
      backend: 'gemini',
      prompt: 'pace [SLOW:400]',
      output_format: 'stream-json',
      ephemeral: true,
    });
    const arrivals = lineArrivals(r.chunks).filter((a) => a.line.type === 'message');
    expect(arrivals.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < arrivals.length; i++) {
      expect(arrivals[i]!.at - arrivals[i - 1]!.at).toBeGreaterThanOrEqual(250);
    }
  });

  test('client disconnect kills the process group (incl. grandchildren) and records the turn', async () => {
    const ac = new AbortController();
    const started = t.starts().length;
    const pending = readStream(
      url(),
      { backend: 'claude', prompt: 'long [GRANDCHILD] [SLOW:1000]', output_format: 'stream-json' },
      { signal: ac.signal },
    ).catch(() => null);
    const start = await waitFor(() => t.starts()[started]);
    const grandchild = await waitFor(() => t.log().find((e) => e.event === 'grandchild' && e.parent === start.pid));
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    await pending;
    await waitFor(() => !isAlive(start.pid) && !isAlive(grandchild!.pid), 3000);
    const list = await request(t.url).get('/api/v1/sessions?limit=1');
    await waitFor(async () => {
      const l = await request(t.url).get('/api/v1/sessions?limit=1');
      return l.body.data.sessions[0]?.status === 'error';
    });
    expect(list.status).toBe(200);
    const latest = (await request(t.url).get('/api/v1/sessions?limit=1')).body.data.sessions[0];
    expect(latest).toMatchObject({ status: 'error', error_message: 'canceled: client disconnected' });
  });

  test('heartbeat: a progress event when nothing was written for stream_heartbeat_secs', async () => {
    const s = await makeTestServer({ server: { stream_heartbeat_secs: 1 } });
    try {
      const r = await readStream(`${s.url}/api/v1/prompt`, {
        backend: 'codex',
        prompt: 'quiet [SLEEP:2600]',
        output_format: 'stream-json',
        ephemeral: true,
      });
      const events = ndjson(r.body);
      checkEnvelope(events, 'codex');
      const beats = events.filter((e) => e.type === 'progress' && e.content.stage === 'heartbeat');
      expect(beats.length).toBeGreaterThanOrEqual(2);
      expect(events.at(-1)!.type).toBe('done');
    } finally {
      await s.close();
    }
  });

  inProcessOnly("watches one process's runner")(
    'backpressure: a client that stops reading is cut off after write_timeout_secs and the CLI killed',
    async () => {
      // A claude-compatible fake that streams many padded deltas as fast as it can.
      const fast = path.resolve(__dirname, '../../scripts/bench/fixtures/claude-stream');
      const s = await makeTestServer({ server: { write_timeout_secs: 1 }, backends: { claude: { command: fast } } });
      try {
        const socket = net.connect(s.server.port, '127.0.0.1');
        const body = JSON.stringify({
          backend: 'claude',
          prompt: 'lines=200000 interval=0 pad=2000',
          output_format: 'stream-json',
          ephemeral: true,
        });
        socket.write(
          `POST /api/v1/prompt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        socket.pause(); // never read: the server's socket buffer fills up
        socket.on('error', () => undefined);
        const runner = s.server.services.runner;
        await waitFor(() => runner.running.size === 1, 10_000);
        // Unpaced, the run would take minutes: it ends because the write timeout killed it.
        await waitFor(() => runner.running.size === 0, 20_000);
        socket.destroy();
        const health = await fetch(`${s.url}/health`);
        expect(health.status).toBe(200);
      } finally {
        await s.close();
      }
    },
  );

  test('an over-long line ends the stream with stream_line_too_long and kills the CLI', async () => {
    const s = await makeTestServer({ server: { max_output_line_bytes: 4096 } });
    try {
      const r = await readStream(`${s.url}/api/v1/prompt`, {
        backend: 'claude',
        prompt: 'x [LONGLINE:100000]',
        output_format: 'stream-json',
        ephemeral: true,
      });
      const events = ndjson(r.body);
      checkEnvelope(events, 'claude');
      expect(events.at(-1)).toMatchObject({
        type: 'error',
        content: { code: 'stream_line_too_long', message: 'backend output line exceeded 4096 bytes', exit_code: -1 },
      });
      const pid = s.starts()[0]!.pid;
      await waitFor(() => !isAlive(pid), 3000);
    } finally {
      await s.close();
    }
  });

  test('request timeout ends the stream with backend_timeout', async () => {
    // 3 s: room for the fake CLI (a Node script) to start on a loaded machine before the deadline.
    const s = await makeTestServer({ server: { request_timeout_secs: 3 } });
    try {
      const r = await readStream(`${s.url}/api/v1/prompt`, {
        backend: 'codex',
        prompt: 'x [SLOW:8000]',
        output_format: 'stream-json',
        ephemeral: true,
      });
      const events = ndjson(r.body);
      checkEnvelope(events, 'codex');
      expect(events.at(-1)).toMatchObject({ type: 'error', content: { code: 'backend_timeout', exit_code: -1 } });
      await waitFor(() => !isAlive(s.starts()[0]!.pid), 3000);
    } finally {
      await s.close();
    }
  });

  inProcessOnly('shuts one server process down')(
    'shutdown ends in-flight streams with shutting_down and leaves no process',
    async () => {
      const s = await makeTestServer({ server: { shutdown_timeout_secs: 1 } });
      try {
        const pending = readStream(`${s.url}/api/v1/prompt`, {
          backend: 'claude',
          prompt: 'x [SLOW:2000] [IGNORE_TERM]',
          output_format: 'stream-json',
          ephemeral: true,
        });
        const start = await waitFor(() => s.starts()[0]);
        await new Promise((r) => setTimeout(r, 200));
        await s.server.shutdown();
        const r = await pending;
        const events = ndjson(r.body);
        checkEnvelope(events, 'claude');
        expect(events.at(-1)).toMatchObject({ type: 'error', content: { code: 'shutting_down' } });
        expect(isAlive(start.pid)).toBe(false);
      } finally {
        await s.close();
      }
    },
  );
});
