/**
 * openapi-backend wiring: the bundled document, routing, request validation and the
 * mapping of Ajv errors to the envelope's `details`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import OpenAPIBackend, { type Context, type Document, type Handler } from 'openapi-backend';
import type { ValidationDetail } from '../errors';

export const GENERATED_DIR = path.resolve(__dirname, '../../generated');
/** Compiled code lives in dist/src/http: look one level further up as well. */
function generatedFile(name: string): string {
  const candidates = [path.join(GENERATED_DIR, name), path.resolve(__dirname, '../../../generated', name)];
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0];
}

let cachedJson: string | undefined;
let cachedYaml: string | undefined;

/**
 * A fresh copy of the bundled document. Not kept: openapi-backend keeps its own, and the texts
 * served by /openapi.json and /openapi.yaml are read when first requested.
 */
export function openapiDocument(): Document {
  return JSON.parse(cachedJson ?? fs.readFileSync(generatedFile('openapi.json'), 'utf8')) as Document;
}

export function openapiJsonText(): string {
  if (cachedJson === undefined) cachedJson = fs.readFileSync(generatedFile('openapi.json'), 'utf8');
  return cachedJson;
}

export function openapiYamlText(): string {
  if (cachedYaml === undefined) cachedYaml = fs.readFileSync(generatedFile('openapi.yaml'), 'utf8');
  return cachedYaml;
}

export type OperationHandler = Handler;

/** Creates and initialises the openapi-backend instance with our handlers. */
export async function createOpenApi(handlers: Record<string, Handler>): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({
    definition: openapiDocument(),
    strict: false,
    // The document is validated against the OpenAPI meta-schema by `npm run lint:spec` (CI);
    // quick mode skips that and compiles validators lazily: ~50 ms start instead of ~8 s.
    quick: true,
    ignoreTrailingSlashes: false,
    validate: true,
    coerceTypes: true,
    ajvOpts: { allErrors: true, strict: false },
    customizeAjv: (ajv) => {
      addFormats(ajv);
      return ajv;
    },
    handlers,
  });
  await api.init();
  return api;
}

const LOCATION: Record<string, string> = {
  requestBody: 'body',
  path: 'path',
  query: 'query',
  header: 'header',
  headers: 'header',
  cookie: 'cookie',
};

/** `/requestBody/tasks/2/prompt` → `body.tasks[2].prompt`. */
function detailPath(instancePath: string, extra?: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  const [first, ...rest] = parts;
  let out = LOCATION[first ?? ''] ?? 'body';
  for (const p of rest) out += /^\d+$/.test(p) ? `[${p}]` : `.${p}`;
  return out;
}

function messageOf(e: ErrorObject, field: string): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'unknown property';
    case 'type':
      return `must be ${String(p.type).replace(/,/g, ' or ')}`;
    case 'enum':
      return `must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'minimum':
      return `must be >= ${String(p.limit)}`;
    case 'maximum':
      return `must be <= ${String(p.limit)}`;
    case 'exclusiveMinimum':
      return `must be > ${String(p.limit)}`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters`;
    case 'maxLength':
      return `must be at most ${String(p.limit)} characters`;
    case 'minItems':
      return `must have at least ${String(p.limit)} items`;
    case 'maxItems':
      return `must have at most ${String(p.limit)} items`;
    case 'minProperties':
      return `must have at least ${String(p.limit)} properties`;
    case 'maxProperties':
      return `must have at most ${String(p.limit)} properties`;
    case 'pattern':
      if (field.endsWith('.model') || field === 'body.model') return 'invalid model name';
      if (field.endsWith('session_id') || field === 'path.id')
        return 'must be 1 to 32 lowercase hexadecimal characters';
      return `must match pattern ${String(p.pattern)}`;
    case 'format':
      return `must be a valid ${String(p.format)}`;
    case 'parse':
      return 'must be valid JSON';
    default:
      return e.message ?? 'is invalid';
  }
}

/** Ajv errors → envelope details, de-duplicated, in order. */
export function detailsFromAjv(errors: ErrorObject[] | null | undefined): ValidationDetail[] {
  const out: ValidationDetail[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    const p = e.params as Record<string, unknown>;
    const extra =
      e.keyword === 'required'
        ? String(p.missingProperty)
        : e.keyword === 'additionalProperties'
          ? String(p.additionalProperty)
          : undefined;
    // A missing request body is reported by the body guard; skip schema noise about the wrapper.
    const field = detailPath(e.instancePath, extra);
    const message = messageOf(e, field);
    const key = `${field}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: field, message });
  }
  return out;
}

export type { Context };
