/** The codex adapter. */
import { booleanFlags, valueFlags } from '../extra-flags';
import type { BackendAdapter } from '../types';
import { buildCodexArgs } from './args';
import { parseCodexResult } from './parse';
import { CodexStreamParser } from './stream';

export const CODEX_EXTRA_FLAGS = [
  ...valueFlags({ kind: 'regex', pattern: /^[A-Za-z0-9_.-]{1,64}$/ }, '--profile', '-p'),
  ...valueFlags({ kind: 'enum', values: ['always', 'never', 'auto'] }, '--color'),
  ...booleanFlags('--strict-config', '--skip-git-repo-check'),
];

export const codexAdapter: BackendAdapter = {
  name: 'codex',
  defaultCommand: 'codex',
  vendor: 'openai',
  displayName: 'Codex CLI (codex)',
  buildArgs: buildCodexArgs,
  parseResult: parseCodexResult,
  createStreamParser: () => new CodexStreamParser(),
  extraFlags: CODEX_EXTRA_FLAGS,
  modelAliases: { fast: 'gpt-5.5', balanced: 'gpt-6.2-sol', best: 'gpt-6.2-sol' },
  systemPromptAsFlag: false,
  cumulativeUsage: true,
};
