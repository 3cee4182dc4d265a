// Builds generated/operations.ts from the bundled document: the runtime table of every operation
// (method, path, parameters, how its success answer is read) and the type of one event of every
// stream operation (from `x-clinvk-stream-event`). The official client (src/client) is driven by
// this table, so a new operation in openapi/ is a typed client method after `npm run generate`.

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function resolve(doc, node) {
  let cur = node;
  while (cur && typeof cur.$ref === 'string') {
    cur = cur.$ref
      .slice(2)
      .split('/')
      .reduce((o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return cur;
}

const STREAM_FORMATS = { 'application/x-ndjson': 'ndjson', 'text/event-stream': 'sse' };

/** How the client reads the success answer of one operation. */
function describe(doc, path, method, item, op) {
  const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => resolve(doc, p));
  const names = (where) => params.filter((p) => p.in === where).map((p) => p.name);
  const successKey = Object.keys(op.responses ?? {}).find((k) => /^2\d\d$/.test(k));
  if (!successKey) throw new Error(`${op.operationId}: no 2xx response`);
  const success = resolve(doc, op.responses[successKey]);
  const content = success.content ?? {};
  const json = content['application/json'];
  const streams = Object.entries(content).filter(([, media]) => media['x-clinvk-stream-event']);
  const other = Object.keys(content).filter((t) => t !== 'application/json' && !content[t]['x-clinvk-stream-event']);
  let kind;
  if (json && streams.length) kind = 'json+stream';
  else if (json) kind = 'json';
  else if (streams.length) kind = 'stream';
  else if (other.length) kind = 'text';
  else kind = 'empty';
  const jsonSchema = json ? resolve(doc, json.schema) : undefined;
  const body = resolve(doc, op.requestBody)?.content?.['application/json']?.schema;
  const bodySchema = body ? resolve(doc, body) : undefined;
  const bodyProps = bodySchema ? { ...(bodySchema.properties ?? {}) } : {};
  for (const part of bodySchema?.allOf ?? []) Object.assign(bodyProps, resolve(doc, part).properties ?? {});
  const entry = {
    method: method.toUpperCase(),
    path,
    kind,
    success: Number(successKey),
    body: Boolean(body),
    pathParams: names('path'),
    queryParams: names('query'),
  };
  // native envelopes (`{success: true, data}`) are unwrapped by the client
  if (jsonSchema?.properties?.success && jsonSchema.properties.data) entry.envelope = true;
  if (streams.length) {
    // the first stream media type declared is the one the client asks for
    const [type, media] = streams[0];
    entry.stream = STREAM_FORMATS[type];
    if (!entry.stream) throw new Error(`${op.operationId}: unsupported stream media type ${type}`);
    entry.accept = type;
    entry.event = media['x-clinvk-stream-event'].$ref.split('/').pop();
    // operations that answer JSON or a stream (the compatible APIs) switch with `stream: true`
    if (kind === 'json+stream') {
      if (bodyProps.stream?.type !== 'boolean')
        throw new Error(`${op.operationId}: JSON or stream, but no stream flag`);
      entry.streamFlag = 'stream';
    }
  }
  if (op.deprecated) entry.deprecated = true;
  return entry;
}

export function buildOperationsModule(doc, note) {
  const table = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (op) table[op.operationId] = describe(doc, path, method, item, op);
    }
  }
  const lines = [
    '/**',
    ` * ${note}`,
    ' * The operations of the bundled contract as a runtime table (for the official client, src/client).',
    ' */',
    '',
    "import type { components } from './types';",
    '',
    'export interface OperationInfo {',
    "  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'OPTIONS' | 'HEAD' | 'PATCH' | 'TRACE';",
    '  readonly path: string;',
    '  /** json: JSON only; stream: NDJSON/SSE only; json+stream: JSON, or a stream with `stream: true`; text: other bodies. */',
    "  readonly kind: 'json' | 'stream' | 'json+stream' | 'text' | 'empty';",
    '  readonly success: number;',
    '  readonly body: boolean;',
    '  readonly pathParams: readonly string[];',
    '  readonly queryParams: readonly string[];',
    '  /** The success body is a native envelope `{success: true, data}`. */',
    '  readonly envelope?: true;',
    "  readonly stream?: 'ndjson' | 'sse';",
    '  readonly accept?: string;',
    '  /** Component schema of one stream event (`x-clinvk-stream-event`). */',
    '  readonly event?: string;',
    '  /** Body field that asks a JSON-or-stream operation for the stream. */',
    '  readonly streamFlag?: string;',
    '  readonly deprecated?: true;',
    '}',
    '',
    `export const OPERATIONS = ${JSON.stringify(table, null, 2)} as const satisfies Record<string, OperationInfo>;`,
    '',
    'export type OperationId = keyof typeof OPERATIONS;',
    '',
    '/** The type of one event of every stream operation. */',
    'export interface StreamEvents {',
    ...Object.entries(table)
      .filter(([, e]) => e.event)
      .map(([id, e]) => `  ${id}: components['schemas']['${e.event}'];`),
    '}',
    '',
  ];
  return lines.join('\n');
}
