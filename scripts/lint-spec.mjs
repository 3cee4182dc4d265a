#!/usr/bin/env node
// `npm run lint:spec`: checks the bundled contract.
// 1. `@redocly/cli lint` on generated/openapi.yaml with ./redocly.yaml (errors fail the run);
// 2. openapi-backend 5.20.1 initialises the bundle in strict mode (it checks the document against
//    the OpenAPI 3.0 meta-schema; a document it rejects would route nothing) and routes every
//    operation;
// 3. every operationId of SPEC §1.4.6 exists exactly once, and no other operationId exists.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

export const OPERATION_IDS = [
  'executePrompt',
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
    if (!OPERATION_IDS.includes(id)) problems.push(`unexpected operationId ${id} (not in SPEC §1.4.6)`);
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
