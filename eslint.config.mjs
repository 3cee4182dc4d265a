// ESLint: a small set of correctness rules plus the layer rules of docs/architecture.md, written as
// per-folder `no-restricted-imports` so a layer violation fails `npm run lint` (and `make test`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NODE_IO = ['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'proper-lockfile'];
const NODE_PROCESS = ['child_process', 'node:child_process', 'cross-spawn'];
const NODE_NET = ['net', 'node:net', 'http', 'node:http', 'https', 'node:https'];
const HTTP_NO_CLI = ['**/backends/claude/**', '**/backends/codex/**', '**/backends/gemini/**', '**/backends/runner*'];

/** One layer rule: files under `dir` (a folder below src/, or one file) must not import `paths` (package names) or `patterns` (path globs). */
function layer(dir, why, paths = [], patterns = []) {
  return {
    files: [dir.endsWith('.ts') ? `src/${dir}` : `src/${dir}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: paths.map((name) => ({ name, message: why })),
          patterns: patterns.length ? [{ group: patterns, message: why }] : [],
        },
      ],
    },
  };
}

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      'generated/',
      '.tmp/',
      'test/fixtures/',
      'scripts/bench/fixtures/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        Buffer: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        structuredClone: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
      'no-control-regex': 'off',
      'no-useless-escape': 'off',
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  // Layer rules (what each folder must not touch).
  layer(
    'handlers',
    'handlers map request → service → response: no processes, files or CLI parsing',
    [...NODE_IO, ...NODE_PROCESS],
    [
      '**/backends/*/parse*',
      '**/backends/*/stream*',
      '**/backends/runner*',
      '**/sessions/file*',
      '**/sessions/file/**',
      // jobs only through the service, the event reader and the record types
      '**/jobs/**',
      '!**/jobs/service',
      '!**/jobs/reader',
      '!**/jobs/types',
    ],
  ),
  layer(
    'jobs',
    'jobs know nothing about HTTP (handlers call the service)',
    ['express'],
    ['**/http/**', '**/handlers/**'],
  ),
  layer(
    'compat',
    'compat holds pure translators: no I/O, no HTTP',
    [...NODE_IO, ...NODE_PROCESS, ...NODE_NET, 'express'],
    ['**/http/**', '**/handlers/**', '**/sessions/**', '**/execution/executor*', '**/backends/runner*'],
  ),
  layer(
    'backends',
    'backends must not depend on Express or the HTTP layer',
    ['express', 'cors', 'express-rate-limit'],
    ['**/http/**', '**/handlers/**'],
  ),
  layer(
    'execution',
    'execution must not know HTTP (it returns typed errors)',
    ['express', 'cors', 'express-rate-limit'],
    ['**/http/**', '**/handlers/**'],
  ),
  layer(
    'sessions',
    'sessions must not depend on HTTP or execution',
    ['express'],
    ['**/http/**', '**/handlers/**', '**/execution/**'],
  ),
  layer(
    'observability',
    'observability sits below the layers it observes: it takes plain values and declares the observer interfaces they call',
    ['express'],
    [
      '**/http/**',
      '**/handlers/**',
      '**/execution/**',
      '**/jobs/**',
      '**/sessions/**',
      '**/backends/**',
      '**/auth/**',
      '**/usage/**',
      '!**/usage/types', // usage records are plain data
      '**/cluster/**',
    ],
  ),
  layer(
    'config',
    'config does not depend on the HTTP layer',
    ['express'],
    ['**/http/**', '**/handlers/**', '**/execution/**'],
  ),
  layer(
    'http',
    'the HTTP layer does not know about CLIs or the handlers it calls (HandlerFn is declared in http/)',
    NODE_PROCESS,
    [...HTTP_NO_CLI, '**/handlers/**'],
  ),
  // the composition root: server.ts wires services and handlers into the app
  layer('http/server.ts', 'the HTTP layer does not know about CLIs', NODE_PROCESS, HTTP_NO_CLI),
  {
    // the client ships alone as clinvk/client: Node 20 fetch and the generated contract, nothing of the server
    files: ['src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!\\./|\\.\\./\\.\\./generated/)',
              message: 'the client (clinvk/client) imports only its own files and generated/',
            },
          ],
        },
      ],
    },
  },
  {
    // the console is browser code bundled by scripts/build-console.mjs: it talks to the server only over
    // the public HTTP API, so it imports its own files, its UI libraries and the generated contract types
    files: ['console/**/*.ts', 'console/**/*.tsx'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^(?!\\./|\\.\\./(?!\\.\\./)|\\.\\./\\.\\./generated/types$|preact$|preact/hooks$|marked$|dompurify$)',
              message: 'the console imports only its own files, preact, marked, dompurify and generated/types',
            },
          ],
        },
      ],
    },
  },
  layer('lib', 'lib helpers are leaves: they import nothing from the rest of src', [], ['../*', '!./*']),
);
