/** The adapter registry, in the fixed order claude, codex, gemini. */
import { claudeAdapter } from './claude';
import { codexAdapter } from './codex';
import { geminiAdapter } from './gemini';
import { BACKEND_NAMES, type BackendAdapter, type BackendName } from './types';

export const ADAPTERS: Record<BackendName, BackendAdapter> = {
  claude: claudeAdapter,
  codex: codexAdapter,
  gemini: geminiAdapter,
};

export const ADAPTER_ORDER: readonly BackendName[] = BACKEND_NAMES;

export function getAdapter(name: BackendName): BackendAdapter {
  return ADAPTERS[name];
}
