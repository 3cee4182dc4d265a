/**
 * Types of the official client, derived from the contract (generated/types.ts and the operation
 * table generated/operations.ts): arguments, success data and error bodies of every operation.
 */
import type { components, operations } from '../../generated/types';
import type { OPERATIONS, StreamEvents } from '../../generated/operations';

export type Schemas = components['schemas'];

type Table = typeof OPERATIONS;
/** Every operation of the contract that the client offers (deprecated aliases are left out). */
export type OpId = {
  [K in keyof Table & keyof operations]: Table[K] extends { deprecated: true } ? never : K;
}[keyof Table & keyof operations];

type Op<K extends OpId> = operations[K];
type Kind<K extends OpId> = Table[K]['kind'];

/** `{}` for an absent (`never`/undefined) part of the parameters. */
type Part<T> = [NonNullable<T>] extends [never] ? unknown : NonNullable<T>;

/** Path and query parameters of an operation, as one object (`{ id }`, `{ limit, offset }`). */
export type ParamsOf<K extends OpId> = Part<Op<K>['parameters']['path']> & Part<Op<K>['parameters']['query']>;

/** The JSON request body of an operation (never when it has none). */
export type BodyOf<K extends OpId> =
  Op<K> extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;

type RequiredKeys<T> = { [P in keyof T]-?: object extends Pick<T, P> ? never : P }[keyof T];

/** Options of one call. */
export interface CallOptions {
  /** Aborts the request (for a stream: also ends the run on the server, like a client disconnect). */
  signal?: AbortSignal;
  /** Extra request headers (e.g. `Idempotency-Key`, `X-Request-Id`). */
  headers?: Record<string, string>;
  /** Overrides the client's `maxRetries` for this call. */
  maxRetries?: number;
}

type ParamsOption<K extends OpId> = [keyof ParamsOf<K>] extends [never]
  ? unknown
  : [RequiredKeys<ParamsOf<K>>] extends [never]
    ? { params?: ParamsOf<K> }
    : { params: ParamsOf<K> };

/**
 * The arguments of an operation's method: the body (operations with a JSON body; path parameters
 * then go to `options.params`), else the parameters (optional when none is required).
 */
export type ArgsOf<K extends OpId> = [BodyOf<K>] extends [never]
  ? [RequiredKeys<ParamsOf<K>>] extends [never]
    ? [params?: ParamsOf<K>, options?: CallOptions]
    : [params: ParamsOf<K>, options?: CallOptions]
  : [RequiredKeys<ParamsOf<K>>] extends [never]
    ? [body: BodyOf<K>, options?: CallOptions & ParamsOption<K>]
    : [body: BodyOf<K>, options: CallOptions & ParamsOption<K>];

/** The JSON body a JSON-or-stream operation is called with for its JSON answer. */
export type JsonBodyOf<K extends OpId> = Omit<BodyOf<K>, 'stream'> & { stream?: false | null };
/** … and for its stream (the client sets `stream: true`). */
export type StreamBodyOf<K extends OpId> = Omit<BodyOf<K>, 'stream'>;

type Responses<K extends OpId> = Op<K>['responses'];
type SuccessStatus<K extends OpId> = Extract<keyof Responses<K>, 200 | 201 | 202>;
type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : never;
type Unwrap<T> = T extends { success: true; data: infer D } ? D : T;

/** What the method of a JSON operation resolves to: the native envelope's `data`, else the body. */
export type DataOf<K extends OpId> = Kind<K> extends 'text' ? string : Unwrap<JsonOf<Responses<K>[SuccessStatus<K>]>>;

/** The success body as sent (native envelopes not unwrapped). */
export type SuccessBodyOf<K extends OpId> = JsonOf<Responses<K>[SuccessStatus<K>]>;

/** One event of a stream operation (the schema named by `x-clinvk-stream-event`). */
export type EventOf<K extends OpId> = K extends keyof StreamEvents ? StreamEvents[K] : never;

/** Every error status the server sends (one fixed status per error code). */
export type KnownErrorStatus = 400 | 401 | 403 | 404 | 405 | 408 | 409 | 413 | 415 | 429 | 431 | 500 | 502 | 503 | 504;
type ErrorKey<K extends OpId> = Exclude<keyof Responses<K>, SuccessStatus<K>>;
type ExplicitStatus<K extends OpId> = Extract<ErrorKey<K>, number>;

/**
 * The error answers of an operation, discriminated by `status`: `if (e.response.status === 502)
 * e.response.body.data` is the `ExecutionResult` of a failed run. Statuses the operation does not
 * list (405, 408, 431, …) carry its `default` error body.
 */
export type ErrorOf<K extends OpId> = {
  [S in ErrorKey<K>]: {
    status: S extends 'default' ? Exclude<KnownErrorStatus, ExplicitStatus<K>> : S;
    body: JsonOf<Responses<K>[S]>;
  };
}[ErrorKey<K>];

/** The outcome of `client.call()`: never throws for an HTTP error. */
export type ResultOf<K extends OpId> =
  { ok: true; status: number; headers: Headers; data: DataOf<K> } | ({ ok: false; headers: Headers } & ErrorOf<K>);

export type JsonOpId = { [K in OpId]: Kind<K> extends 'json' | 'json+stream' | 'text' ? K : never }[OpId];
export type StreamOpId = { [K in OpId]: Kind<K> extends 'stream' | 'json+stream' ? K : never }[OpId];
export type DualOpId = { [K in OpId]: Kind<K> extends 'json+stream' ? K : never }[OpId];
export type PureStreamOpId = { [K in OpId]: Kind<K> extends 'stream' ? K : never }[OpId];
