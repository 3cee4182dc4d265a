/**
 * The console's only way to the server: the public HTTP API on the page's own origin, with the key the
 * user typed (kept in sessionStorage, sent as a header — never put in a URL, never logged).
 */
import type { components } from '../../generated/types';

export type Schemas = components['schemas'];
export type Job = Schemas['Job'];
export type StreamEvent = Schemas['NativeStreamEvent'] & { item?: number };
export type SessionInfo = Schemas['SessionInfo'];
export type BackendInfo = Schemas['BackendInfo'];
export type ExecutionInfo = Schemas['ExecutionInfo'];
export type Health = Schemas['HealthResponse'];

/** `GET /api/v1/me` (the key's name, role, limits and today's counters). */
export interface Me {
  name: string;
  role: 'admin' | 'user';
  backends?: string[];
  limits?: { requests_per_day: number | null; tokens_per_day: number | null; max_concurrent: number | null };
  today?: { requests: number; tokens: number; running: number };
}

/** One row of `GET /api/v1/usage`: the group fields plus the counters. */
export interface UsageRow {
  day?: string;
  key?: string;
  backend?: string;
  model?: string;
  api_style?: string;
  status?: string;
  requests: number;
  failed: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  duration_ms: number;
}

export interface Usage {
  from: string;
  to: string;
  group_by: string[] | string;
  rows: UsageRow[];
  totals: Omit<UsageRow, 'day' | 'key' | 'backend' | 'model' | 'api_style' | 'status'>;
}

const KEY_ITEM = 'clinvk.console.key';

export function getKey(): string {
  try {
    return sessionStorage.getItem(KEY_ITEM) ?? '';
  } catch {
    return '';
  }
}

export function setKey(key: string): void {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

/** A failed API call: HTTP status, the error code of the envelope and `Retry-After` (seconds) when sent. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

type Listener = (f: ApiFailure) => void;
const authListeners = new Set<Listener>();

/** Called on every 401, so the shell can ask for a key. */
export function onUnauthorized(fn: Listener): () => void {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const key = getKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

export function query(params: Record<string, string | number | undefined | null | false>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Turns a non-2xx response into an ApiFailure (reading the error envelope when there is one). */
export async function failureOf(res: Response): Promise<ApiFailure> {
  let code = `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: unknown; code?: unknown };
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.error === 'string') message = body.error;
  } catch {}
  const ra = Number(res.headers.get('Retry-After'));
  const f = new ApiFailure(res.status, code, message, Number.isFinite(ra) && ra > 0 ? ra : undefined);
  if (res.status === 401) for (const l of authListeners) l(f);
  return f;
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** Starts a request and returns the raw response once its head arrived (streams read the body themselves). */
export async function send(path: string, opts: CallOptions = {}): Promise<Response> {
  const headers = authHeaders({ Accept: 'application/json', ...opts.headers });
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method: opts.method ?? 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
    credentials: 'omit',
    cache: 'no-store',
    referrerPolicy: 'no-referrer',
  });
  if (!res.ok) throw await failureOf(res);
  return res;
}

/** A JSON call; answers the envelope's `data` (or the whole body for unenveloped routes such as /health). */
export async function call<T>(path: string, opts: CallOptions = {}): Promise<T> {
  const res = await send(path, opts);
  const body = (await res.json()) as { success?: boolean; data?: unknown };
  return (body && typeof body === 'object' && 'success' in body && 'data' in body ? body.data : body) as T;
}

/** Whether an error is the abort of a request this page gave up on (navigation, Stop). */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

/** The message shown for an error: a 429 says when to retry, a 401 asks for a key. */
export function describe(err: unknown): string {
  if (err instanceof ApiFailure) {
    if (err.status === 401) return `${err.message} — enter an API key to continue.`;
    if (err.status === 429)
      return `${err.message} (${err.code})${err.retryAfter !== undefined ? ` — retry in ${err.retryAfter} s` : ''}`;
    return `${err.message} (${err.code})`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
