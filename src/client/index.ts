/**
 * The official TypeScript client of clinvk (`import { createClient } from 'clinvk/client'`).
 *
 * Every operation of the contract is a method named by its operationId, typed from the contract:
 * JSON operations resolve to their success data (the native envelope's `data`) and reject with a
 * `ClinvkError` whose `response` is typed by status; stream operations return an async iterable
 * of typed events (`for await (const ev of client.streamPrompt({...}))`). The methods are built
 * from the generated operation table, so a new operation in the contract needs no code here.
 *
 * Retries happen only where they cannot run an agent twice: an answer with `x-should-retry: false`
 * is never retried; 408 and 429 (nothing was run) are retried for every operation, honouring
 * `Retry-After`; 5xx and network failures only for GET requests (and a refused connection, where
 * the request never reached the server). A stream is never retried once it has started.
 *
 * Runtime dependencies: none beyond Node 20 (global fetch).
 */
import { OPERATIONS, type OperationInfo } from '../../generated/operations';
import { ClinvkConnectionError, ClinvkError, ClinvkHttpError } from './errors';
import { readNdjson, readSse, type RawEvent } from './streams';
import type {
  ArgsOf,
  CallOptions,
  DataOf,
  DualOpId,
  ErrorOf,
  EventOf,
  JsonBodyOf,
  JsonOpId,
  OpId,
  PureStreamOpId,
  ResultOf,
  StreamBodyOf,
  StreamOpId,
} from './types';

export { ClinvkConnectionError, ClinvkError, ClinvkHttpError, isClinvkError } from './errors';
export type * from './types';

export interface ClientOptions {
  /** Server URL, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  baseUrl: string;
  /** API key, sent as `Authorization: Bearer <key>` (only needed when the server has keys). */
  apiKey?: string;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** Retries of a retryable failure (default 2). */
  maxRetries?: number;
  /** First back-off delay in ms, doubled per retry (default 500; `Retry-After` wins). */
  retryDelayMs?: number;
  /** Upper bound of one back-off delay in ms (default 30 000). */
  maxRetryDelayMs?: number;
  /** A fetch implementation (default: the global fetch of Node 20). */
  fetch?: typeof fetch;
}

/** A stream operation's answer: iterate it once; the request starts with the iteration. */
export interface ClinvkStream<E> extends AsyncIterable<E> {
  /** Status and headers once the stream has started (starts the request; rejects like the iteration). */
  readonly response: Promise<{ status: number; headers: Headers }>;
  /** Stops reading and closes the connection (a running prompt is canceled by the server). */
  abort(): void;
}

type JsonMethods = {
  [K in Exclude<JsonOpId, DualOpId>]: (...args: ArgsOf<K>) => Promise<DataOf<K>>;
} & {
  [K in DualOpId]: (body: JsonBodyOf<K>, options?: CallOptions) => Promise<DataOf<K>>;
};
type StreamMethods = {
  [K in PureStreamOpId]: (...args: ArgsOf<K>) => ClinvkStream<EventOf<K>>;
} & {
  [K in DualOpId as `${K}Stream`]: (body: StreamBodyOf<K>, options?: CallOptions) => ClinvkStream<EventOf<K>>;
};

/** Options of `jobEvents`. */
export interface JobEventsOptions {
  /** Start after this sequence number (0, the default: from the job's first event). */
  after?: number;
  signal?: AbortSignal;
  /** Reconnects in a row that bring no new event before giving up (default 5). */
  maxReconnects?: number;
  /** First delay before a reconnect in ms, doubled per fruitless attempt (default 250). */
  reconnectDelayMs?: number;
}

export type ClinvkClient = JsonMethods &
  StreamMethods & {
    readonly baseUrl: string;
    /**
     * A job's events until its terminal event (`done` or `error` without `item`), resuming by
     * itself: when the connection drops or ends early, it asks again with `after` = the last
     * sequence seen, so the iteration yields every event exactly once and in order.
     */
    jobEvents(id: string, options?: JobEventsOptions): ClinvkStream<EventOf<'streamJobEvents'>>;
    /** Calls a JSON operation without throwing for HTTP errors: `{ok, status, data | body}`. */
    call<K extends JsonOpId>(operationId: K, ...args: ArgsOf<K>): Promise<ResultOf<K>>;
  };

interface Prepared {
  url: string;
  init: RequestInit;
  maxRetries: number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

export function createClient(options: ClientOptions): ClinvkClient {
  return new Runtime(options).client();
}

class Runtime {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    if (!options?.baseUrl) throw new TypeError('createClient: baseUrl is required');
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('createClient: no fetch implementation (Node 20 or later)');
    this.fetchImpl = f;
  }

  client(): ClinvkClient {
    const methods: Record<string, unknown> = {};
    for (const [id, info] of Object.entries(OPERATIONS) as [OpId, OperationInfo][]) {
      if (info.deprecated) continue;
      if (info.kind === 'stream') {
        methods[id] = (...args: unknown[]) => this.stream(id as StreamOpId, info, args, false);
      } else {
        methods[id] = (...args: unknown[]) => this.json(id as JsonOpId, info, args, true);
        if (info.kind === 'json+stream') {
          methods[`${id}Stream`] = (...args: unknown[]) => this.stream(id as StreamOpId, info, args, true);
        }
      }
    }
    methods.baseUrl = this.baseUrl;
    methods.jobEvents = (id: string, opts?: JobEventsOptions) => this.jobEvents(id, opts);
    methods.call = (id: JsonOpId, ...args: unknown[]) => {
      const info = OPERATIONS[id] as OperationInfo | undefined;
      if (!info || info.kind === 'stream') throw new TypeError(`call: ${String(id)} is not a JSON operation`);
      return this.json(id, info, args, false);
    };
    return methods as ClinvkClient;
  }

  // ------------------------------------------------------------------------------- requests

  private prepare(id: OpId, info: OperationInfo, args: unknown[], streamFlag: boolean): Prepared {
    const [first, second] = args as [unknown, (CallOptions & { params?: Record<string, unknown> }) | undefined];
    const opts = (info.body ? second : second) ?? {};
    const params = ((info.body ? opts.params : first) ?? {}) as Record<string, unknown>;
    let path = info.path;
    for (const name of info.pathParams) {
      const value = params[name];
      if (value === undefined || value === null || value === '') {
        throw new TypeError(`${id}: path parameter ${name} is required`);
      }
      path = path.replace(`{${name}}`, encodeURIComponent(String(value)));
    }
    const query = new URLSearchParams();
    for (const name of info.queryParams) {
      const value = params[name];
      if (value === undefined || value === null) continue;
      for (const v of Array.isArray(value) ? value : [value]) query.append(name, String(v));
    }
    const qs = query.toString();
    const headers: Record<string, string> = {
      accept: info.accept && info.kind === 'stream' ? info.accept : 'application/json',
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    Object.assign(headers, this.options.headers, opts.headers);
    const init: RequestInit = { method: info.method, headers, signal: opts.signal };
    if (info.body) {
      let body = first as Record<string, unknown> | undefined;
      if (body === undefined || body === null || typeof body !== 'object')
        throw new TypeError(`${id}: a body is required`);
      if (info.kind === 'json+stream' && info.streamFlag) {
        body = { ...body, [info.streamFlag]: streamFlag };
        if (streamFlag) headers.accept = info.accept ?? 'text/event-stream';
      }
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return {
      url: `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`,
      init,
      maxRetries: opts.maxRetries ?? this.options.maxRetries ?? 2,
    };
  }

  /** fetch with the retry rules of the module comment; returns the last response. */
  private async send(id: OpId, method: string, req: Prepared): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetchImpl(req.url, req.init);
      } catch (err) {
        if (req.init.signal?.aborted) throw err;
        if (attempt < req.maxRetries && retryableNetworkError(method, err)) {
          await sleep(this.backoff(attempt), req.init.signal);
          continue;
        }
        throw new ClinvkConnectionError(id, err);
      }
      if (res.ok || attempt >= req.maxRetries || !retryableResponse(method, res)) return res;
      await res.body?.cancel().catch(() => undefined);
      await sleep(retryAfterMs(res) ?? this.backoff(attempt), req.init.signal);
    }
  }

  private backoff(attempt: number): number {
    const base = this.options.retryDelayMs ?? 500;
    return Math.min(base * 2 ** attempt, this.options.maxRetryDelayMs ?? 30_000);
  }

  private async failure(id: OpId, res: Response): Promise<ClinvkError | ClinvkHttpError> {
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return new ClinvkHttpError(id, res.status, text, res.headers);
    }
    return new ClinvkError(id, { status: res.status, body } as ErrorOf<typeof id>, res.headers);
  }

  private async json(id: JsonOpId, info: OperationInfo, args: unknown[], throwing: boolean): Promise<unknown> {
    const req = this.prepare(id, info, args, false);
    const res = await this.send(id, info.method, req);
    if (!res.ok) {
      const err = await this.failure(id, res);
      if (throwing || err instanceof ClinvkHttpError) throw err;
      return { ok: false, headers: res.headers, ...err.response };
    }
    let data: unknown;
    if (info.kind === 'text') data = await res.text();
    else {
      const text = await res.text();
      data = text === '' ? undefined : (JSON.parse(text) as unknown);
      if (info.envelope && data && typeof data === 'object' && 'data' in data) data = (data as { data: unknown }).data;
    }
    return throwing ? data : { ok: true, status: res.status, headers: res.headers, data };
  }

  private stream(id: StreamOpId, info: OperationInfo, args: unknown[], flag: boolean): ClinvkStream<unknown> {
    const controller = new AbortController();
    const req = this.prepare(id, info, args, flag);
    const outer = req.init.signal;
    if (outer) {
      if (outer.aborted) controller.abort(outer.reason);
      else outer.addEventListener('abort', () => controller.abort(outer.reason), { once: true });
    }
    req.init.signal = controller.signal;
    let started: Promise<Response> | undefined;
    let iterated = false;
    const start = (): Promise<Response> =>
      (started ??= this.send(id, info.method, req).then(async (res) => {
        if (!res.ok) throw await this.failure(id, res);
        return res;
      }));
    const read = async function* (): AsyncGenerator<unknown> {
      const res = await start();
      if (!res.body) return;
      const type = (res.headers.get('content-type') ?? '').toLowerCase();
      const events: AsyncGenerator<RawEvent> = type.startsWith('text/event-stream')
        ? readSse(res.body)
        : readNdjson(res.body);
      try {
        for await (const ev of events) yield ev.data;
      } finally {
        controller.abort();
      }
    };
    return {
      get response() {
        return start().then((res) => ({ status: res.status, headers: res.headers }));
      },
      abort: () => controller.abort(),
      [Symbol.asyncIterator]: () => {
        if (iterated) throw new TypeError(`${id}: a stream can be iterated only once`);
        iterated = true;
        return read();
      },
    };
  }

  // ------------------------------------------------------------------------- resuming job events

  private jobEvents(id: string, opts: JobEventsOptions = {}): ClinvkStream<unknown> {
    const info = OPERATIONS.streamJobEvents as OperationInfo;
    const controller = new AbortController();
    const outer = opts.signal;
    if (outer) {
      if (outer.aborted) controller.abort(outer.reason);
      else outer.addEventListener('abort', () => controller.abort(outer.reason), { once: true });
    }
    let last = opts.after ?? 0;
    let first: Promise<{ status: number; headers: Headers }> | undefined;
    let iterated = false;
    const open = (): ClinvkStream<unknown> => {
      const stream = this.stream('streamJobEvents', info, [{ id, after: last }, { signal: controller.signal }], false);
      if (!first) {
        first = stream.response;
        first.catch(() => undefined); // the iteration reports the failure
      }
      return stream;
    };
    const maxReconnects = opts.maxReconnects ?? 5;
    const delay = opts.reconnectDelayMs ?? 250;
    const read = async function* (): AsyncGenerator<unknown> {
      let fruitless = 0;
      for (;;) {
        let progressed = false;
        let lost: unknown;
        try {
          for await (const ev of open()) {
            const e = ev as { sequence?: unknown; type?: unknown; item?: unknown };
            if (typeof e.sequence === 'number') {
              if (e.sequence <= last) continue; // already yielded before the reconnect
              last = e.sequence;
            }
            progressed = true;
            yield ev;
            if ((e.type === 'done' || e.type === 'error') && e.item === undefined) return;
          }
        } catch (err) {
          // an answer of the server (404, 401, …) is final; a lost connection is resumed
          if (controller.signal.aborted || err instanceof ClinvkError || err instanceof ClinvkHttpError) throw err;
          lost = err;
        }
        fruitless = progressed ? 0 : fruitless + 1;
        if (fruitless > maxReconnects) {
          throw new ClinvkConnectionError('streamJobEvents', lost ?? new Error('the event stream ended early'));
        }
        await sleep(Math.min(delay * 2 ** Math.max(0, fruitless - 1), 30_000), controller.signal);
      }
    };
    return {
      get response() {
        return (first ??= open().response);
      },
      abort: () => controller.abort(),
      [Symbol.asyncIterator]: () => {
        if (iterated) throw new TypeError('jobEvents: a stream can be iterated only once');
        iterated = true;
        return read();
      },
    };
  }
}

// --------------------------------------------------------------------------------- retry rules

function retryableResponse(method: string, res: Response): boolean {
  const hint = res.headers.get('x-should-retry');
  if (hint === 'false') return false;
  if (hint === 'true') return true;
  // 408: the request was not read in time; 429: rate limited or not admitted — nothing ran
  if (res.status === 408 || res.status === 429) return true;
  return SAFE_METHODS.has(method) && res.status >= 500;
}

function retryableNetworkError(method: string, err: unknown): boolean {
  if (SAFE_METHODS.has(method)) return true;
  // the request never reached the server
  return (err as { cause?: { code?: string } })?.cause?.code === 'ECONNREFUSED';
}

function retryAfterMs(res: Response): number | undefined {
  const value = res.headers.get('retry-after');
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs) && secs >= 0) return Math.min(secs * 1000, 60_000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.min(at - Date.now(), 60_000));
}

function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
