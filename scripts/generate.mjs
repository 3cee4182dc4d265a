#!/usr/bin/env node
// Bundles the hand-written OpenAPI 3.0.3 documents in openapi/ into one document
// (generated/openapi.json, generated/openapi.yaml) and generates TypeScript types from it
// (generated/types.ts) with openapi-typescript, plus the operation table of the official client
// (generated/operations.ts, scripts/client-operations.mjs).
//
//   node scripts/generate.mjs           write generated/*
//   node scripts/generate.mjs --check   build twice, fail if the two builds differ (determinism)
//                                       or if generated/* is not up to date; writes nothing
//
// Bundling rules (no external tool, so the output only depends on the inputs):
// - sources are read in a fixed order: components.yaml, native.yaml, openai.yaml, anthropic.yaml;
// - `$ref: 'components.yaml#/components/<section>/<Name>'` (optionally `./components.yaml#…`) is
//   rewritten to `#/components/<section>/<Name>`; local `#/…` refs are kept; any other external ref
//   is an error;
// - paths are merged in source order (a path defined twice is an error); components of every source
//   are merged (a name defined twice with different content is an error) and sorted by name;
// - the root `security` of every source that has paths must be identical; it becomes the root
//   `security` of the bundle; tags are collected and ordered Native, OpenAI Compatible,
//   Anthropic Compatible, Meta;
// - every `#/components/…` ref of the bundle must resolve.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import YAML from 'yaml';
import { buildOperationsModule } from './client-operations.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['components.yaml', 'native.yaml', 'openai.yaml', 'anthropic.yaml'];
const TAG_ORDER = ['Native', 'OpenAI Compatible', 'Anthropic Compatible', 'Meta'];
const COMPONENT_SECTIONS = ['schemas', 'responses', 'parameters', 'requestBodies', 'headers', 'securitySchemes'];
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const OUT_DIR = join(ROOT, 'generated');
const OUT_JSON = join(OUT_DIR, 'openapi.json');
const OUT_YAML = join(OUT_DIR, 'openapi.yaml');
const OUT_TYPES = join(OUT_DIR, 'types.ts');
const OUT_OPERATIONS = join(OUT_DIR, 'operations.ts');

class BundleError extends Error {}

function fail(message) {
  throw new BundleError(message);
}

/** Deep copy with every `$ref` rewritten for the bundle. */
function rewriteRefs(node, file, where) {
  if (Array.isArray(node)) return node.map((item, i) => rewriteRefs(item, file, `${where}[${i}]`));
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') {
      out[key] = rewriteRef(value, file, where);
    } else {
      out[key] = rewriteRefs(value, file, `${where}.${key}`);
    }
  }
  return out;
}

function rewriteRef(ref, file, where) {
  if (ref.startsWith('#/')) return ref;
  const m = /^(?:\.\/)?components\.yaml(#\/.*)$/.exec(ref);
  if (m) return m[1];
  return fail(`${file}: unsupported external $ref ${JSON.stringify(ref)} at ${where}`);
}

function sortedObject(obj) {
  const out = {};
  for (const key of Object.keys(obj).sort()) out[key] = obj[key];
  return out;
}

function resolvePointer(doc, ref) {
  let node = doc;
  for (const raw of ref.slice(2).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(part in node)) return undefined;
    node = node[part];
  }
  return node;
}

function checkRefs(doc, node = doc, where = '#') {
  if (Array.isArray(node)) {
    node.forEach((item, i) => checkRefs(doc, item, `${where}/${i}`));
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') {
      if (resolvePointer(doc, value) === undefined) fail(`unresolved $ref ${value} at ${where}`);
    } else {
      checkRefs(doc, value, `${where}/${key}`);
    }
  }
}

export function loadSources() {
  return SOURCES.map((file) => {
    const text = readFileSync(join(ROOT, 'openapi', file), 'utf8');
    const parsed = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
    if (!parsed || typeof parsed !== 'object') fail(`${file}: not a YAML mapping`);
    if (parsed.openapi !== '3.0.3') fail(`${file}: openapi must be 3.0.3 (got ${parsed.openapi})`);
    return { file, doc: rewriteRefs(parsed, file, file) };
  });
}

export function bundle(sources, version) {
  const paths = {};
  const components = {};
  const tags = new Map();
  let security;
  let securityFrom;

  for (const { file, doc } of sources) {
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (path in paths) fail(`${file}: path ${path} is already defined by another document`);
      paths[path] = item;
    }
    for (const [section, entries] of Object.entries(doc.components ?? {})) {
      if (!COMPONENT_SECTIONS.includes(section)) fail(`${file}: unsupported components section ${section}`);
      components[section] ??= {};
      for (const [name, value] of Object.entries(entries ?? {})) {
        const existing = components[section][name];
        if (existing !== undefined && !isDeepStrictEqual(existing, value)) {
          fail(`${file}: components.${section}.${name} is defined differently in another document`);
        }
        components[section][name] = value;
      }
    }
    if (Object.keys(doc.paths ?? {}).length > 0) {
      if (security === undefined) {
        security = doc.security;
        securityFrom = file;
      } else if (!isDeepStrictEqual(security, doc.security)) {
        fail(`${file}: root security differs from ${securityFrom}`);
      }
    }
    for (const tag of doc.tags ?? []) {
      if (!tags.has(tag.name)) tags.set(tag.name, tag);
    }
  }

  // every operation must use known tags and carry an operationId
  const operationIds = new Set();
  for (const [path, item] of Object.entries(paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op) continue;
      if (!op.operationId) fail(`${method.toUpperCase()} ${path}: missing operationId`);
      if (operationIds.has(op.operationId)) fail(`duplicate operationId ${op.operationId}`);
      operationIds.add(op.operationId);
      for (const tag of op.tags ?? []) {
        if (!TAG_ORDER.includes(tag)) fail(`${op.operationId}: unknown tag ${tag}`);
      }
    }
  }
  for (const name of tags.keys()) {
    if (!TAG_ORDER.includes(name)) fail(`unknown tag ${name}`);
  }
  for (const name of TAG_ORDER) {
    if (!tags.has(name)) fail(`tag ${name} is not declared by any document`);
  }

  const orderedComponents = {};
  for (const section of COMPONENT_SECTIONS) {
    if (components[section]) orderedComponents[section] = sortedObject(components[section]);
  }

  const doc = {
    openapi: '3.0.3',
    info: {
      title: 'clinvk API',
      version,
      description: [
        'HTTP API in front of the `claude`, `codex` and `gemini` coding-agent CLIs, in three styles:',
        'native REST (`/api/v1/*`, `{"success":…}` envelope), OpenAI-compatible (`/openai/v1/*`) and',
        'Anthropic-compatible (`/anthropic/v1/*`), plus bare meta endpoints (`/health`,',
        '`/openapi.json`, `/openapi.yaml`, `/docs`, `/metrics`).',
        '',
        'Authentication is optional (hence the empty requirement `{}` in `security`): when API keys',
        'are configured, every request except the meta endpoints needs `X-Api-Key: <key>` or',
        '`Authorization: Bearer <key>`.',
        '',
        'Every response carries `X-Request-Id` and `traceparent`. Errors use the shape of the API style',
        'of the path (native envelope, OpenAI error, Anthropic error). A known path called with a',
        'method it does not support answers 405 `method_not_allowed` with an `Allow` header on every',
        "path (covered by each operation's `default` response rather than listed per operation).",
        '',
        'Streams: a streamed response body is declared as `type: string` (so generated clients hand',
        "back the raw stream), and the media type's `x-clinvk-stream-event` extension references the",
        'schema of one event (an NDJSON line, or the JSON `data` of one SSE frame). The official',
        'TypeScript client (`clinvk/client`) reads them as async iterators of typed events.',
      ].join('\n'),
      contact: { name: 'clinvk maintainers' },
      license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
    },
    servers: [{ url: '/', description: 'This server' }],
    security: security ?? [],
    tags: TAG_ORDER.map((name) => tags.get(name)),
    paths,
    components: orderedComponents,
  };
  checkRefs(doc);
  return doc;
}

const GENERATED_NOTE =
  'Generated by scripts/generate.mjs from openapi/*.yaml — do not edit by hand; run `npm run generate`.';

export async function buildOutputs() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const doc = bundle(loadSources(), pkg.version);
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  // served as is at /openapi.yaml: no comment header (JSON cannot carry one either)
  const yaml = YAML.stringify(doc, { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false });

  const { default: openapiTS, astToString } = await import('openapi-typescript');
  // give openapi-typescript its own copy: it may annotate the object it is given
  const ast = await openapiTS(JSON.parse(json), { rootTypes: true, silent: true });
  const types = `/**\n * ${GENERATED_NOTE}\n * Types of the bundled clinvk OpenAPI document (openapi-typescript).\n */\n\n${astToString(ast)}`;
  const operations = buildOperationsModule(doc, GENERATED_NOTE);
  return { doc, files: { [OUT_JSON]: json, [OUT_YAML]: yaml, [OUT_TYPES]: types, [OUT_OPERATIONS]: operations } };
}

async function main() {
  const check = process.argv.includes('--check');
  const first = await buildOutputs();
  if (check) {
    const second = await buildOutputs();
    let ok = true;
    for (const [file, content] of Object.entries(first.files)) {
      const rel = file.slice(ROOT.length + 1);
      if (second.files[file] !== content) {
        console.error(`not deterministic: two builds of ${rel} differ`);
        ok = false;
      }
      let current;
      try {
        current = readFileSync(file, 'utf8');
      } catch {
        current = undefined;
      }
      if (current !== content) {
        console.error(`${rel} is stale: run \`npm run generate\``);
        ok = false;
      }
    }
    if (!ok) process.exit(1);
    console.log('generated/ is up to date and the build is deterministic');
    return;
  }
  mkdirSync(OUT_DIR, { recursive: true });
  for (const [file, content] of Object.entries(first.files)) writeFileSync(file, content);
  const opCount = Object.values(first.doc.paths).reduce((n, item) => n + HTTP_METHODS.filter((m) => item[m]).length, 0);
  console.log(
    `generated/openapi.json, generated/openapi.yaml, generated/types.ts, generated/operations.ts (${Object.keys(first.doc.paths).length} paths, ${opCount} operations, ${Object.keys(first.doc.components.schemas).length} schemas)`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(err instanceof BundleError ? `generate: ${err.message}` : err);
    process.exit(1);
  });
}
