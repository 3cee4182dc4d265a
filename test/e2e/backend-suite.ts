/**
 * The checks every backend goes through with its real CLI (one test file per backend calls
 * `backendSuite`). Each test uses its own prompt, so the provider's log shows exactly the calls the
 * CLI made for it; the reply the provider sends is `MOCK-REPLY: <hash of that prompt>`.
 */
import Anthropic from '@anthropic-ai/sdk';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { expectMatchesSpec, expectStreamMatchesSpec, expectValidSchema } from '../helpers/contract';
import {
  cliInfo,
  expectStatus,
  getJson,
  poll,
  postJson,
  processesIn,
  uniquePrompt,
  usageOf,
  startE2E,
  type Backend,
  type E2EEnv,
} from './helpers';
import { mockReply } from './provider';
import { firstShapeDifference } from './shape';

/** Direct invocations (clinvk's argv) and the captured sample each one's output must resemble. */
const RAW_RUNS: Record<Backend, { args: (prompt: string) => string[]; sample: string }[]> = {
  claude: [
    { args: (p) => ['-p', '--output-format', 'json', '--', p], sample: 'json.stdout' },
    {
      args: (p) => ['-p', '--output-format', 'stream-json', '--verbose', '--include-partial-messages', '--', p],
      sample: 'stream-json-partial.stdout',
    },
  ],
  codex: [{ args: (p) => ['exec', '--json', '--skip-git-repo-check', '--', p], sample: 'json.stdout' }],
  gemini: [
    { args: (p) => ['--output-format=json', '--skip-trust', `--prompt=${p}`], sample: 'json.stdout' },
    { args: (p) => ['--output-format=stream-json', '--skip-trust', `--prompt=${p}`], sample: 'stream-json.stdout' },
  ],
};

const SAMPLES = path.resolve(__dirname, '../fixtures/samples');
/** Jobs (runs detached from their request) are checked once this build has them. */
const JOBS = fs.existsSync(path.resolve(__dirname, '../../src/jobs'));

export interface BackendSuiteOptions {
  /** The status the provider-error check injects (gemini retries 5xx and 429 for minutes: a 4xx there). */
  errorStatus: number;
  /**
   * Least `server.request_timeout_secs` of the timeout check: room for the CLI's own start-up before
   * it calls the provider (raised on a loaded machine, see `startupMs`).
   */
  timeoutSecs: number;
  /** Approval mode under which the CLI runs its shell tool; undefined when the fake cannot drive a tool. */
  toolApproval?: 'default' | 'none';
  /** Tool name the CLI reports for its shell tool. */
  toolName?: string;
}

/** The documented NDJSON operation (streamPrompt); every line is checked against its event schema. */
async function streamPrompt(url: string, body: Record<string, unknown>) {
  const res = await fetch(`${url}/api/v1/prompt/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`expected HTTP 200, got ${res.status}: ${text.slice(0, 2000)}`);
  const parsed = expectStreamMatchesSpec('streamPrompt', 200, res.headers.get('content-type') ?? '', text);
  return { res, events: parsed.events.map((e) => e.data as Record<string, any>) };
}

/** Asserts the stream guarantees and returns the events. */
function checkStream(events: Record<string, any>[], backend: Backend): void {
  for (const ev of events) expect(ev.backend).toBe(backend);
  expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
  const terminal = events.filter((e) => e.type === 'done' || e.type === 'error');
  expect(terminal).toHaveLength(1);
  expect(events[events.length - 1]).toBe(terminal[0]);
}

function streamedText(events: Record<string, any>[]): string {
  return events
    .filter((e) => e.type === 'message')
    .map((e) => e.content.text as string)
    .join('');
}

export function backendSuite(backend: Backend, opts: BackendSuiteOptions): void {
  const info = cliInfo()[backend];
  const usable = info.ok;
  const check = usable ? test : test.skip;

  describe(`${backend} (${info.package}@${info.version}) through clinvk`, () => {
    let env: E2EEnv;
    /** Longest time seen from a request to the CLI's first provider call (start-up under this load). */
    let startupMs = 0;
    beforeAll(async () => {
      if (usable) env = await startE2E();
    }, 60_000);
    afterAll(async () => {
      await env?.close();
    });

    test('the CLI installs and runs on this Node', () => {
      if (!info.ok) throw new Error(`${info.package}@${info.version}: ${info.problem}`);
      expect(info.reported).toContain(info.version);
    });

    check('JSON prompt: reply, usage, exit code', async () => {
      const prompt = uniquePrompt('json prompt');
      const sent = Date.now();
      const res = await postJson(`${env.url}/api/v1/prompt`, { backend, prompt, workdir: env.workdir('json') });
      expectStatus(res, 200);
      expectMatchesSpec('executePrompt', 200, res.body);
      const data = res.body.data;
      expect(data.output).toBe(mockReply(prompt));
      expect(data.exit_code).toBe(0);
      expect(data.backend).toBe(backend);
      expect(data.session_id).toMatch(/^[0-9a-f]{32}$/);
      const calls = env.callsFor(prompt);
      expect(calls.length).toBeGreaterThan(0);
      expect(data.token_usage).toMatchObject(usageOf(calls));
      startupMs = Math.max(startupMs, calls[0]!.time - sent);
    });

    check('NDJSON stream: one terminal event, the reply, a gap-free sequence', async () => {
      const prompt = uniquePrompt('stream prompt');
      const { res, events } = await streamPrompt(env.url, { backend, prompt, workdir: env.workdir('stream') });
      expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      checkStream(events, backend);
      const last = events[events.length - 1]!;
      if (last.type !== 'done') throw new Error(`stream ended with ${JSON.stringify(last)}`);
      expect(last.content.exit_code).toBe(0);
      expect(streamedText(events)).toBe(mockReply(prompt));
      expect(events.filter((e) => e.type === 'init')).toHaveLength(1);
      const usage = events.filter((e) => e.type === 'token_usage');
      expect(usage).toHaveLength(1);
      expect(usage[0]!.content).toMatchObject(usageOf(env.callsFor(prompt)));
    });

    check('a second turn on the same session resumes the conversation', async () => {
      const workdir = env.workdir('session');
      const first = uniquePrompt('first turn');
      const r1 = await postJson(`${env.url}/api/v1/prompt`, { backend, prompt: first, workdir });
      expectStatus(r1, 200);
      const sessionId = r1.body.data.session_id as string;
      const second = uniquePrompt('second turn');
      const r2 = await postJson(`${env.url}/api/v1/prompt`, { session_id: sessionId, prompt: second });
      expectStatus(r2, 200);
      expectMatchesSpec('executePrompt', 200, r2.body);
      expect(r2.body.data.session_id).toBe(sessionId);
      expect(r2.body.data.output).toBe(mockReply(second));
      // The provider saw the first turn (question and answer) again with the second question.
      const calls = env.callsFor(second).filter((c) => c.reply === mockReply(second));
      expect(calls.length).toBeGreaterThan(0);
      const texts = calls[calls.length - 1]!.texts!.map((t) => t.text);
      expect(texts).toEqual(expect.arrayContaining([expect.stringContaining(first), mockReply(first)]));
      const session = await fetch(`${env.url}/api/v1/sessions/${sessionId}`).then((r) => r.json() as Promise<any>);
      expect(session.data.turn_count).toBe(2);
    });

    check('a provider error is a 502 backend_failed with the provider message', async () => {
      const prompt = uniquePrompt(`provider error MOCK_STATUS=${opts.errorStatus}`);
      const res = await postJson(`${env.url}/api/v1/prompt`, { backend, prompt, workdir: env.workdir('error') });
      expectStatus(res, 502);
      expectMatchesSpec('executePrompt', 502, res.body);
      expect(res.body.code).toBe('backend_failed');
      expect(res.body.data.exit_code).not.toBe(0);
      expect(res.body.error).toContain(`${backend} failed:`);
      // codex replaces 5xx texts with its own notice; the 4xx message arrives verbatim everywhere.
      if (opts.errorStatus < 500 || backend !== 'codex') expect(res.body.error).toContain('mock injected error');
      expect(env.provider.requests.some((r) => r.userText === prompt && r.status === opts.errorStatus)).toBe(true);
    });

    check('a run past request_timeout_secs is a 504 and leaves no process behind', async () => {
      // The deadline must fall while the CLI waits for the delayed answer, not during its start-up.
      const timeoutSecs = Math.max(opts.timeoutSecs, Math.ceil((3 * startupMs) / 1000) + 2);
      const short = await env.startClinvk({ server: { request_timeout_secs: timeoutSecs } });
      const workdir = env.workdir('timeout');
      const prompt = uniquePrompt('slow MOCK_DELAY=600000');
      const started = Date.now();
      const res = await postJson(`${short.url}/api/v1/prompt`, { backend, prompt, workdir });
      expectStatus(res, 504);
      expectMatchesSpec('executePrompt', 504, res.body);
      expect(res.body.code).toBe('backend_timeout');
      expect(res.body.data.exit_code).toBe(-1);
      expect(res.body.data.error).toBe(`timed out after ${timeoutSecs} s`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(timeoutSecs * 1000 - 100);
      // The CLI was waiting for the provider when the deadline passed, and its connection is gone now.
      const held = env.provider.requests.find((r) => r.userText === prompt && r.delayed);
      if (!held) throw new Error(`the CLI had not called the provider within the ${timeoutSecs} s deadline`);
      expect(await poll(() => held.aborted === true, 10_000)).toBe(true);
      await poll(() => processesIn(workdir).length === 0, 10_000);
      expect(processesIn(workdir)).toEqual([]);
      await short.stop();
    });

    if (opts.toolApproval) {
      check('a tool run: the CLI runs the shell tool and answers after its result', async () => {
        const prompt = uniquePrompt('use a tool MOCK_TOOL');
        const { events } = await streamPrompt(env.url, {
          backend,
          prompt,
          workdir: env.workdir('tool'),
          approval_mode: opts.toolApproval,
        });
        checkStream(events, backend);
        const last = events[events.length - 1]!;
        if (last.type !== 'done') throw new Error(`stream ended with ${JSON.stringify(last)}`);
        const use = events.find((e) => e.type === 'tool_use');
        const result = events.find((e) => e.type === 'tool_result');
        expect(use?.content).toMatchObject({ tool_name: opts.toolName });
        expect(JSON.stringify(use?.content.input)).toContain('echo mock-tool-ran');
        expect(result?.content).toMatchObject({ tool_id: use!.content.tool_id, is_error: false });
        expect(result?.content.output).toContain('mock-tool-ran');
        expect(streamedText(events)).toContain(mockReply(prompt));
        // The provider got the tool's output back in a follow-up call.
        const followUp = env.provider.requests.find(
          (r) => r.userText === prompt && r.toolResults?.some((t) => t.includes('mock-tool-ran')),
        );
        expect(followUp).toBeDefined();
      });
    }

    check('OpenAI SDK: streamed chat completion with usage', async () => {
      const prompt = uniquePrompt('openai sdk');
      const client = new OpenAI({ baseURL: `${env.url}/openai/v1`, apiKey: 'unused', maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: backend,
        messages: [{ role: 'user', content: prompt }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      let finish: string | null | undefined;
      for await (const chunk of stream) {
        expectValidSchema('OpenAIChatCompletionChunk', chunk);
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).toBe(mockReply(prompt));
      expect(finish).toBe('stop');
      const expected = usageOf(env.callsFor(prompt));
      expect(usage).toMatchObject({ prompt_tokens: expected.input_tokens, completion_tokens: expected.output_tokens });
    });

    check('Anthropic SDK: message with usage', async () => {
      const prompt = uniquePrompt('anthropic sdk');
      const client = new Anthropic({ baseURL: `${env.url}/anthropic`, apiKey: 'unused', maxRetries: 0 });
      const msg = await client.messages.create({
        model: backend,
        max_tokens: 1024,
        messages: [{ role: 'user', content: prompt }],
      });
      expect(msg.content).toEqual([{ type: 'text', text: mockReply(prompt) }]);
      expect(msg.stop_reason).toBe('end_turn');
      const expected = usageOf(env.callsFor(prompt));
      expect(msg.usage).toMatchObject(expected);
    });

    (usable && JOBS ? test : test.skip)(
      'a job: followed to the end, resumed after a sequence, continued on its session',
      async () => {
        const prompt = uniquePrompt('job');
        const created = await postJson(`${env.url}/api/v1/jobs`, {
          operation: 'prompt',
          request: { backend, prompt, workdir: env.workdir('job') },
        });
        expectStatus(created, 202);
        expectMatchesSpec('createJob', 202, created.body);
        const id = created.body.data.id as string;
        const read = async (query: string) => {
          const res = await fetch(`${env.url}/api/v1/jobs/${id}/events${query}`);
          const text = await res.text();
          if (res.status !== 200) throw new Error(`expected HTTP 200, got ${res.status}: ${text.slice(0, 2000)}`);
          return text
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, any>)
            .filter((e) => e.sequence !== 0); // heartbeats
        };
        const events = await read('');
        checkStream(events, backend);
        expect(events[events.length - 1]!.type).toBe('done');
        expect(streamedText(events)).toBe(mockReply(prompt));
        const k = events.length - 2;
        expect(await read(`?after=${k}`)).toEqual(events.slice(k));
        const job = await getJson(`${env.url}/api/v1/jobs/${id}?wait=30`);
        expectStatus(job, 200);
        expect(job.body.data).toMatchObject({
          status: 'succeeded',
          result: { exit_code: 0, output: mockReply(prompt) },
        });
        // A second job on the job's session resumes the CLI's conversation.
        const next = uniquePrompt('job turn 2');
        const second = await postJson(`${env.url}/api/v1/jobs`, {
          operation: 'prompt',
          request: { session_id: job.body.data.session_id, prompt: next },
        });
        expectStatus(second, 202);
        const done = await getJson(`${env.url}/api/v1/jobs/${second.body.data.id}?wait=60`);
        expect(done.body.data).toMatchObject({ status: 'succeeded', result: { output: mockReply(next) } });
        const texts = env.callsFor(next).flatMap((c) => c.texts!.map((t) => t.text));
        expect(texts).toEqual(expect.arrayContaining([expect.stringContaining(prompt)]));
      },
    );

    check('the raw output has the shape of the captured samples', async () => {
      const workdir = env.workdir('raw');
      for (const run of RAW_RUNS[backend]) {
        const prompt = uniquePrompt('raw output');
        const r = await env.runCli(backend, run.args(prompt), workdir);
        if (r.code !== 0)
          throw new Error(`${run.sample}: the CLI exited ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
        const sample = fs.readFileSync(path.join(SAMPLES, backend, run.sample), 'utf8');
        const diff = firstShapeDifference(sample, r.stdout);
        if (diff) throw new Error(`${backend} ${run.sample}: ${diff}`);
        expect(r.stdout).toContain(mockReply(prompt).slice('MOCK-REPLY: '.length));
      }
    });

    check('no CLI tried to reach the internet', () => {
      expect(env.provider.outbound).toEqual([]);
    });
  });
}
