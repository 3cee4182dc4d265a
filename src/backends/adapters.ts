/** The adapter registry, in the fixed order claude, codex, gemini. */
import { claudeAdapter } from './claude';
import { codexAdapter } from './codex';
import { geminiAdapter } from './gemini';
import type { BackendAdapter, BackendName } from './types';

export const ADAPTERS: Record<BackendName, BackendAdapter> = {
  claude: claudeAdapter,
  codex: codexAdapter,
  gemini: geminiAdapter,
};

export const ADAPTER_ORDER: BackendName[] = ['claude', 'codex', 'gemini'];

export function getAdapter(name: BackendName): BackendAdapter {
  return ADAPTERS[name];
}
