/**
 * The end-to-end project: the real CLIs against the fake model provider (`make e2e`, which runs
 * test/e2e/run.js). Not part of the default jest run (jest.config.js ignores test/e2e).
 * @type {import('jest').Config}
 */
module.exports = {
  rootDir: '../..',
  displayName: 'e2e',
  testEnvironment: 'node',
  roots: ['<rootDir>/test/e2e'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
    ],
  },
  // A gemini run takes 4-7 s before its first model call; timeouts give a loaded machine room.
  testTimeout: 300000,
  maxWorkers: 2,
  verbose: true,
};
