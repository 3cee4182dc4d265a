/**
 * Prompt assembly, model alias resolution and the model-name pattern.
 */
import type { BackendAdapter } from './types';

/** Model names: no leading `-`, no whitespace, 1–200 characters. */
export const MODEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@+\[\]-]*$/;
export const MODEL_MAX_LENGTH = 200;

export function isValidModel(s: unknown): s is string {
  return typeof s === 'string' && s.length >= 1 && s.length <= MODEL_MAX_LENGTH && MODEL_PATTERN.test(s);
}

/** Alias synonyms: `quick` means `fast`, `powerful` means `best`. */
export const ALIAS_SYNONYMS: Readonly<Record<string, string>> = { quick: 'fast', powerful: 'best' };

/** The request value meaning "pass no --model". */
export const DEFAULT_MODEL_VALUE = 'default';

function own(map: Record<string, string>, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
}

/**
 * Effective `--model` value: undefined / `default` → undefined; an alias (or a synonym of one) of
 * the table in use (`aliasesOverride` replaces the adapter's built-in table) → its target; any
 * other string as is.
 */
export function resolveModel(
  adapter: Pick<BackendAdapter, 'modelAliases'>,
  requested: string | undefined,
  aliasesOverride?: Record<string, string>,
): string | undefined {
  if (requested === undefined || requested === DEFAULT_MODEL_VALUE) return undefined;
  const table = aliasesOverride ?? adapter.modelAliases;
  const synonym = own(ALIAS_SYNONYMS, requested);
  const target = own(table, requested) ?? (synonym !== undefined ? own(table, synonym) : undefined) ?? requested;
  return target === DEFAULT_MODEL_VALUE ? undefined : target;
}

export interface AssembledPrompt {
  /** The prompt as it must reach the CLI. */
  prompt: string;
  /** claude only: the system prompt to pass as a flag. */
  systemPromptFlag?: string;
}

/** The prefix block used by backends without a system-prompt option. */
export function systemInstructionsBlock(systemPrompt: string): string {
  return `[System instructions]\n${systemPrompt}\n[End of system instructions]\n\n`;
}

/**
 * claude keeps the system prompt as a flag; codex and gemini get it prepended to the prompt. An
 * undefined or empty system prompt means none.
 */
export function assemblePrompt(
  adapter: Pick<BackendAdapter, 'systemPromptAsFlag'>,
  prompt: string,
  systemPrompt?: string,
): AssembledPrompt {
  if (systemPrompt === undefined || systemPrompt === '') return { prompt };
  if (adapter.systemPromptAsFlag) return { prompt, systemPromptFlag: systemPrompt };
  return { prompt: systemInstructionsBlock(systemPrompt) + prompt };
}
