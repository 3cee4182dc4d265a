/**
 * From a validated compat request to the PromptRequest the PromptService runs: model routing, flattening, the byte limit. Pure.
 */
import { compatDefaultBackend, compatModes, type PolicyHolder } from '../auth/policy';
import type { ApprovalMode, BackendName, SandboxMode } from '../backends/types';
import type { Config } from '../config/types';
import type { PromptRequest } from '../execution/prompt-service';
import { resolveCompatModel, type ModelRoute } from './models';
import { checkTranscriptSize, cliPromptText, type Transcript } from './transcript';

export interface CompatRun {
  route: ModelRoute;
  /** The prompt as the CLI will receive it (usage estimates). */
  promptText: string;
  request: PromptRequest;
}

/** The API key of a compat request and the configured default modes of each backend. */
export interface CompatKey {
  who?: PolicyHolder;
  defaultModes(backend: BackendName): { approval: ApprovalMode; sandbox: SandboxMode };
}

/**
 * `flatten` produces the transcript (it may throw `unsupported_content` / `validation_error`);
 * it runs after the model check so every semantic error precedes the run. With a `key`, a model
 * that names no backend falls back to the key's first allowed backend when `default_backend` is not
 * allowed, and the run uses the key's first allowed approval/sandbox mode when the configured
 * default is not allowed (these APIs carry no mode fields). A model naming a backend the key may
 * not use is refused later, with the other policy checks (403 `backend_not_allowed`).
 */
export function planCompatRun(
  config: Pick<Config, 'backends' | 'server' | 'default_backend'>,
  model: string,
  flatten: () => Transcript,
  stream: boolean,
  key?: CompatKey,
): CompatRun {
  const route = resolveCompatModel(model, compatDefaultBackend(key?.who, config.default_backend));
  const transcript = flatten();
  checkTranscriptSize(config, route.backend, transcript);
  const request: PromptRequest = {
    backend: route.backend,
    prompt: transcript.prompt,
    ephemeral: true,
    output_format: stream ? 'stream-json' : 'json',
  };
  if (route.model !== undefined) request.model = route.model;
  if (transcript.systemPrompt !== undefined) request.system_prompt = transcript.systemPrompt;
  if (key) Object.assign(request, compatModes(key.who, key.defaultModes(route.backend)));
  return { route, promptText: cliPromptText(config, route.backend, transcript), request };
}
