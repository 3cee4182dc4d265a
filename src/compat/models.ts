/**
 * Model routing, model lists, ignored parameters, ids and usage figures of the OpenAI- and
 * Anthropic-compatible APIs. Pure functions.
 */
import type {
  SchemaAnthropicModel,
  SchemaAnthropicModelList,
  SchemaOpenAiModel,
  SchemaOpenAiModelList,
} from '../../generated/types';
import { randomBytes } from 'node:crypto';
import type { PolicyHolder } from '../auth/policy';
import { ADAPTER_ORDER } from '../backends/adapters';
import { isValidModel } from '../backends/model-and-prompt';
import { BACKEND_NAMES, isBackendName, type BackendName, type TokenUsage } from '../backends/types';
import type { Config } from '../config/types';
import { validationError } from '../errors';
import { utf8Bytes } from '../security/text';

// ------------------------------------------------------------------------------ model → backend

/** Where a compat request runs: the backend and the `model` to hand to the PromptService. */
export interface ModelRoute {
  backend: BackendName;
  /** Passed as PromptRequest.model (the alias table still applies); absent → configured default. */
  model?: string;
}

const PREFIXED = new RegExp(`^(${BACKEND_NAMES.join('|')})[/:]([\\s\\S]*)$`);
const OPENAI_REASONING = /^o[134](-|$)/i;

function invalidModel(): never {
  throw validationError([{ path: 'body.model', message: 'invalid model name' }]);
}

/**
 * Model → backend routing. Throws a `validation_error` (`body.model`) when the part that
 * would reach the CLI breaks the model rules (pattern, 1–200 characters).
 */
export function resolveCompatModel(m: string, defaultBackend: BackendName): ModelRoute {
  // rule 1: a bare backend name → that backend, its configured default model
  if (isBackendName(m)) return { backend: m };
  // rule 2: `<backend>/<model>` or `<backend>:<model>` → `<model>` through the alias table
  const prefixed = PREFIXED.exec(m);
  if (prefixed) {
    const model = prefixed[2]!;
    if (!isValidModel(model)) invalidModel();
    return { backend: prefixed[1] as BackendName, model };
  }
  if (!isValidModel(m)) invalidModel();
  // rule 3: vendor model names, passed to the CLI as they are
  const lower = m.toLowerCase();
  if (lower.includes('claude')) return { backend: 'claude', model: m };
  if (lower.includes('gemini')) return { backend: 'gemini', model: m };
  if (lower.includes('gpt') || lower.includes('codex') || OPENAI_REASONING.test(m))
    return { backend: 'codex', model: m };
  // rule 4: anything else → the default backend with its configured model
  return { backend: defaultBackend };
}

// ------------------------------------------------------------------------------ model lists

const OWNED_BY: Record<BackendName, string> = { claude: 'anthropic', codex: 'openai', gemini: 'google' };
const DISPLAY_NAME: Record<BackendName, string> = {
  claude: 'Claude Code (claude CLI)',
  codex: 'Codex CLI (codex)',
  gemini: 'Gemini CLI (gemini)',
};

/**
 * Enabled backends in the fixed order claude, codex, gemini; with `who`, only those its API key may
 * use (a model list never offers a backend the caller would be refused).
 */
export function enabledBackends(config: Pick<Config, 'backends'>, who?: PolicyHolder): BackendName[] {
  return ADAPTER_ORDER.filter((b) => config.backends[b].enabled && (!who?.backends || who.backends.includes(b)));
}

export type OpenAIModel = SchemaOpenAiModel;

export type OpenAIModelList = SchemaOpenAiModelList;

/** `startedAt` in epoch ms; `created` is unix seconds. */
export function openaiModelList(
  config: Pick<Config, 'backends'>,
  startedAt: number,
  who?: PolicyHolder,
): OpenAIModelList {
  const created = Math.floor(startedAt / 1000);
  return {
    object: 'list',
    data: enabledBackends(config, who).map((id) => ({ id, object: 'model', created, owned_by: OWNED_BY[id] })),
  };
}

export function openaiModel(
  config: Pick<Config, 'backends'>,
  startedAt: number,
  id: string,
  who?: PolicyHolder,
): OpenAIModel | undefined {
  return openaiModelList(config, startedAt, who).data.find((m) => m.id === id);
}

export type AnthropicModel = SchemaAnthropicModel;

export type AnthropicModelList = SchemaAnthropicModelList;

export function anthropicModelList(
  config: Pick<Config, 'backends'>,
  startedAt: number,
  who?: PolicyHolder,
): AnthropicModelList {
  const createdAt = new Date(startedAt).toISOString();
  const data = enabledBackends(config, who).map((id): AnthropicModel => ({
    type: 'model',
    id,
    display_name: DISPLAY_NAME[id],
    created_at: createdAt,
  }));
  return {
    data,
    has_more: false,
    first_id: data.length ? data[0]!.id : null,
    last_id: data.length ? data[data.length - 1]!.id : null,
  };
}

export function anthropicModel(
  config: Pick<Config, 'backends'>,
  startedAt: number,
  id: string,
  who?: PolicyHolder,
): AnthropicModel | undefined {
  return anthropicModelList(config, startedAt, who).data.find((m) => m.id === id);
}

// ------------------------------------------------------------------------------ ignored params

export type CompatApi = 'openai' | 'anthropic';

const USED_FIELDS: Record<CompatApi, ReadonlySet<string>> = {
  openai: new Set(['model', 'messages', 'stream', 'stream_options', 'n']),
  anthropic: new Set(['model', 'max_tokens', 'messages', 'system', 'stream']),
};

/** Sorted names of the present, non-null request fields the API ignores. */
export function ignoredParams(body: Record<string, unknown>, api: CompatApi): string[] {
  const used = USED_FIELDS[api];
  return Object.keys(body)
    .filter((k) => !used.has(k) && body[k] !== null && body[k] !== undefined)
    .sort();
}

/** HTTP token characters (tchar): anything else could break or forge a header line. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Longest header value built from the names (a client's header limit must never be reached). */
const MAX_HEADER_CHARS = 1024;

/**
 * The `X-Clinvk-Ignored-Params` value for ignored field names, or undefined when there are none.
 * Only names made of token characters are listed (sorted, comma-separated, at most
 * MAX_HEADER_CHARS); the others — or those beyond the limit — are counted, never echoed, in a final
 * `(<n> not shown)` entry, so that no request body can make the header invalid (see docs/security.md).
 */
export function ignoredParamsHeaderValue(names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  const listed: string[] = [];
  let length = 0;
  let hidden = 0;
  for (const name of names) {
    const extra = name.length + (listed.length > 0 ? 1 : 0);
    if (TOKEN.test(name) && length + extra <= MAX_HEADER_CHARS) {
      listed.push(name);
      length += extra;
    } else hidden++;
  }
  if (hidden > 0) listed.push(`(${hidden} not shown)`);
  return listed.join(',');
}

// ------------------------------------------------------------------------------ ids

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `n` uniformly random base62 characters from crypto randomness (rejection sampling, no bias). */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const byte of randomBytes(n * 2)) {
      if (byte >= 248) continue; // 248 = 4 * 62
      out += BASE62[byte % 62];
      if (out.length === n) break;
    }
  }
  return out;
}

export function chatCompletionId(): string {
  return `chatcmpl-${randomBase62(24)}`;
}

export function anthropicMessageId(): string {
  return `msg_${randomBase62(24)}`;
}

// ------------------------------------------------------------------------------ usage

/** `ceil(utf8_bytes / 4)`. */
export function estimateTokens(text: string): number {
  return Math.ceil(utf8Bytes(text) / 4);
}

/** Usage figures of a compat response: the CLI's, or estimates when it reported none. `promptText` is the prompt as it reached the CLI; `output` the answer. */
export function compatUsage(reported: TokenUsage | undefined, promptText: string, output: string): TokenUsage {
  if (reported) return { ...reported };
  return { input_tokens: estimateTokens(promptText), output_tokens: estimateTokens(output) };
}
