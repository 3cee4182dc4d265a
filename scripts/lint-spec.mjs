#!/usr/bin/env node
// `npm run lint:spec`: checks the bundled contract.
// 1. `@redocly/cli lint` on generated/openapi.yaml with ./redocly.yaml (errors fail the run);
// 2. openapi-backend 5.20.1 initialises the bundle in strict mode (it checks the document against
//    the OpenAPI 3.0 meta-schema; a document it rejects would route nothing) and routes every
//    operation;
// 3. every operationId exists exactly once, and no other operationId exists;
// 4. every component is referenced (extensions included) and stream media types are strings that
//    name their event schema in `x-clinvk-stream-event`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

export const OPERATION_IDS = [
  'executePrompt',
  'streamPrompt',
  'executeParallel',
  'executeChain',
  'executeCompare',
  'listBackends',
  'listSessions',
  'getSession',
  'deleteSession',
  'healthCheck',
  'openaiListModels',
  'openaiGetModel',
  'openaiChatCompletions',
  'anthropicCreateMessage',
  'anthropicCreateMessageV1',
  'anthropicListModels',
  'anthropicListModelsV1',
  'anthropicGetModel',
  'anthropicGetModelV1',
  'getOpenApiJson',
  'getOpenApiYaml',
  'getDocs',
  'getMetrics',
  'getIndex',
  // jobs and executions
  'createJob',
  'listJobs',
  'getJob',
  'streamJobEvents',
  'cancelJob',
  'deleteJob',
  'listExecutions',
  'cancelExecution',
  'getUsage',
  'getCurrentKey',
];
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const problems = [];

function runRedocly() {
  const bin = join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'redocly.cmd' : 'redocly');
  const res = spawnSync(
    bin,
    ['lint', 'generated/openapi.yaml', '--config', 'redocly.yaml', '--format', 'stylish', '--max-problems', '500'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        REDOCLY_TELEMETRY: 'off',
        REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
        REDOCLY_SUPPRESS_NOTIFICATIONS: 'true',
        NO_COLOR: '1',
      },
    },
  );
  // drop the CLI's boxed Node.js deprecation banner, keep everything else
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`
    .split('\n')
    .filter((line) => !/[║╔╚]/.test(line))
    .join('\n')
    .trim();
  if (output) console.log(output);
  if (res.error) problems.push(`redocly could not run: ${res.error.message}`);
  else if (res.status !== 0) problems.push(`redocly lint failed (exit ${res.status})`);
}

async function checkOpenApiBackend(doc) {
  const { OpenAPIBackend } = require('openapi-backend');
  const addFormats = require('ajv-formats');
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.map(String).join(' '));
  const api = new OpenAPIBackend({
    definition: structuredClone(doc),
    strict: true,
    validate: true,
    ignoreTrailingSlashes: false,
    ajvOpts: { allErrors: true },
    customizeAjv: (ajv) => {
      (addFormats.default ?? addFormats)(ajv);
      return ajv;
    },
  });
  try {
    await api.init();
  } catch (err) {
    problems.push(`openapi-backend rejected the document: ${err.message.slice(0, 2000)}`);
    return;
  } finally {
    console.warn = warn;
  }
  for (const w of warnings) problems.push(`openapi-backend warned during init: ${w.slice(0, 500)}`);
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      if (!item[method]) continue;
      const samplePath = path.replace(/\{[^}]+\}/g, (m) => (m === '{id}' ? '3f2a9c0d' : 'claude'));
      const matched = api.matchOperation({ method, path: samplePath, headers: {}, query: {} });
      if (!matched || matched.operationId !== item[method].operationId) {
        problems.push(
          `openapi-backend routes ${method.toUpperCase()} ${samplePath} to ${matched?.operationId ?? 'nothing'}, expected ${item[method].operationId}`,
        );
      }
    }
  }
}

function checkOperationIds(doc) {
  const seen = new Map();
  for (const item of Object.values(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const id = item[method]?.operationId;
      if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
    }
  }
  for (const id of OPERATION_IDS) {
    const n = seen.get(id) ?? 0;
    if (n !== 1) problems.push(`operationId ${id} appears ${n} times (expected exactly once)`);
  }
  for (const id of seen.keys()) {
    if (!OPERATION_IDS.includes(id)) problems.push(`unexpected operationId ${id} (not in the list above)`);
  }
}

/** Every `$ref` target in the document, extensions included. */
function collectRefs(node, out = new Set()) {
  if (Array.isArray(node)) node.forEach((item) => collectRefs(item, out));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.add(value);
      else collectRefs(value, out);
    }
  }
  return out;
}

// Every component is referenced (Redocly's no-unused-components ignores references made from the
// `x-clinvk-stream-event` extension, so it is off and this check replaces it).
function checkUnusedComponents(doc) {
  const refs = collectRefs({ ...doc, components: undefined });
  // references between components count only when they start from something used
  const pending = [...refs];
  while (pending.length) {
    const ref = pending.pop();
    const [, section, name] = /^#\/components\/([^/]+)\/([^/]+)$/.exec(ref) ?? [];
    const target = section && doc.components?.[section]?.[name];
    if (!target) continue;
    for (const inner of collectRefs(target)) {
      if (!refs.has(inner)) {
        refs.add(inner);
        pending.push(inner);
      }
    }
  }
  for (const [section, entries] of Object.entries(doc.components ?? {})) {
    if (section === 'securitySchemes') continue;
    for (const name of Object.keys(entries)) {
      if (!refs.has(`#/components/${section}/${name}`)) problems.push(`components.${section}.${name} is never used`);
    }
  }
}

// Stream responses: a media type that is not JSON and names an event schema is declared as a
// string (generators then hand back the raw stream), and every event-stream or NDJSON media type
// names its event schema.
function checkStreamMediaTypes(doc) {
  for (const item of Object.values(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op) continue;
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        for (const [type, media] of Object.entries(response.content ?? {})) {
          const isStream = type === 'text/event-stream' || type === 'application/x-ndjson';
          const where = `${op.operationId} ${status} ${type}`;
          if (isStream && !media['x-clinvk-stream-event']?.$ref) {
            problems.push(`${where}: a stream media type needs x-clinvk-stream-event ($ref to the event schema)`);
          }
          if (media['x-clinvk-stream-event'] && media.schema?.type !== 'string') {
            problems.push(`${where}: a stream body is declared as type: string`);
          }
        }
      }
      const streamOp = op['x-clinvk-stream-operation'];
      if (
        streamOp !== undefined &&
        !Object.values(doc.paths).some((i) => HTTP_METHODS.some((m) => i[m]?.operationId === streamOp))
      ) {
        problems.push(`${op.operationId}: x-clinvk-stream-operation names unknown operation ${streamOp}`);
      }
    }
  }
}

async function main() {
  const jsonPath = join(ROOT, 'generated', 'openapi.json');
  if (!existsSync(jsonPath) || !existsSync(join(ROOT, 'generated', 'openapi.yaml'))) {
    console.error('generated/openapi.{json,yaml} missing: run `npm run generate` first');
    process.exit(1);
  }
  runRedocly();
  const doc = JSON.parse(readFileSync(jsonPath, 'utf8'));
  if (doc.openapi !== '3.0.3') problems.push(`openapi is ${doc.openapi}, expected 3.0.3`);
  checkOperationIds(doc);
  checkUnusedComponents(doc);
  checkStreamMediaTypes(doc);
  await checkOpenApiBackend(doc);
  if (problems.length) {
    for (const p of problems) console.error(`lint:spec: ${p}`);
    process.exit(1);
  }
  console.log(
    `lint:spec: ok (redocly lint, openapi-backend strict init and routing, ${OPERATION_IDS.length} operationIds)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
