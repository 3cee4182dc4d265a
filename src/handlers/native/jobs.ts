/** Jobs: createJob, listJobs, getJob, streamJobEvents, cancelJob, deleteJob — thin handlers over JobService. */
import type { Request, Response } from 'express';
import type { Context } from 'openapi-backend';
import { ApiError, type ValidationDetail, validationError } from '../../errors';
import type { JobEventReader as Reader } from '../../jobs/reader';
import { JobEventReader } from '../../jobs/reader';
import type { JobService } from '../../jobs/service';
import type { JobFilter, JobOperation, JobRecord } from '../../jobs/types';
import { detailsFromAjv } from '../../http/openapi';
import { ctxOf, headerValue, principalOf } from '../../http/request-context';
import { sendData, sendJson } from '../../http/respond';
import { openStream } from '../../http/stream';
import type { Config } from '../../config/types';
import type { HandlerFn } from '../../http/handler';

/** The synchronous operation whose body a job's `request` is. */
const SYNC_OPERATION: Record<JobOperation, { id: string; path: string }> = {
  prompt: { id: 'executePrompt', path: '/api/v1/prompt' },
  parallel: { id: 'executeParallel', path: '/api/v1/parallel' },
  chain: { id: 'executeChain', path: '/api/v1/chain' },
  compare: { id: 'executeCompare', path: '/api/v1/compare' },
};

/** The public `Job`: the record without its internal fields. */
export function toJob(r: JobRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: r.id,
    operation: r.operation,
    status: r.status,
    created_at: r.created_at,
  };
  if (r.started_at) out.started_at = r.started_at;
  if (r.finished_at) out.finished_at = r.finished_at;
  out.owner = r.owner;
  if (r.backend) out.backend = r.backend;
  if (r.session_id) out.session_id = r.session_id;
  out.summary = r.summary;
  out.events = { count: r.events.count, last_sequence: r.events.last_sequence };
  if (r.result !== undefined) out.result = r.result;
  if (r.error) out.error = r.error;
  return out;
}

function location(id: string): string {
  return `/api/v1/jobs/${id}`;
}

export function createJob(jobs: JobService): HandlerFn {
  return async (c: Context, req: Request, res: Response) => {
    const body = c.request.requestBody as { operation: JobOperation; request: Record<string, unknown> };
    // the inner request is checked by its synchronous operation's schema (same details, under body.request)
    const op = SYNC_OPERATION[body.operation];
    const check = c.api.validateRequest(
      { method: 'post', path: op.path, body: body.request, headers: { 'content-type': 'application/json' }, query: {} },
      op.id,
    );
    if (!check.valid) {
      const details: ValidationDetail[] = detailsFromAjv(check.errors).map((d) => ({
        ...d,
        path: d.path.replace(/^body/, 'body.request'),
      }));
      throw validationError(details);
    }
    const ctx = ctxOf(res);
    const key = headerValue(req, 'idempotency-key');
    const { record, created } = await jobs.create(body, principalOf(res), ctx.requestId, key);
    ctx.jobId = record.id;
    sendJson(res, created ? 202 : 200, { success: true, data: toJob(record) }, { Location: location(record.id) });
  };
}

interface ListQuery extends JobFilter {
  limit?: number;
  offset?: number;
}

export function listJobs(jobs: JobService): HandlerFn {
  return async (c, _req, res) => {
    const q = c.request.query as ListQuery;
    const limit = q.limit ?? 50;
    const offset = q.offset ?? 0;
    const filter: JobFilter = { status: q.status, operation: q.operation, backend: q.backend, owner: q.owner };
    const page = await jobs.list(filter, limit, offset, principalOf(res));
    sendData(res, { jobs: page.jobs.map(toJob), total: page.total, limit, offset });
  };
}

export function getJob(jobs: JobService): HandlerFn {
  return async (c, _req, res) => {
    const id = String(c.request.params.id);
    ctxOf(res).jobId = id;
    const wait = (c.request.query as { wait?: number }).wait ?? 0;
    const record = await jobs.wait(id, principalOf(res), wait * 1000, ctxOf(res).abort.signal);
    if (res.destroyed) return;
    sendData(res, toJob(record));
  };
}

export function cancelJob(jobs: JobService): HandlerFn {
  return async (c, _req, res) => {
    const id = String(c.request.params.id);
    ctxOf(res).jobId = id;
    sendData(res, toJob(await jobs.cancel(id, principalOf(res))));
  };
}

export function deleteJob(jobs: JobService): HandlerFn {
  return async (c, _req, res) => {
    const id = String(c.request.params.id);
    ctxOf(res).jobId = id;
    await jobs.delete(id, principalOf(res));
    sendData(res, { id, deleted: true });
  };
}

const TYPE_RE = /^\{"type":"([a-z_]+)"/;
const CHUNK_BYTES = 64 * 1024;

export function streamJobEvents(jobs: JobService, config: Config): HandlerFn {
  return async (c, req, res) => {
    const id = String(c.request.params.id);
    const ctx = ctxOf(res);
    ctx.jobId = id;
    const record = await jobs.get(id, principalOf(res));
    const q = c.request.query as { after?: number; follow?: boolean };
    const lastEventId = headerValue(req, 'last-event-id');
    const after = q.after ?? (lastEventId !== undefined ? Number(lastEventId) : 0);
    const sse = (headerValue(req, 'accept') ?? '').includes('text/event-stream');
    openStream(
      res,
      sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson',
      sse ? { Connection: 'keep-alive' } : {},
    );
    const reader = new JobEventReader(jobs, id, after, q.follow !== false);
    await pipe(reader, res, {
      sse,
      heartbeatMs: config.server.stream_heartbeat_secs * 1000,
      writeTimeoutMs: config.server.write_timeout_secs * 1000,
      backend: jobs.eventBackend(record),
    });
    if (!res.writableEnded && !res.destroyed) res.end();
  };
}

interface PipeOptions {
  sse: boolean;
  heartbeatMs: number;
  writeTimeoutMs: number;
  backend: string;
}

/** Copies batches from the reader to the socket, with heartbeats and this reader's own backpressure. */
async function pipe(reader: Reader, res: Response, o: PipeOptions): Promise<void> {
  const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
  let lastWrite = Date.now();
  for (;;) {
    if (res.destroyed) return;
    let timer: NodeJS.Timeout | undefined;
    const heartbeatDue =
      o.heartbeatMs > 0
        ? new Promise<void>((resolve) => {
            timer = setTimeout(resolve, Math.max(0, o.heartbeatMs - (Date.now() - lastWrite)));
          })
        : new Promise<void>(() => undefined);
    let batch;
    try {
      batch = await reader.next(Promise.race([closed, heartbeatDue]));
    } finally {
      clearTimeout(timer);
    }
    if (res.destroyed) return;
    if (batch.events.length > 0) {
      let chunk = '';
      for (const ev of batch.events) {
        chunk += o.sse ? sseFrame(ev.sequence, ev.line) : `${ev.line}\n`;
        if (chunk.length >= CHUNK_BYTES) {
          if (!(await write(res, chunk, o.writeTimeoutMs))) return;
          chunk = '';
        }
      }
      if (chunk && !(await write(res, chunk, o.writeTimeoutMs))) return;
      lastWrite = Date.now();
    } else if (!batch.end && o.heartbeatMs > 0 && Date.now() - lastWrite >= o.heartbeatMs) {
      if (!(await write(res, heartbeat(o), o.writeTimeoutMs))) return;
      lastWrite = Date.now();
    }
    if (batch.end) return;
  }
}

function sseFrame(sequence: number, line: string): string {
  const type = TYPE_RE.exec(line)?.[1] ?? 'message';
  return `id: ${sequence}\nevent: ${type}\ndata: ${line}\n\n`;
}

function heartbeat(o: PipeOptions): string {
  if (o.sse) return ': keep-alive\n\n';
  return `${JSON.stringify({
    type: 'progress',
    backend: o.backend,
    timestamp: new Date().toISOString(),
    sequence: 0,
    content: { stage: 'heartbeat' },
  })}\n`;
}

/** One write; when the socket is full, waits for `drain` up to the write timeout (then the reader is cut off). */
async function write(res: Response, chunk: string, timeoutMs: number): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(chunk)) return true;
  const drained = await new Promise<boolean>((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
  if (!drained) res.destroy();
  return drained;
}

export function jobHandlers(jobs: JobService, config: Config): Record<string, HandlerFn> {
  return {
    createJob: createJob(jobs),
    listJobs: listJobs(jobs),
    getJob: getJob(jobs),
    streamJobEvents: streamJobEvents(jobs, config),
    cancelJob: cancelJob(jobs),
    deleteJob: deleteJob(jobs),
  };
}

export { ApiError };
