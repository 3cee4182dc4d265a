/**
 * Contract assertions used by every test (SPEC §1.4.5): every JSON body the server sends, on every
 * status, must validate against the bundled document (generated/openapi.json), and every stream
 * event must validate against its component schema.
 *
 *   expectMatchesSpec('executePrompt', res.status, res.body);
 *   expectStreamMatchesSpec('streamPrompt', res.status, contentType, bodyText); // every event
 *   expectValidSchema(streamEventSchemaFor('openaiChatCompletions', 200, 'text/event-stream'), data);
 *
 * Stream bodies are declared as strings; the media type's `x-clinvk-stream-event` names the schema
 * of one event, and that schema is what every NDJSON line / SSE data frame is checked against.
 *
 * The shared OpenAPIBackend instance is built synchronously on first use (so the helpers can be
 * called anywhere without `await`): the document is checked against the OpenAPI 3.0 meta-schema
 * (`validateDefinition()`, what a full `init()` does), then initialised the way openapi-backend's
 * quick mode does it (synchronous dereference). Request and response validators are the same as a
 * full `init()` produces; test/unit/contract/backend.test.ts proves a full strict async `init()`
 * behaves identically. Ajv options match the server: `allErrors: true` and ajv-formats.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import OpenAPIBackend, { type Document } from 'openapi-backend';
import { ERROR_STATUS, type ErrorCode } from '../../src/errors';

type AnyObject = Record<string, any>;

export const CONTRACT_PATH = join(__dirname, '..', '..', 'generated', 'openapi.json');

/** Ajv options shared by openapi-backend and the component-schema validator. */
export const CONTRACT_AJV_OPTIONS = { allErrors: true, strict: false } as const;

/** `customizeAjv` for openapi-backend: adds ajv-formats (`date-time`, `uri`, …). */
export function customizeContractAjv(ajv: Ajv): Ajv {
  addFormats(ajv);
  return ajv;
}

let rawDocument: AnyObject | undefined;
let api: OpenAPIBackend | undefined;
let schemaAjv: Ajv | undefined;
const schemaValidators = new Map<string, ValidateFunction>();

/** A fresh deep copy of the bundled (not dereferenced) document. */
export function contractDocument(): AnyObject {
  if (!rawDocument) rawDocument = JSON.parse(readFileSync(CONTRACT_PATH, 'utf8')) as AnyObject;
  return structuredClone(rawDocument);
}

/** The shared, initialised OpenAPIBackend instance (no handlers registered). */
export function getContractApi(): OpenAPIBackend {
  if (api) return api;
  const doc = contractDocument();
  const instance = new OpenAPIBackend({
    definition: doc as Document,
    strict: true,
    quick: true,
    validate: true,
    ignoreTrailingSlashes: false,
    ajvOpts: { ...CONTRACT_AJV_OPTIONS },
    customizeAjv: (ajv) => customizeContractAjv(ajv),
  });
  // the 3.0 meta-schema check a full init() runs (a document it rejects would route nothing)
  instance.document = structuredClone(doc) as Document;
  instance.validateDefinition();
  // quick-mode init does all its work synchronously for an object definition
  let initError: unknown;
  instance.init().catch((err: unknown) => {
    initError = err;
  });
  if (!instance.initialized || initError) {
    throw new Error(`openapi-backend could not initialise ${CONTRACT_PATH}: ${String(initError ?? 'not initialised')}`);
  }
  api = instance;
  return api;
}

/** The operationId openapi-backend routes `method path` to (HEAD is routed as GET), if any. */
export function operationIdFor(method: string, path: string): string | undefined {
  const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
  return getContractApi().matchOperation({ method: m, path, headers: {}, query: {} })?.operationId;
}

/**
 * For failures inside `anyOf`/`oneOf`, Ajv reports the errors of every branch. Keep only the
 * branch with the fewest errors (the one the value was most likely meant to be) for each
 * composition, so the message points at the real problem.
 */
function closestBranchErrors(list: ErrorObject[]): { errors: ErrorObject[]; note: string } {
  const branchRe = /^(.*?\/(?:anyOf|oneOf))\/(\d+)(?:\/|$)/;
  const groups = new Map<string, Map<string, ErrorObject[]>>();
  for (const e of list) {
    const m = branchRe.exec(e.schemaPath);
    if (!m) continue;
    const key = `${e.instancePath}|${m[1]}`;
    if (!groups.has(key)) groups.set(key, new Map());
    const branches = groups.get(key)!;
    if (!branches.has(m[2])) branches.set(m[2], []);
    branches.get(m[2])!.push(e);
  }
  if (groups.size === 0) return { errors: list, note: '' };
  const drop = new Set<ErrorObject>();
  const notes: string[] = [];
  for (const [key, branches] of groups) {
    if (branches.size < 2) continue;
    const sorted = [...branches.entries()].sort((a, b) => a[1].length - b[1].length);
    for (const [, errs] of sorted.slice(1)) errs.forEach((e) => drop.add(e));
    const [instancePath, composite] = key.split('|');
    notes.push(
      `${instancePath || '(root)'}: closest of ${branches.size} ${composite.split('/').pop()} branches (#${sorted[0][0]}) shown`,
    );
    // the summary error of the composition itself ("must match a schema in anyOf") adds nothing
    for (const e of list) if (e.instancePath === instancePath && e.schemaPath === composite) drop.add(e);
  }
  return { errors: list.filter((e) => !drop.has(e)), note: notes.length ? `  (${notes.join('; ')})\n` : '' };
}

function describeErrors(errors: ErrorObject[] | null | undefined, limit = 25): string {
  const { errors: list, note } = closestBranchErrors(errors ?? []);
  const lines = list.slice(0, limit).map((e) => {
    const where = e.instancePath === '' ? '(root)' : e.instancePath;
    const params = e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : '';
    return `  - ${where} ${e.message ?? e.keyword}${params}  [schema ${e.schemaPath}]`;
  });
  if (list.length > limit) lines.push(`  … and ${list.length - limit} more`);
  return `${note}${lines.join('\n')}`;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = 'undefined';
  return text.length > 1500 ? `${text.slice(0, 1500)}…` : text;
}

class ContractAssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractAssertionError';
  }
}

// --------------------------------------------------------------------------- style consistency
// SPEC §2.3: the status is fixed per code, and the code determines the OpenAI / Anthropic type.
/** Codes only native paths answer with (sessions and jobs). */
const NATIVE_ONLY_CODES: ReadonlySet<string> = new Set([
  'ambiguous_session_id',
  'session_not_found',
  'session_busy',
  'job_not_found',
  'job_active',
  'idempotency_conflict',
]);
/** 429 codes: `rate_limit_error` in both compatible styles. */
const RATE_LIMIT_CODES = new Set<ErrorCode>(['rate_limited', 'queue_full', 'quota_exceeded', 'key_concurrency_limit']);
const OPENAI_TYPE: Partial<Record<ErrorCode, string>> = {};
const ANTHROPIC_TYPE: Partial<Record<ErrorCode, string>> = {};
for (const code of Object.keys(ERROR_STATUS) as ErrorCode[]) {
  const status = ERROR_STATUS[code];
  if (NATIVE_ONLY_CODES.has(code)) continue;
  const forbidden = ['forbidden_workdir', 'forbidden_host', 'forbidden_origin', 'option_not_allowed'];
  if (forbidden.includes(code)) OPENAI_TYPE[code] = 'permission_error';
  else if (RATE_LIMIT_CODES.has(code)) OPENAI_TYPE[code] = 'rate_limit_error';
  else if (status >= 500) OPENAI_TYPE[code] = 'server_error';
  else OPENAI_TYPE[code] = 'invalid_request_error';

  if (code === 'unauthorized') ANTHROPIC_TYPE[code] = 'authentication_error';
  else if (forbidden.includes(code)) ANTHROPIC_TYPE[code] = 'permission_error';
  else if (code === 'not_found' || code === 'model_not_found') ANTHROPIC_TYPE[code] = 'not_found_error';
  else if (code === 'payload_too_large') ANTHROPIC_TYPE[code] = 'request_too_large';
  else if (RATE_LIMIT_CODES.has(code)) ANTHROPIC_TYPE[code] = 'rate_limit_error';
  else if (code === 'shutting_down') ANTHROPIC_TYPE[code] = 'overloaded_error';
  else if (status >= 500) ANTHROPIC_TYPE[code] = 'api_error';
  else ANTHROPIC_TYPE[code] = 'invalid_request_error';
}
/** Statuses an Anthropic error `type` can be sent with. */
const ANTHROPIC_TYPE_STATUSES = new Map<string, Set<number>>();
for (const [code, type] of Object.entries(ANTHROPIC_TYPE)) {
  if (!ANTHROPIC_TYPE_STATUSES.has(type)) ANTHROPIC_TYPE_STATUSES.set(type, new Set());
  ANTHROPIC_TYPE_STATUSES.get(type)!.add(ERROR_STATUS[code as ErrorCode]);
}

/** The OpenAI `error.type` SPEC §2.3 assigns to a code (undefined for native-only codes). */
export function openaiErrorTypeFor(code: ErrorCode): string | undefined {
  return OPENAI_TYPE[code];
}

/** The Anthropic `error.type` SPEC §2.3 assigns to a code (undefined for native-only codes). */
export function anthropicErrorTypeFor(code: ErrorCode): string | undefined {
  return ANTHROPIC_TYPE[code];
}

function styleOf(operationId: string): 'native' | 'openai' | 'anthropic' {
  if (operationId.startsWith('openai')) return 'openai';
  if (operationId.startsWith('anthropic')) return 'anthropic';
  return 'native';
}

function checkErrorConsistency(operationId: string, status: number, body: unknown): string[] {
  if (body === null || typeof body !== 'object') return [];
  const b = body as AnyObject;
  const problems: string[] = [];
  const style = styleOf(operationId);
  if (style === 'native' && b.success === false && typeof b.code === 'string') {
    const expected = ERROR_STATUS[b.code as ErrorCode];
    if (expected !== undefined && expected !== status) {
      problems.push(`code ${b.code} must be sent with HTTP ${expected}, not ${status}`);
    }
    if (b.details !== undefined && b.code !== 'validation_error' && b.code !== 'option_not_allowed') {
      problems.push(`details is only allowed with codes validation_error and option_not_allowed (code is ${b.code})`);
    }
  }
  if (style === 'openai' && b.error && typeof b.error === 'object' && typeof b.error.code === 'string') {
    const code = b.error.code as ErrorCode;
    const expected = ERROR_STATUS[code];
    if (expected !== undefined && expected !== status) {
      problems.push(`OpenAI error code ${code} must be sent with HTTP ${expected}, not ${status}`);
    }
    if (expected !== undefined && OPENAI_TYPE[code] === undefined) {
      problems.push(`code ${code} is native-only and must not appear on an OpenAI-compatible path`);
    } else if (expected !== undefined && b.error.type !== OPENAI_TYPE[code]) {
      problems.push(`OpenAI error code ${code} must have type ${OPENAI_TYPE[code]}, not ${b.error.type}`);
    }
  }
  if (style === 'anthropic' && b.type === 'error' && b.error && typeof b.error.type === 'string') {
    const allowed = ANTHROPIC_TYPE_STATUSES.get(b.error.type);
    if (allowed && !allowed.has(status)) {
      problems.push(`Anthropic error type ${b.error.type} is sent with HTTP ${[...allowed].join('/')}, not ${status}`);
    }
  }
  return problems;
}

// --------------------------------------------------------------------------- public assertions

/**
 * Asserts that `body` is a valid JSON response of `operationId` with HTTP `status` (an explicitly
 * declared status, its `NXX` range, or `default`). Also checks the SPEC §2.3 code/status/type
 * consistency of error bodies. Throws a readable error listing every Ajv problem.
 */
export function expectMatchesSpec(operationId: string, status: number, body: unknown): void {
  const backend = getContractApi();
  const op = backend.getOperation(operationId) as AnyObject | undefined;
  if (!op) throw new ContractAssertionError(`unknown operationId ${JSON.stringify(operationId)}`);
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new ContractAssertionError(`invalid HTTP status ${status}`);
  }
  const responses = (op.responses ?? {}) as AnyObject;
  const key = [String(status), `${Math.floor(status / 100)}XX`, 'default'].find((k) => responses[k] !== undefined);
  if (!key) {
    throw new ContractAssertionError(
      `${operationId} declares no response for HTTP ${status} (declared: ${Object.keys(responses).join(', ')})`,
    );
  }
  if (!responses[key]?.content?.['application/json']?.schema) {
    const types = Object.keys(responses[key]?.content ?? {}).join(', ') || 'no body';
    throw new ContractAssertionError(
      `${operationId} HTTP ${status} (response "${key}") declares no application/json body (${types})`,
    );
  }
  const result = backend.validateResponse(body, operationId, status);
  const problems: string[] = [];
  if (result.errors?.length) problems.push(describeErrors(result.errors as ErrorObject[]));
  const consistency = checkErrorConsistency(operationId, status, body);
  if (consistency.length) problems.push(consistency.map((p) => `  - ${p}`).join('\n'));
  if (problems.length) {
    throw new ContractAssertionError(
      `response of ${operationId} (HTTP ${status}, spec response "${key}") does not match the contract:\n${problems.join('\n')}\nbody: ${preview(body)}`,
    );
  }
}

function componentSchemas(): AnyObject {
  const schemas = (getContractApi().definition as AnyObject).components?.schemas as AnyObject | undefined;
  if (!schemas) throw new Error('the contract has no components.schemas');
  return schemas;
}

function schemaValidator(name: string): ValidateFunction {
  const cached = schemaValidators.get(name);
  if (cached) return cached;
  const schema = componentSchemas()[name];
  if (!schema) throw new ContractAssertionError(`unknown component schema ${JSON.stringify(name)}`);
  if (!schemaAjv) {
    schemaAjv = new Ajv({ ...CONTRACT_AJV_OPTIONS });
    addFormats(schemaAjv);
  }
  // Ajv understands OpenAPI 3.0 `nullable: true` natively; `discriminator` is only a hint here
  const validate = schemaAjv.compile(schema);
  schemaValidators.set(name, validate);
  return validate;
}

/** For a `oneOf` + `discriminator` schema, the branch the value's discriminator selects. */
function discriminatedBranch(name: string, value: unknown): string | undefined {
  const raw = contractDocument().components?.schemas?.[name] as AnyObject | undefined;
  const prop = raw?.discriminator?.propertyName as string | undefined;
  if (!prop || value === null || typeof value !== 'object') return undefined;
  const tag = (value as AnyObject)[prop];
  const ref = typeof tag === 'string' ? (raw?.discriminator?.mapping?.[tag] as string | undefined) : undefined;
  return ref?.split('/').pop();
}

/**
 * Asserts that `value` validates against `#/components/schemas/<schemaName>` (e.g.
 * `NativeStreamEvent`, `OpenAIChatCompletionChunk`, `AnthropicStreamEvent`, `ErrorResponse`).
 * For discriminated unions the error lists the problems of the branch selected by `type`.
 */
export function expectValidSchema(schemaName: string, value: unknown): void {
  const validate = schemaValidator(schemaName);
  if (validate(value)) return;
  let errors = validate.errors;
  let detail = schemaName;
  const branch = discriminatedBranch(schemaName, value);
  if (branch) {
    const branchValidate = schemaValidator(branch);
    if (!branchValidate(value)) {
      errors = branchValidate.errors;
      detail = `${schemaName} → ${branch}`;
    }
  } else if (schemaName.endsWith('StreamEvent') && value && typeof value === 'object') {
    detail = `${schemaName} (no branch for type ${JSON.stringify((value as AnyObject).type)})`;
  }
  throw new ContractAssertionError(
    `value does not match schema ${detail}:\n${describeErrors(errors)}\nvalue: ${preview(value)}`,
  );
}

/** Non-throwing variant of expectValidSchema. */
export function matchesSchema(schemaName: string, value: unknown): boolean {
  return schemaValidator(schemaName)(value) === true;
}

// --------------------------------------------------------------------------- streams

/** The raw (not dereferenced) response object of an operation for a status, `$ref`s followed. */
function rawResponse(operationId: string, status: number): { key: string; response: AnyObject } | undefined {
  const doc = contractDocument();
  for (const item of Object.values<AnyObject>(doc.paths ?? {})) {
    for (const op of Object.values<AnyObject>(item)) {
      if (op?.operationId !== operationId) continue;
      const responses = (op.responses ?? {}) as AnyObject;
      const key = [String(status), `${Math.floor(status / 100)}XX`, 'default'].find((k) => responses[k] !== undefined);
      if (!key) return undefined;
      let response = responses[key] as AnyObject;
      while (typeof response.$ref === 'string') {
        response = (response.$ref as string)
          .slice(2)
          .split('/')
          .reduce((o: AnyObject, k: string) => o[k], doc);
      }
      return { key, response };
    }
  }
  return undefined;
}

function rawOperation(operationId: string): AnyObject | undefined {
  for (const item of Object.values<AnyObject>(contractDocument().paths ?? {})) {
    for (const op of Object.values<AnyObject>(item)) if (op?.operationId === operationId) return op;
  }
  return undefined;
}

/**
 * The component schema the contract names (`x-clinvk-stream-event`) for one event of the stream
 * response of `operationId` with HTTP `status` and media type `contentType`. An operation whose
 * stream is kept only for compatibility (`x-clinvk-stream-operation`, e.g. executePrompt with
 * `output_format: stream-json`) uses the events of the operation it names.
 */
export function streamEventSchemaFor(operationId: string, status: number, contentType: string): string {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  const found = rawResponse(operationId, status);
  const media = found?.response.content?.[type] as AnyObject | undefined;
  const ref = media?.['x-clinvk-stream-event']?.$ref as string | undefined;
  if (ref) return ref.split('/').pop()!;
  const alias = rawOperation(operationId)?.['x-clinvk-stream-operation'] as string | undefined;
  if (alias) return streamEventSchemaFor(alias, status, contentType);
  throw new ContractAssertionError(
    `${operationId} HTTP ${status} declares no ${type} stream with x-clinvk-stream-event (declared: ${Object.keys(found?.response.content ?? {}).join(', ') || 'nothing'})`,
  );
}

/** One parsed event of a stream body. */
export interface StreamEventFrame {
  /** The parsed JSON event (NDJSON line or SSE `data`). */
  data: AnyObject;
  /** SSE only: the `event:` name and `id:` of the frame. */
  event?: string;
  id?: string;
}

/** What a stream body held besides its events: SSE comments (heartbeats) and OpenAI's `[DONE]`. */
export interface ParsedStream {
  schema: string;
  events: StreamEventFrame[];
  comments: string[];
  done: boolean;
}

function parseSseFrames(text: string): { event?: string; id?: string; data?: string; comments: string[] }[] {
  if (text !== '' && !text.endsWith('\n\n')) {
    throw new ContractAssertionError(`SSE body does not end with a blank line: ${JSON.stringify(text.slice(-80))}`);
  }
  return text
    .split('\n\n')
    .filter((f) => f !== '')
    .map((raw) => {
      const frame: { event?: string; id?: string; data?: string; comments: string[] } = { comments: [] };
      for (const line of raw.split('\n')) {
        if (line.startsWith(':')) frame.comments.push(line.slice(1).trim());
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('id: ')) frame.id = line.slice(4);
        else if (line.startsWith('data: '))
          frame.data = frame.data === undefined ? line.slice(6) : `${frame.data}\n${line.slice(6)}`;
        else throw new ContractAssertionError(`unexpected SSE line ${JSON.stringify(line)}`);
      }
      return frame;
    });
}

/**
 * Asserts that a whole stream body (NDJSON or SSE) matches the contract: every event (NDJSON line,
 * or JSON `data` of an SSE frame) validates against the schema named by `x-clinvk-stream-event`
 * for that operation, status and media type. SSE frames with an `event:` name must carry the same
 * `type` in their data; OpenAI's `data: [DONE]` is accepted only as the last frame. Returns the
 * parsed events for further assertions.
 */
export function expectStreamMatchesSpec(
  operationId: string,
  status: number,
  contentType: string,
  body: string,
): ParsedStream {
  const schema = streamEventSchemaFor(operationId, status, contentType);
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  const out: ParsedStream = { schema, events: [], comments: [], done: false };
  const check = (value: unknown, where: string) => {
    try {
      expectValidSchema(schema, value);
    } catch (err) {
      throw new ContractAssertionError(`${operationId} stream ${where}: ${(err as Error).message}`);
    }
  };
  if (type === 'application/x-ndjson') {
    if (body !== '' && !body.endsWith('\n'))
      throw new ContractAssertionError('NDJSON body does not end with a newline');
    body
      .split('\n')
      .filter((l) => l !== '')
      .forEach((line, i) => {
        let data: AnyObject;
        try {
          data = JSON.parse(line) as AnyObject;
        } catch {
          throw new ContractAssertionError(`${operationId} stream line ${i + 1} is not JSON: ${line.slice(0, 200)}`);
        }
        check(data, `line ${i + 1}`);
        out.events.push({ data });
      });
    return out;
  }
  if (type === 'text/event-stream') {
    const frames = parseSseFrames(body);
    frames.forEach((f, i) => {
      out.comments.push(...f.comments);
      if (f.data === undefined) {
        if (f.event !== undefined || f.id !== undefined)
          throw new ContractAssertionError(`SSE frame ${i + 1} has no data`);
        return;
      }
      if (out.done) throw new ContractAssertionError(`SSE frame ${i + 1} follows data: [DONE]`);
      if (f.data === '[DONE]') {
        out.done = true;
        return;
      }
      let data: AnyObject;
      try {
        data = JSON.parse(f.data) as AnyObject;
      } catch {
        throw new ContractAssertionError(`${operationId} SSE frame ${i + 1} data is not JSON: ${f.data.slice(0, 200)}`);
      }
      if (f.event !== undefined && data.type !== f.event) {
        throw new ContractAssertionError(`SSE frame ${i + 1}: event ${f.event} but data.type ${String(data.type)}`);
      }
      check(data, `frame ${i + 1}`);
      out.events.push({ data, event: f.event, id: f.id });
    });
    return out;
  }
  throw new ContractAssertionError(`${contentType} is not a stream media type`);
}
