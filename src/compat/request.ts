/**
 * From a validated compat request to the PromptRequest the PromptService runs: model routing, flattening, the byte limit. Pure.
 */
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

/**
 * `flatten` produces the transcript (it may throw `unsupported_content` / `validation_error`);
 * it runs after the model check so every semantic error precedes the run.
 */
export function planCompatRun(
  config: Pick<Config, 'backends' | 'server' | 'default_backend'>,
  model: string,
  flatten: () => Transcript,
  stream: boolean,
): CompatRun {
  const route = resolveCompatModel(model, config.default_backend);
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
  return { route, promptText: cliPromptText(config, route.backend, transcript), request };
}
