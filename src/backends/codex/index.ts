/** The codex adapter. */
import { booleanFlags, valueFlags } from '../extra-flags';
import type { BackendAdapter } from '../types';
import { CODEX_ONBOARDING } from './onboarding';
import { buildCodexArgs } from './args';
import { parseCodexResult } from './parse';
import { CodexStreamParser } from './stream';

/**
 * Request `extra` allow-list. `-p`/`--profile` is not on it: a profile is a config file an agent may
 * have written; an operator can add it back with `backends.codex.allowed_extra_flags`.
 */
export const CODEX_EXTRA_FLAGS = [
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
  flagAliases: {
    '--model': '-m',
    '--sandbox': '-s',
    '--ask-for-approval': '-a',
    '--profile': '-p',
    '--config': '-c',
    '--cd': '-C',
    '--image': '-i',
    '--output-last-message': '-o',
  },
  modelAliases: { fast: 'gpt-5.5', balanced: 'gpt-6.2-sol', best: 'gpt-6.2-sol' },
  systemPromptAsFlag: false,
  onboarding: CODEX_ONBOARDING,
  cumulativeUsage: true,
};
