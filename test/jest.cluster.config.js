/**
 * The HTTP suites against a cluster of 2 API nodes + 2 workers (real processes, Redis, PostgreSQL):
 * `npm run test:cluster` (needs `npm run build`: the nodes run dist/). The harness reads
 * CLINVK_TEST_TARGET (test/helpers/server.ts); tests that look inside one process are skipped there.
 */
const base = require('../jest.config.js');

process.env.CLINVK_TEST_TARGET = 'cluster';

module.exports = {
  ...base,
  rootDir: '..',
  testMatch: [
    'prompt',
    'sessions',
    'stream',
    'stream-prompt',
    'aggregate',
    'openai',
    'anthropic',
    'jobs',
    'keys',
    'key-policies',
    'ownership',
  ].map((name) => `<rootDir>/test/integration/${name}.test.ts`),
  // two files at a time, each with its own clusters (4 nodes each; at most two clusters per file alive)
  maxWorkers: 2,
};
