/** Helpers for job tests: create, get, read events (NDJSON or SSE) over a real socket. */
import { expectMatchesSpec, expectValidSchema } from './contract';

type AnyObject = Record<string, any>;

export interface JsonReply {
  status: number;
  headers: Headers;
  body: AnyObject;
}

export async function call(
  base: string,
  method: string,
  path: string,
  operationId: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonReply> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as AnyObject;
  expectMatchesSpec(operationId, res.status, json);
  return { status: res.status, headers: res.headers, body: json };
}

export function createJob(base: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
  return call(base, 'POST', '/api/v1/jobs', 'createJob', body, headers);
}

/** POST /api/v1/jobs of an ephemeral prompt (claude unless `backend` says otherwise). */
export function promptJob(
  base: string,
  prompt: string,
  backend = 'claude',
  headers: Record<string, string> = {},
): Promise<JsonReply> {
  return createJob(base, { operation: 'prompt', request: { backend, prompt, ephemeral: true } }, headers);
}

/** POST /api/v1/jobs/{id}/cancel. */
export function cancelJob(base: string, id: string, headers: Record<string, string> = {}): Promise<JsonReply> {
  return call(base, 'POST', `/api/v1/jobs/${id}/cancel`, 'cancelJob', undefined, headers);
}

export function getJob(
  base: string,
  id: string,
  wait?: number,
  headers: Record<string, string> = {},
): Promise<JsonReply> {
  return call(
    base,
    'GET',
    `/api/v1/jobs/${id}${wait !== undefined ? `?wait=${wait}` : ''}`,
    'getJob',
    undefined,
    headers,
  );
}

/** Waits (long-poll, repeated) until the job is terminal; returns the job. */
export async function settle(
  base: string,
  id: string,
  timeoutMs = 30_000,
  headers: Record<string, string> = {},
): Promise<AnyObject> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await getJob(base, id, 10, headers);
    expect(r.status).toBe(200);
    const job = r.body.data as AnyObject;
    if (['succeeded', 'failed', 'canceled'].includes(job.status)) return job;
    if (Date.now() > end) throw new Error(`job ${id} still ${job.status}`);
  }
}

export interface EventsRead {
  status: number;
  headers: Headers;
  body: string;
}

export async function readEvents(
  base: string,
  id: string,
  query = '',
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<EventsRead> {
  const res = await fetch(`${base}/api/v1/jobs/${id}/events${query}`, { headers, signal });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body };
}

/** NDJSON lines of an events body, each validated against the contract's event schema. */
export function events(body: string): AnyObject[] {
  return body
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const ev = JSON.parse(l) as AnyObject;
      expectValidSchema('NativeStreamEvent', ev);
      return ev;
    });
}

/** SSE frames of a body: `{id, event, data}` (comments skipped), data validated. */
export function sseFrames(body: string): { id?: string; event?: string; data: AnyObject }[] {
  const out: { id?: string; event?: string; data: AnyObject }[] = [];
  for (const block of body.split('\n\n')) {
    if (!block.trim() || block.startsWith(':')) continue;
    const frame: { id?: string; event?: string; data?: AnyObject } = {};
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) frame.id = line.slice(4);
      else if (line.startsWith('event: ')) frame.event = line.slice(7);
      else if (line.startsWith('data: ')) frame.data = JSON.parse(line.slice(6)) as AnyObject;
    }
    expectValidSchema('NativeStreamEvent', frame.data);
    out.push(frame as { id?: string; event?: string; data: AnyObject });
  }
  return out;
}

/** Sequences 1..n without gaps or duplicates, exactly one terminal event, last. */
export function expectCompleteLog(evs: AnyObject[], from = 1): void {
  evs.forEach((e, i) => expect(e.sequence).toBe(from + i));
  const terminal = evs.filter((e) => e.type === 'done' || e.type === 'error');
  expect(terminal).toHaveLength(1);
  expect(evs.at(-1)).toBe(terminal[0]);
}
