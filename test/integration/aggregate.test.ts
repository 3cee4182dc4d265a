/**
 * POST /api/v1/parallel, /api/v1/chain and /api/v1/compare against the fake CLIs (SPEC §3.4–§3.6,
 * §7.9, §9 rows 38–41): validation before anything runs, request order, real concurrency and its
 * limits (measured from the fakes' start/end log), fail_fast, chain substitution and working
 * directories, dry runs, deadlines, the server-wide limiter and queue, and process hygiene when the
 * client goes away.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import { startServer } from '../../src/http/server';
import { createLogger } from '../../src/observability/logger';
import { expectMatchesSpec } from '../helpers/contract';
import {
  describeInProcessOnly,
  FAKE_BIN,
  inProcessOnly,
  isAlive,
  isCleanupArgv,
  makeTestApp,
  makeTestEnv,
  makeTestServer,
  notOnCluster,
  waitFor,
  type FakeLogEntry,
  type TestApp,
  type TestEnv,
} from '../helpers/server';

// a cluster API node checks working directories as text; their existence is checked by the worker, so a
// missing one is that item's error after the queue, not a 400 for the whole request (docs/cluster.md)
const WORKDIR_ON_WORKER = 'a workdir is checked on the worker, after the queue';

type Body = Record<string, any>;

const reply = (prompt: string) =>
  `MOCK-REPLY: ${crypto.createHash('sha256').update(prompt).digest('hex').slice(0, 12)}`;
const CLAUDE = path.join(FAKE_BIN, 'claude');
const CODEX = path.join(FAKE_BIN, 'codex');
const GEMINI = path.join(FAKE_BIN, 'gemini');
const CLAUDE_USAGE = { input_tokens: 1650, output_tokens: 6, cached_tokens: 0 };
const CODEX_USAGE = { input_tokens: 14962, output_tokens: 6, cached_tokens: 0, reasoning_tokens: 0 };
const TASK_KEYS = [
  'backend',
  'model',
  'exit_code',
  'duration_ms',
  'output',
  'error',
  'error_code',
  'token_usage',
  'command',
  'working_dir',
];

const OPS: Record<string, string> = {
  '/api/v1/parallel': 'executeParallel',
  '/api/v1/chain': 'executeChain',
  '/api/v1/compare': 'executeCompare',
  '/api/v1/prompt': 'executePrompt',
};

async function post(t: TestApp, p: string, body: unknown) {
  const res = await request(t.app)
    .post(p)
    .send(body as object);
  expectMatchesSpec(OPS[p]!, res.status, res.body);
  return res;
}

/** POST over a real socket with fetch (concurrency, disconnects). */
async function fetchPost(
  url: string,
  p: string,
  body: unknown,
  opts: { signal?: AbortSignal; headers?: Record<string, string> } = {},
) {
  const r = await fetch(`${url}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...opts.headers },
    body: JSON.stringify(body),
    signal: opts.signal,
  });
  const json = (await r.json()) as Body;
  expectMatchesSpec(OPS[p]!, r.status, json);
  return { status: r.status, headers: r.headers, body: json };
}

/**
 * Executions only: gemini's ephemeral clean-up runs without a slot, and the one-off `--version`
 * probes of the availability check are not executions either.
 */
function runs(log: FakeLogEntry[]): FakeLogEntry[] {
  return log.filter((e) => e.event === 'start' && !isCleanupArgv(e.argv) && e.argv?.[0] !== '--version');
}

/** `end` lines of executions (see `runs`). */
function runEnds(log: FakeLogEntry[]): FakeLogEntry[] {
  const pids = new Set(runs(log).map((e) => e.pid));
  return log.filter((e) => e.event === 'end' && pids.has(e.pid));
}

/** The largest number of fake CLI runs alive at the same moment, from the start/end log lines. */
function maxOverlap(log: FakeLogEntry[]): number {
  const started = new Set(runs(log).map((e) => e.pid));
  const points: [number, number][] = [];
  for (const e of log) {
    if (!started.has(e.pid)) continue;
    if (e.event === 'start') points.push([e.time!, 1]);
    if (e.event === 'end') points.push([e.time!, -1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of points) {
    cur += d;
    max = Math.max(max, cur);
  }
  return max;
}

/** Ids of the stored session records. */
const sessionRecords = (t: TestEnv) => t.storedSessionIds();
const lastArg = (e: FakeLogEntry) => e.argv![e.argv!.length - 1]!;

/** 400 validation_error naming `detailPath`, and no CLI was started. */
async function expectValidationError(t: TestApp, path: string, body: unknown, detailPath: string): Promise<void> {
  const before = t.log().length;
  const res = await post(t, path, body);
  expect(res.status).toBe(400);
  expect(res.body.code).toBe('validation_error');
  expect(res.body.details.map((d: Body) => d.path)).toContain(detailPath);
  expect(t.log().length).toBe(before);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The aggregate of a three-step chain stopped in its second step: step 1 (claude, named `name`,
 * prompt `prompt`) finished, step 2 (codex) was ended with `error` / `errorCode`, step 3 never ran.
 */
function stoppedAtStep2(name: string, prompt: string, error: string, errorCode: string) {
  return {
    total_steps: 3,
    completed_steps: 1,
    failed_step: 2,
    total_duration_ms: expect.any(Number),
    results: [
      {
        step: 1,
        name,
        backend: 'claude',
        exit_code: 0,
        duration_ms: expect.any(Number),
        output: reply(prompt),
        token_usage: CLAUDE_USAGE,
      },
      {
        step: 2,
        backend: 'codex',
        exit_code: -1,
        duration_ms: expect.any(Number),
        output: '',
        error,
        error_code: errorCode,
      },
    ],
  };
}

function expectKeyOrder(item: Body, first: string[] = []) {
  const keys = Object.keys(item);
  const expected = [...first, ...TASK_KEYS].filter((k) => keys.includes(k));
  expect(keys).toEqual(expected);
}

// =================================================================================== parallel

describe('POST /api/v1/parallel', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ backends: { gemini: { enabled: false } } });
  });
  afterAll(() => t.close());

  test('results in request order, counts, ephemeral argv, no sessions', async () => {
    const before = t.starts().length;
    const res = await post(t, '/api/v1/parallel', {
      tasks: [
        { backend: 'claude', prompt: '[SLEEP:700] slow first', metadata: { k: 'v' }, ephemeral: false },
        { backend: 'codex', prompt: 'fast second', model: 'fast' },
        { backend: 'claude', prompt: '[E400] third fails', output_format: 'text' },
      ],
      max_parallel: 3,
    });
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(Object.keys(data)).toEqual([
      'total_tasks',
      'completed',
      'failed',
      'canceled',
      'total_duration_ms',
      'results',
    ]);
    expect(data).toEqual({
      total_tasks: 3,
      completed: 2,
      failed: 1,
      canceled: 0,
      total_duration_ms: expect.any(Number),
      results: [
        {
          backend: 'claude',
          exit_code: 0,
          duration_ms: expect.any(Number),
          output: reply('[SLEEP:700] slow first'),
          token_usage: CLAUDE_USAGE,
        },
        {
          backend: 'codex',
          model: 'gpt-5.5',
          exit_code: 0,
          duration_ms: expect.any(Number),
          output: reply('fast second'),
          token_usage: { ...CODEX_USAGE, input_tokens: 6895 },
        },
        {
          backend: 'claude',
          exit_code: 1,
          duration_ms: expect.any(Number),
          output: expect.any(String),
          error: 'API Error: 400 mock injected error 400',
          error_code: 'backend_failed',
          token_usage: { input_tokens: 0, output_tokens: 0, cached_tokens: 0 },
        },
      ],
    });
    for (const r of data.results) expectKeyOrder(r);
    // the slow first task finished last: order is the request's, not the completion order
    const starts = t.starts().slice(before);
    expect(starts).toHaveLength(3);
    const byPrompt = new Map(starts.map((s) => [lastArg(s), s]));
    expect(byPrompt.get('[SLEEP:700] slow first')!.argv).toEqual([
      '-p',
      '--output-format',
      'json',
      '--no-session-persistence',
      '--',
      '[SLEEP:700] slow first',
    ]);
    expect(byPrompt.get('fast second')!.argv).toEqual([
      'exec',
      '--json',
      '--skip-git-repo-check',
      '-m',
      'gpt-5.5',
      '--ephemeral',
      '--',
      'fast second',
    ]);
    const ends = t.log().filter((e) => e.event === 'end');
    const endOf = (p: string) => ends.find((e) => e.pid === byPrompt.get(p)!.pid)!.time!;
    expect(endOf('[SLEEP:700] slow first')).toBeGreaterThan(endOf('fast second'));
    expect(await sessionRecords(t)).toEqual([]);
  });

  test('tasks start in request order (max_parallel 1 runs them one by one)', async () => {
    const before = t.log().length;
    const prompts = ['one', 'two', 'three', 'four'];
    const res = await post(t, '/api/v1/parallel', {
      tasks: prompts.map((p) => ({ backend: 'claude', prompt: p })),
      max_parallel: 1,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.results.map((r: Body) => r.output)).toEqual(prompts.map(reply));
    const log = t.log().slice(before);
    expect(runs(log).map(lastArg)).toEqual(prompts);
    expect(maxOverlap(log)).toBe(1);
  });

  test('real concurrency: default max_parallel is parallel.max_workers (3)', async () => {
    const before = t.log().length;
    const tasks = Array.from({ length: 6 }, (_, i) => ({
      backend: i % 2 ? 'codex' : 'claude',
      prompt: `[SLEEP:1000] w${i}`,
    }));
    const res = await post(t, '/api/v1/parallel', { tasks });
    expect(res.status).toBe(200);
    expect(res.body.data.completed).toBe(6);
    const overlap = maxOverlap(t.log().slice(before));
    expect(overlap).toBeGreaterThanOrEqual(2);
    expect(overlap).toBeLessThanOrEqual(3);
  });

  test('an unavailable backend is a per-task failure, not a request failure', async () => {
    const before = t.starts().length;
    const res = await post(t, '/api/v1/parallel', {
      tasks: [
        { backend: 'gemini', prompt: 'nope' },
        { backend: 'claude', prompt: 'yes' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      total_tasks: 2,
      completed: 1,
      failed: 1,
      canceled: 0,
      total_duration_ms: expect.any(Number),
      results: [
        {
          backend: 'gemini',
          exit_code: -1,
          duration_ms: 0,
          output: '',
          error: 'backend "gemini" is disabled',
          error_code: 'backend_unavailable',
        },
        {
          backend: 'claude',
          exit_code: 0,
          duration_ms: expect.any(Number),
          output: reply('yes'),
          token_usage: CLAUDE_USAGE,
        },
      ],
    });
    expect(t.starts().length - before).toBe(1);
  });

  test('fail_fast: waiting tasks are not started, running ones are killed', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/parallel', {
      tasks: [
        { backend: 'claude', prompt: '[SLEEP:800] [E400] boom' },
        { backend: 'codex', prompt: '[SLEEP:20000] long' },
        { backend: 'claude', prompt: 'never 1' },
        { backend: 'codex', prompt: 'never 2' },
      ],
      max_parallel: 2,
      fail_fast: true,
    });
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(data).toMatchObject({ total_tasks: 4, completed: 0, failed: 1, canceled: 3 });
    expect(data.results[0]).toMatchObject({ backend: 'claude', exit_code: 1, error_code: 'backend_failed' });
    expect(data.results[1]).toEqual({
      backend: 'codex',
      exit_code: -1,
      duration_ms: expect.any(Number),
      output: '',
      error: 'canceled (fail_fast)',
      error_code: 'canceled',
    });
    expect(data.results[1].duration_ms).toBeGreaterThan(0);
    expect(data.results[1].duration_ms).toBeLessThan(15000);
    for (const [i, backend] of [
      [2, 'claude'],
      [3, 'codex'],
    ] as const) {
      expect(data.results[i]).toEqual({
        backend,
        exit_code: -1,
        duration_ms: 0,
        output: '',
        error: 'canceled (fail_fast)',
        error_code: 'canceled',
      });
      expect(Object.keys(data.results[i])).toEqual([
        'backend',
        'exit_code',
        'duration_ms',
        'output',
        'error',
        'error_code',
      ]);
    }
    // Both were spawned together: their start lines may be logged in either order.
    const started = runs(t.log().slice(before));
    expect(started.map(lastArg).sort()).toEqual(['[SLEEP:20000] long', '[SLEEP:800] [E400] boom']);
    const long = started.find((e) => lastArg(e) === '[SLEEP:20000] long')!;
    await waitFor(() => !isAlive(long.pid), 5000);
  });

  test('without fail_fast a failure does not stop the others', async () => {
    const res = await post(t, '/api/v1/parallel', {
      tasks: [
        { backend: 'claude', prompt: '[E500] bad' },
        { backend: 'claude', prompt: 'fine' },
      ],
      max_parallel: 1,
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ completed: 1, failed: 1, canceled: 0 });
    expect(res.body.data.results[1].output).toBe(reply('fine'));
  });

  test('request-level dry_run renders every task and runs nothing', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/parallel', {
      tasks: [
        { backend: 'claude', prompt: 'a', model: 'fast', max_turns: 2 },
        { backend: 'codex', prompt: 'b', workdir: t.workdir },
        { backend: 'gemini', prompt: 'c' },
      ],
      dry_run: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      total_tasks: 3,
      completed: 2,
      failed: 1,
      canceled: 0,
      total_duration_ms: expect.any(Number),
      results: [
        {
          backend: 'claude',
          model: 'haiku',
          exit_code: 0,
          duration_ms: 0,
          output: `Would execute: ${CLAUDE} [-p --output-format json --model haiku --max-turns 2 --no-session-persistence -- a]`,
          command: [
            CLAUDE,
            '-p',
            '--output-format',
            'json',
            '--model',
            'haiku',
            '--max-turns',
            '2',
            '--no-session-persistence',
            '--',
            'a',
          ],
          working_dir: t.workdir,
        },
        {
          backend: 'codex',
          exit_code: 0,
          duration_ms: 0,
          output: `Would execute: ${CODEX} [exec --json --skip-git-repo-check --ephemeral -- b]`,
          command: [CODEX, 'exec', '--json', '--skip-git-repo-check', '--ephemeral', '--', 'b'],
          working_dir: t.workdir,
        },
        {
          backend: 'gemini',
          exit_code: -1,
          duration_ms: 0,
          output: '',
          error: 'backend "gemini" is disabled',
          error_code: 'backend_unavailable',
        },
      ],
    });
    for (const r of res.body.data.results) expectKeyOrder(r);
    expect(t.log().length).toBe(before);
    expect(await sessionRecords(t)).toEqual([]);
  });

  // §9 row 38 (schema) and the semantic checks of every task
  test.each([
    ['tasks: []', { tasks: [] }, 'body.tasks'],
    ['101 tasks', { tasks: Array.from({ length: 101 }, () => ({ backend: 'claude', prompt: 'x' })) }, 'body.tasks'],
    ['max_parallel 0', { tasks: [{ backend: 'claude', prompt: 'x' }], max_parallel: 0 }, 'body.max_parallel'],
    ['max_parallel 65', { tasks: [{ backend: 'claude', prompt: 'x' }], max_parallel: 65 }, 'body.max_parallel'],
    ['a task with dry_run', { tasks: [{ backend: 'claude', prompt: 'x', dry_run: true }] }, 'body.tasks[0].dry_run'],
    [
      'a task with session_id',
      { tasks: [{ backend: 'claude', prompt: 'x', session_id: 'abc' }] },
      'body.tasks[0].session_id',
    ],
    [
      'stream-json output',
      {
        tasks: [
          { backend: 'claude', prompt: 'x' },
          { backend: 'claude', prompt: 'y', output_format: 'stream-json' },
        ],
      },
      'body.tasks[1].output_format',
    ],
    ['missing prompt', { tasks: [{ backend: 'claude' }] }, 'body.tasks[0].prompt'],
    [
      'an invalid metadata key',
      { tasks: [{ backend: 'claude', prompt: 'x', metadata: { '../x': 'v' } }] },
      'body.tasks[0].metadata',
    ],
  ])('row 38: %s → 400, nothing runs', async (_name, body, detailPath) => {
    await expectValidationError(t, '/api/v1/parallel', body, detailPath);
  });

  notOnCluster(WORKDIR_ON_WORKER)('every invalid task is reported together (paths body.tasks[i].…)', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/parallel', {
      tasks: [
        { backend: 'claude', prompt: 'ok' },
        { backend: 'claude', prompt: '   \n\t' },
        { backend: 'claude', prompt: 'x', extra: ['--dangerously-skip-permissions'] },
        { backend: 'codex', prompt: 'y', workdir: '/does/not/exist' },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      success: false,
      error: expect.stringMatching(/^request validation failed: body\.tasks\[1\]\.prompt .+ \(and 2 more\)$/),
      code: 'validation_error',
      details: [
        { path: 'body.tasks[1].prompt', message: expect.any(String) },
        { path: 'body.tasks[2].extra[0]', message: expect.stringContaining('--dangerously-skip-permissions') },
        { path: 'body.tasks[3].workdir', message: 'work directory does not exist: /does/not/exist' },
      ],
    });
    expect(t.log().length).toBe(before);
  });

  test('row 39: one task with workdir /etc among valid ones → 403, no task runs', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/parallel', {
      tasks: [
        { backend: 'claude', prompt: 'a' },
        { backend: 'claude', prompt: 'b', workdir: '/etc' },
        { backend: 'codex', prompt: 'c' },
      ],
    });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      success: false,
      error: 'work directory not allowed: /etc (blocked path)',
      code: 'forbidden_workdir',
    });
    expect(t.log().length).toBe(before);
  });
});

describe('parallel: limits, deadline, queue', () => {
  test('max_parallel is capped by server.max_concurrent_executions', async () => {
    const t = await makeTestApp({ server: { max_concurrent_executions: 2 } });
    try {
      const tasks = Array.from({ length: 4 }, (_, i) => ({ backend: 'claude', prompt: `[SLEEP:1000] c${i}` }));
      const res = await post(t, '/api/v1/parallel', { tasks, max_parallel: 8 });
      expect(res.status).toBe(200);
      expect(res.body.data.completed).toBe(4);
      expect(maxOverlap(t.log())).toBe(2);
    } finally {
      await t.close();
    }
  });

  test('deadline: 504 with the aggregate; the running task killed, the waiting one canceled', async () => {
    const t = await makeTestApp({ server: { request_timeout_secs: 2 } });
    try {
      const res = await post(t, '/api/v1/parallel', {
        tasks: [
          { backend: 'claude', prompt: '[SLEEP:20000] stuck' },
          { backend: 'codex', prompt: 'waiting' },
        ],
        max_parallel: 1,
      });
      expect(res.status).toBe(504);
      expect(res.headers['x-should-retry']).toBe('false');
      expect(res.body).toEqual({
        success: false,
        error: 'timed out after 2 s',
        code: 'backend_timeout',
        data: {
          total_tasks: 2,
          completed: 0,
          failed: 1,
          canceled: 1,
          total_duration_ms: expect.any(Number),
          results: [
            {
              backend: 'claude',
              exit_code: -1,
              duration_ms: expect.any(Number),
              output: '',
              error: 'timed out after 2 s',
              error_code: 'backend_timeout',
            },
            {
              backend: 'codex',
              exit_code: -1,
              duration_ms: 0,
              output: '',
              error: 'canceled (request deadline passed before the task started)',
              error_code: 'canceled',
            },
          ],
        },
      });
      const started = runs(t.log());
      expect(started).toHaveLength(1);
      await waitFor(() => !isAlive(started[0]!.pid), 5000);
    } finally {
      await t.close();
    }
  });

  test('queue full → 429 queue_full with Retry-After, nothing of the aggregate runs', async () => {
    const t = await makeTestApp({ server: { max_concurrent_executions: 1, max_queued_executions: 0 } });
    try {
      const busy = request(t.app)
        .post('/api/v1/prompt')
        .send({ backend: 'claude', prompt: '[SLEEP:6000] busy', ephemeral: true })
        .then((r) => r);
      await waitFor(() => t.starts().length === 1, 10000);
      for (const [p, body] of [
        [
          '/api/v1/parallel',
          {
            tasks: [
              { backend: 'claude', prompt: 'a' },
              { backend: 'codex', prompt: 'b' },
            ],
          },
        ],
        ['/api/v1/chain', { steps: [{ backend: 'claude', prompt: 'a' }] }],
        ['/api/v1/compare', { backends: ['claude', 'codex'], prompt: 'a' }],
      ] as const) {
        const res = await post(t, p, body);
        expect(res.status).toBe(429);
        expect(res.headers['retry-after']).toBe('1');
        expect(res.body).toEqual({ success: false, error: 'execution queue is full', code: 'queue_full' });
      }
      expect((await busy).status).toBe(200);
      expect(t.starts()).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});

// =================================================================================== chain

describe('POST /api/v1/chain', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(() => t.close());

  test('{{previous}} is replaced from step 2 on; step 1 keeps it literal', async () => {
    const before = t.log().length;
    const first = 'first {{previous}}';
    const second = `Summarize: ${reply(first)} and again ${reply(first)}`;
    const res = await post(t, '/api/v1/chain', {
      steps: [
        { backend: 'claude', prompt: first, name: 'analyze' },
        { backend: 'codex', prompt: 'Summarize: {{previous}} and again {{previous}}' },
      ],
    });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.data)).toEqual(['total_steps', 'completed_steps', 'total_duration_ms', 'results']);
    expect(res.body.data).toEqual({
      total_steps: 2,
      completed_steps: 2,
      total_duration_ms: expect.any(Number),
      results: [
        {
          step: 1,
          name: 'analyze',
          backend: 'claude',
          exit_code: 0,
          duration_ms: expect.any(Number),
          output: reply(first),
          token_usage: CLAUDE_USAGE,
        },
        {
          step: 2,
          backend: 'codex',
          exit_code: 0,
          duration_ms: expect.any(Number),
          output: reply(second),
          token_usage: CODEX_USAGE,
        },
      ],
    });
    expectKeyOrder(res.body.data.results[0], ['step', 'name']);
    expectKeyOrder(res.body.data.results[1], ['step']);
    const started = runs(t.log().slice(before));
    expect(started.map(lastArg)).toEqual([first, second]);
    expect(started[0]!.argv).toContain('--no-session-persistence');
    expect(started[1]!.argv).toContain('--ephemeral');
    expect(maxOverlap(t.log().slice(before))).toBe(1);
    expect(await sessionRecords(t)).toEqual([]);
  });

  test('a failed step still feeds {{previous}} (empty output); failed_step is the last failure', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/chain', {
      steps: [
        { backend: 'claude', prompt: '[E400] one' },
        { backend: 'claude', prompt: 'two <{{previous}}>' },
        { backend: 'codex', prompt: '[E500] three' },
        { backend: 'claude', prompt: 'four' },
      ],
    });
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(Object.keys(data)).toEqual([
      'total_steps',
      'completed_steps',
      'failed_step',
      'total_duration_ms',
      'results',
    ]);
    expect(data).toMatchObject({ total_steps: 4, completed_steps: 2, failed_step: 3 });
    expect(data.results.map((r: Body) => [r.step, r.exit_code, r.error_code])).toEqual([
      [1, 1, 'backend_failed'],
      [2, 0, undefined],
      [3, 1, 'backend_failed'],
      [4, 0, undefined],
    ]);
    // whatever the failed step reported as its output (possibly empty) is substituted
    expect(runs(t.log().slice(before)).map(lastArg)[1]).toBe(`two <${data.results[0].output}>`);
    expect(data.results[1].output).toBe(reply(`two <${data.results[0].output}>`));
  });

  test('stop_on_failure stops after the first failure; later steps are absent and never run', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/chain', {
      steps: [
        { backend: 'claude', prompt: 'ok' },
        { backend: 'codex', prompt: '[E400] fails' },
        { backend: 'claude', prompt: 'never' },
      ],
      stop_on_failure: true,
    });
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(data).toMatchObject({ total_steps: 3, completed_steps: 1, failed_step: 2 });
    expect(data.results).toHaveLength(2);
    expect(data.results[1]).toMatchObject({ step: 2, backend: 'codex', exit_code: 1, error_code: 'backend_failed' });
    expect(data.results[1].error).toEqual(expect.any(String));
    expect(runs(t.log().slice(before)).map(lastArg)).toEqual(['ok', '[E400] fails']);
  });

  test('pass_working_dir: a step without workdir uses the previous step’s directory', async () => {
    const dirA = path.join(t.root, 'dir-a');
    const dirB = path.join(t.root, 'dir-b');
    fs.mkdirSync(dirA, { recursive: true });
    fs.mkdirSync(dirB, { recursive: true });
    const steps = [
      { backend: 'claude', prompt: 's1', workdir: dirA },
      { backend: 'codex', prompt: 's2' },
      { backend: 'claude', prompt: 's3', workdir: dirB },
      { backend: 'claude', prompt: 's4' },
    ];
    let before = t.log().length;
    let res = await post(t, '/api/v1/chain', { steps, pass_working_dir: true });
    expect(res.status).toBe(200);
    expect(runs(t.log().slice(before)).map((e) => e.cwd)).toEqual([dirA, dirA, dirB, dirB]);
    before = t.log().length;
    res = await post(t, '/api/v1/chain', { steps });
    expect(res.status).toBe(200);
    expect(runs(t.log().slice(before)).map((e) => e.cwd)).toEqual([dirA, t.workdir, dirB, t.workdir]);
    // in a dry run the effective directory is visible
    res = await post(t, '/api/v1/chain', {
      steps: [
        { backend: 'claude', prompt: 'x', workdir: dirA },
        { backend: 'codex', prompt: 'y' },
      ],
      pass_working_dir: true,
      dry_run: true,
    });
    expect(res.body.data.results.map((r: Body) => r.working_dir)).toEqual([dirA, dirA]);
  });

  test('a substituted prompt over max_prompt_bytes fails that step without running it', async () => {
    const before = t.log().length;
    const filler = 'x'.repeat(100_000 - '{{previous}}'.length);
    const res = await post(t, '/api/v1/chain', {
      steps: [
        { backend: 'claude', prompt: 'short' },
        { backend: 'codex', prompt: `${filler}{{previous}}` },
        { backend: 'claude', prompt: 'after <{{previous}}>' },
      ],
    });
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(data).toMatchObject({ total_steps: 3, completed_steps: 2, failed_step: 2 });
    expect(data.results[1]).toEqual({
      step: 2,
      backend: 'codex',
      exit_code: -1,
      duration_ms: 0,
      output: '',
      error: 'body.steps[1].prompt exceeds 100000 bytes after {{previous}} substitution',
      error_code: 'validation_error',
    });
    expect(runs(t.log().slice(before)).map(lastArg)).toEqual(['short', 'after <>']);
  });

  test('dry_run renders every step (with {{previous}} substituted) and runs nothing', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/chain', {
      steps: [
        { backend: 'claude', prompt: 'plan it', name: 'plan' },
        { backend: 'codex', prompt: 'do: {{previous}}', model: 'best' },
      ],
      dry_run: true,
    });
    expect(res.status).toBe(200);
    const [s1, s2] = res.body.data.results;
    expect(s1).toEqual({
      step: 1,
      name: 'plan',
      backend: 'claude',
      exit_code: 0,
      duration_ms: 0,
      output: `Would execute: ${CLAUDE} [-p --output-format json --no-session-persistence -- plan it]`,
      command: [CLAUDE, '-p', '--output-format', 'json', '--no-session-persistence', '--', 'plan it'],
      working_dir: t.workdir,
    });
    expect(s2).toMatchObject({ step: 2, backend: 'codex', model: 'gpt-6.2-sol', exit_code: 0, duration_ms: 0 });
    expect(s2.command).toEqual([
      CODEX,
      'exec',
      '--json',
      '--skip-git-repo-check',
      '-m',
      'gpt-6.2-sol',
      '--ephemeral',
      '--',
      `do: ${s1.output}`,
    ]);
    expect(t.log().length).toBe(before);
  });

  // §9 row 40
  test.each([
    [
      'pass_session_id: true',
      { steps: [{ backend: 'claude', prompt: 'a' }], pass_session_id: true },
      'body.pass_session_id',
    ],
    [
      'persist_sessions: true',
      { steps: [{ backend: 'claude', prompt: 'a' }], persist_sessions: true },
      'body.persist_sessions',
    ],
    [
      '{{session}} in a step prompt',
      {
        steps: [
          { backend: 'claude', prompt: 'a' },
          { backend: 'claude', prompt: 'use {{session}}' },
        ],
      },
      'body.steps[1].prompt',
    ],
    [
      'a step output_format',
      { steps: [{ backend: 'claude', prompt: 'a', output_format: 'json' }] },
      'body.steps[0].output_format',
    ],
    [
      'a step session_id',
      { steps: [{ backend: 'claude', prompt: 'a', session_id: 'abc' }] },
      'body.steps[0].session_id',
    ],
    ['a step ephemeral', { steps: [{ backend: 'claude', prompt: 'a', ephemeral: true }] }, 'body.steps[0].ephemeral'],
    ['steps: []', { steps: [] }, 'body.steps'],
    ['51 steps', { steps: Array.from({ length: 51 }, () => ({ backend: 'claude', prompt: 'a' })) }, 'body.steps'],
    [
      'blank step prompt',
      {
        steps: [
          { backend: 'claude', prompt: 'a' },
          { backend: 'codex', prompt: ' ' },
        ],
      },
      'body.steps[1].prompt',
    ],
  ])('row 40: %s → 400, nothing runs', async (_name, body, detailPath) => {
    await expectValidationError(t, '/api/v1/chain', body, detailPath);
  });

  notOnCluster(WORKDIR_ON_WORKER)('row 40: step workdir missing → 400, nothing runs', async () => {
    const body = { steps: [{ backend: 'claude', prompt: 'a', workdir: '/does/not/exist' }] };
    await expectValidationError(t, '/api/v1/chain', body, 'body.steps[0].workdir');
  });

  test('all chain problems are reported together', async () => {
    const res = await post(t, '/api/v1/chain', {
      steps: [
        { backend: 'claude', prompt: '{{session}}' },
        { backend: 'claude', prompt: 'ok', extra: ['--yolo'] },
      ],
      pass_session_id: true,
    });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d: Body) => d.path)).toEqual([
      'body.steps[0].prompt',
      'body.steps[1].extra[0]',
      'body.pass_session_id',
    ]);
  });

  test('a step workdir under /etc → 403, nothing runs', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/chain', {
      steps: [
        { backend: 'claude', prompt: 'a' },
        { backend: 'claude', prompt: 'b', workdir: '/etc/ssl' },
      ],
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden_workdir');
    expect(t.log().length).toBe(before);
  });

  test('deadline: 504 with the finished steps and the killed one', async () => {
    const s = await makeTestApp({ server: { request_timeout_secs: 5 } });
    try {
      const res = await post(s, '/api/v1/chain', {
        steps: [
          { backend: 'claude', prompt: 'done in time', name: 'first' },
          { backend: 'codex', prompt: '[SLEEP:20000] {{previous}}' },
          { backend: 'claude', prompt: 'never' },
        ],
      });
      expect(res.status).toBe(504);
      expect(res.body).toEqual({
        success: false,
        error: 'timed out after 5 s',
        code: 'backend_timeout',
        data: stoppedAtStep2('first', 'done in time', 'timed out after 5 s', 'backend_timeout'),
      });
      const started = runs(s.log());
      expect(started).toHaveLength(2);
      await waitFor(() => !isAlive(started[1]!.pid), 5000);
    } finally {
      await s.close();
    }
  });
});

// =================================================================================== compare

describe('POST /api/v1/compare', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ backends: { gemini: { enabled: false } } });
  });
  afterAll(() => t.close());

  test('concurrent by default; results in list order; alias resolved per backend; duplicates allowed', async () => {
    const before = t.log().length;
    const prompt = '[SLEEP:1000] Explain this';
    const res = await post(t, '/api/v1/compare', { backends: ['claude', 'codex', 'claude'], prompt, model: 'fast' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.data)).toEqual(['prompt', 'backends', 'total_duration_ms', 'results']);
    expect(res.body.data).toEqual({
      prompt,
      backends: ['claude', 'codex', 'claude'],
      total_duration_ms: expect.any(Number),
      results: [
        {
          backend: 'claude',
          model: 'haiku',
          exit_code: 0,
          duration_ms: expect.any(Number),
          output: reply(prompt),
          token_usage: CLAUDE_USAGE,
        },
        {
          backend: 'codex',
          model: 'gpt-5.5',
          exit_code: 0,
          duration_ms: expect.any(Number),
          output: reply(prompt),
          token_usage: { ...CODEX_USAGE, input_tokens: 6895 },
        },
        {
          backend: 'claude',
          model: 'haiku',
          exit_code: 0,
          duration_ms: expect.any(Number),
          output: reply(prompt),
          token_usage: CLAUDE_USAGE,
        },
      ],
    });
    const log = t.log().slice(before);
    expect(runs(log)).toHaveLength(3);
    expect(maxOverlap(log)).toBeGreaterThanOrEqual(2);
    expect(
      runs(log).every((e) => e.argv!.includes('--no-session-persistence') || e.argv!.includes('--ephemeral')),
    ).toBe(true);
    expect(await sessionRecords(t)).toEqual([]);
  });

  test('sequential: one after another, in list order', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/compare', {
      backends: ['codex', 'claude', 'codex'],
      prompt: '[SLEEP:300] seq',
      sequential: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.results.map((r: Body) => r.backend)).toEqual(['codex', 'claude', 'codex']);
    const log = t.log().slice(before);
    expect(runs(log).map((e) => e.cli)).toEqual(['codex', 'claude', 'codex']);
    expect(maxOverlap(log)).toBe(1);
  });

  test('an unavailable backend is a per-item failure', async () => {
    const res = await post(t, '/api/v1/compare', { backends: ['gemini', 'claude'], prompt: 'hi' });
    expect(res.status).toBe(200);
    expect(res.body.data.results).toEqual([
      {
        backend: 'gemini',
        exit_code: -1,
        duration_ms: 0,
        output: '',
        error: 'backend "gemini" is disabled',
        error_code: 'backend_unavailable',
      },
      {
        backend: 'claude',
        exit_code: 0,
        duration_ms: expect.any(Number),
        output: reply('hi'),
        token_usage: CLAUDE_USAGE,
      },
    ]);
  });

  test('a failing backend is an item with error_code, the response is still 200', async () => {
    const res = await post(t, '/api/v1/compare', { backends: ['claude', 'codex'], prompt: '[E400] x' });
    expect(res.status).toBe(200);
    expect(res.body.data.results.map((r: Body) => [r.backend, r.exit_code, r.error_code])).toEqual([
      ['claude', 1, 'backend_failed'],
      ['codex', 1, 'backend_failed'],
    ]);
  });

  test('dry_run renders every backend (model alias per backend), runs nothing', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/compare', {
      backends: ['claude', 'codex'],
      prompt: 'hi',
      model: 'balanced',
      dry_run: true,
      workdir: t.workdir,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.results).toEqual([
      {
        backend: 'claude',
        model: 'sonnet',
        exit_code: 0,
        duration_ms: 0,
        output: `Would execute: ${CLAUDE} [-p --output-format json --model sonnet --no-session-persistence -- hi]`,
        command: [CLAUDE, '-p', '--output-format', 'json', '--model', 'sonnet', '--no-session-persistence', '--', 'hi'],
        working_dir: t.workdir,
      },
      {
        backend: 'codex',
        model: 'gpt-6.2-sol',
        exit_code: 0,
        duration_ms: 0,
        output: `Would execute: ${CODEX} [exec --json --skip-git-repo-check -m gpt-6.2-sol --ephemeral -- hi]`,
        command: [CODEX, 'exec', '--json', '--skip-git-repo-check', '-m', 'gpt-6.2-sol', '--ephemeral', '--', 'hi'],
        working_dir: t.workdir,
      },
    ]);
    expect(t.log().length).toBe(before);
  });

  // §9 row 41
  test.each([
    ['backends: []', { backends: [], prompt: 'hi' }, 'body.backends'],
    ['an unknown backend', { backends: ['claude', 'foo'], prompt: 'hi' }, 'body.backends[1]'],
    ['11 backends', { backends: Array.from({ length: 11 }, () => 'claude'), prompt: 'hi' }, 'body.backends'],
    ['blank prompt', { backends: ['claude'], prompt: '  ' }, 'body.prompt'],
    ['model flag injection', { backends: ['claude'], prompt: 'hi', model: '--yolo' }, 'body.model'],
    ['relative workdir', { backends: ['claude'], prompt: 'hi', workdir: 'rel/dir' }, 'body.workdir'],
  ])('row 41: %s → 400, nothing runs', async (_name, body, detailPath) => {
    await expectValidationError(t, '/api/v1/compare', body, detailPath);
  });

  test('workdir /etc → 403, nothing runs', async () => {
    const before = t.log().length;
    const res = await post(t, '/api/v1/compare', { backends: ['claude', 'codex'], prompt: 'hi', workdir: '/etc' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden_workdir');
    expect(t.log().length).toBe(before);
  });
});

// =================================================================================== limiter

describe('one execution limiter for the whole server', () => {
  test('a burst of 200 concurrent requests never runs more than max_concurrent_executions CLIs', async () => {
    const s = await makeTestServer({ server: { max_concurrent_executions: 4, max_queued_executions: 300 } });
    try {
      let expectedRuns = 0;
      const reqs = Array.from({ length: 200 }, (_, i) => {
        const backend = i % 2 ? 'claude' : 'codex';
        if (i % 4 === 0) {
          expectedRuns += 2;
          return fetchPost(s.url, '/api/v1/parallel', {
            tasks: [
              { backend: 'claude', prompt: `[SLEEP:200] p${i}a` },
              { backend: 'codex', prompt: `[SLEEP:200] p${i}b` },
            ],
            max_parallel: 2,
          });
        }
        expectedRuns += 1;
        return fetchPost(s.url, '/api/v1/prompt', { backend, prompt: `[SLEEP:200] r${i}`, ephemeral: true });
      });
      const results = await Promise.all(reqs);
      expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
      for (const r of results) if ('total_tasks' in r.body.data) expect(r.body.data.completed).toBe(2);
      const log = s.log();
      expect(runs(log)).toHaveLength(expectedRuns);
      expect(runEnds(log)).toHaveLength(expectedRuns);
      const overlap = maxOverlap(log);
      expect(overlap).toBeLessThanOrEqual(4);
      expect(overlap).toBeGreaterThanOrEqual(2);
      expect(await s.executions()).toEqual({ running: 0, queued: 0 });
    } finally {
      await s.close();
    }
  }, 240_000);

  test('with a small queue part of a burst gets 429 queue_full; rejected requests run nothing', async () => {
    const s = await makeTestServer({ server: { max_concurrent_executions: 2, max_queued_executions: 3 } });
    try {
      const bodies = Array.from({ length: 30 }, (_, i) =>
        i % 3 === 0
          ? [
              '/api/v1/parallel',
              {
                tasks: [
                  { backend: 'claude', prompt: `[SLEEP:300] q${i}a` },
                  { backend: 'codex', prompt: `[SLEEP:300] q${i}b` },
                ],
              },
              2,
            ]
          : ['/api/v1/prompt', { backend: 'claude', prompt: `[SLEEP:300] q${i}`, ephemeral: true }, 1],
      ) as [string, Body, number][];
      const results = await Promise.all(bodies.map(([p, b]) => fetchPost(s.url, p, b)));
      const rejected = results.filter((r) => r.status === 429);
      expect(rejected.length).toBeGreaterThan(0);
      for (const r of rejected) {
        expect(r.body).toEqual({ success: false, error: 'execution queue is full', code: 'queue_full' });
        expect(r.headers.get('retry-after')).toBe('1');
      }
      expect(results.filter((r) => r.status !== 200 && r.status !== 429).map((r) => [r.status, r.body])).toEqual([]);
      const expectedRuns = results.reduce((n, r, i) => n + (r.status === 200 ? bodies[i]![2] : 0), 0);
      const log = s.log();
      expect(runs(log)).toHaveLength(expectedRuns);
      expect(maxOverlap(log)).toBeLessThanOrEqual(2);
    } finally {
      await s.close();
    }
  }, 120_000);
});

// =================================================================================== disconnects

describe('client disconnect', () => {
  test('during a parallel run: every running child is killed, waiting tasks never start', async () => {
    const s = await makeTestServer();
    try {
      const ac = new AbortController();
      const tasks = Array.from({ length: 5 }, (_, i) => ({
        backend: i % 2 ? 'codex' : 'claude',
        prompt: `[SLEEP:30000] d${i}`,
      }));
      const pending = fetchPost(s.url, '/api/v1/parallel', { tasks, max_parallel: 3 }, { signal: ac.signal }).catch(
        (e: Error) => e,
      );
      await waitFor(() => runs(s.log()).length === 3, 15000);
      const pids = runs(s.log()).map((e) => e.pid);
      expect(pids.every(isAlive)).toBe(true);
      ac.abort();
      expect(((await pending) as Error).name).toBe('AbortError');
      await waitFor(() => pids.every((p) => !isAlive(p)), 10000);
      await sleep(800);
      expect(runs(s.log())).toHaveLength(3);
      expect(await s.executions()).toEqual({ running: 0, queued: 0 });
      // the server keeps serving
      const ok = await fetchPost(s.url, '/api/v1/parallel', { tasks: [{ backend: 'claude', prompt: 'after' }] });
      expect(ok.status).toBe(200);
    } finally {
      await s.close();
    }
  }, 60_000);

  test('queued tasks of a disconnected client are dropped from the limiter queue', async () => {
    const s = await makeTestServer({ server: { max_concurrent_executions: 1 } });
    try {
      const busy = fetchPost(s.url, '/api/v1/prompt', {
        backend: 'claude',
        prompt: '[SLEEP:2500] busy',
        ephemeral: true,
      });
      await waitFor(() => runs(s.log()).length === 1, 10000);
      const ac = new AbortController();
      const pending = fetchPost(
        s.url,
        '/api/v1/parallel',
        {
          tasks: [
            { backend: 'claude', prompt: 'queued 1' },
            { backend: 'codex', prompt: 'queued 2' },
          ],
          max_parallel: 2,
        },
        { signal: ac.signal },
      ).catch((e: Error) => e);
      await waitFor(async () => (await s.executions()).queued === 1, 5000);
      ac.abort();
      expect(((await pending) as Error).name).toBe('AbortError');
      await waitFor(async () => (await s.executions()).queued === 0, 5000);
      expect((await busy).status).toBe(200);
      await sleep(800);
      expect(runs(s.log()).map(lastArg)).toEqual(['[SLEEP:2500] busy']);
    } finally {
      await s.close();
    }
  }, 60_000);

  inProcessOnly("reads the server's log")(
    'an interrupted chain kills the running step and logs the finished steps at info',
    async () => {
      const env: TestEnv = makeTestEnv();
      const lines: Body[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _enc, cb) {
          for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Body);
          cb();
        },
      });
      const server = await startServer(
        { ...env.config, server: { ...env.config.server, port: 0, host: '127.0.0.1' } },
        {
          logger: createLogger({ level: 'info', stream, json: true }),
        },
      );
      try {
        const ac = new AbortController();
        const pending = fetchPost(
          server.url,
          '/api/v1/chain',
          {
            steps: [
              { backend: 'claude', prompt: 'step one', name: 'one' },
              { backend: 'codex', prompt: '[SLEEP:30000] {{previous}}' },
              { backend: 'claude', prompt: 'never' },
            ],
          },
          { signal: ac.signal, headers: { 'X-Request-Id': 'chain-disconnect-1' } },
        ).catch((e: Error) => e);
        await waitFor(() => runs(env.log()).length === 2, 15000);
        const running = runs(env.log())[1]!;
        ac.abort();
        expect(((await pending) as Error).name).toBe('AbortError');
        await waitFor(() => !isAlive(running.pid), 10000);
        const entry = await waitFor(
          () => lines.find((l) => l.message === 'chain interrupted: client disconnected'),
          5000,
        );
        expect(entry.level).toBe('info');
        expect(entry.request_id).toBe('chain-disconnect-1');
        expect(entry.chain).toEqual(stoppedAtStep2('one', 'step one', 'canceled: client disconnected', 'canceled'));
        await sleep(500);
        expect(runs(env.log())).toHaveLength(2);
      } finally {
        await server.shutdown({ force: true });
        env.cleanup();
      }
    },
    60_000,
  );
});

describeInProcessOnly('shuts one server process down')('shutdown', () => {
  test('an in-flight parallel run answers 503 shutting_down with the aggregate; no process left', async () => {
    const s = await makeTestServer({ server: { shutdown_timeout_secs: 1 } });
    try {
      const pending = fetchPost(s.url, '/api/v1/parallel', {
        tasks: [
          { backend: 'claude', prompt: '[SLEEP:30000] running' },
          { backend: 'codex', prompt: 'waiting' },
        ],
        max_parallel: 1,
      });
      const start = await waitFor(() => runs(s.log())[0], 15000);
      await s.server.shutdown();
      const r = await pending;
      expect(r.status).toBe(503);
      expect(r.headers.get('x-should-retry')).toBe('false');
      expect(r.body).toEqual({
        success: false,
        error: 'server shutting down',
        code: 'shutting_down',
        data: {
          total_tasks: 2,
          completed: 0,
          failed: 1,
          canceled: 1,
          total_duration_ms: expect.any(Number),
          results: [
            {
              backend: 'claude',
              exit_code: -1,
              duration_ms: expect.any(Number),
              output: '',
              error: 'server shutting down',
              error_code: 'shutting_down',
            },
            {
              backend: 'codex',
              exit_code: -1,
              duration_ms: 0,
              output: '',
              error: 'canceled (server shutting down)',
              error_code: 'canceled',
            },
          ],
        },
      });
      expect(isAlive(start.pid)).toBe(false);
      expect(runs(s.log())).toHaveLength(1);
    } finally {
      await s.close();
    }
  }, 60_000);
});

// Executables referenced by dry-run expectations must exist (a renamed fixture would make the
// argv assertions above meaningless).
test('fixtures present', () => {
  for (const f of [CLAUDE, CODEX, GEMINI]) expect(fs.existsSync(f)).toBe(true);
});
