/** The gemini adapter. */
import { booleanFlags, valueFlags } from '../extra-flags';
import type { BackendAdapter } from '../types';
import { GEMINI_ONBOARDING } from './onboarding';
import { buildGeminiArgs, geminiCleanupArgs } from './args';
import { parseGeminiResult } from './parse';
import { GeminiStreamParser } from './stream';

/**
 * Request `extra` allow-list. `--allowed-tools` (tools that run without confirmation) is not on it;
 * an operator can add it back with `backends.gemini.allowed_extra_flags`.
 */
export const GEMINI_EXTRA_FLAGS = [
  ...valueFlags(
    { kind: 'regex', pattern: /^[A-Za-z0-9_.,:()*/ -]+$/ },
    '--allowed-mcp-server-names',
    '--extensions',
    '-e',
  ),
  ...booleanFlags('--debug', '-d'),
];

export const geminiAdapter: BackendAdapter = {
  name: 'gemini',
  defaultCommand: 'gemini',
  vendor: 'google',
  displayName: 'Gemini CLI (gemini)',
  buildArgs: buildGeminiArgs,
  parseResult: parseGeminiResult,
  createStreamParser: () => new GeminiStreamParser(),
  extraFlags: GEMINI_EXTRA_FLAGS,
  flagAliases: {
    '-d': '--debug',
    '-e': '--extensions',
    '-m': '--model',
    '-s': '--sandbox',
    '-y': '--yolo',
    '-r': '--resume',
    '-p': '--prompt',
    '-o': '--output-format',
    '-i': '--prompt-interactive',
    '-w': '--worktree',
  },
  modelAliases: { fast: 'gemini-3.8-flash', balanced: 'gemini-3.8-flash', best: 'gemini-3.1-pro-preview' },
  systemPromptAsFlag: false,
  cleanupArgsAfterEphemeral: geminiCleanupArgs,
  onboarding: GEMINI_ONBOARDING,
  cumulativeUsage: false,
};
