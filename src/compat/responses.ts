/** Non-stream response bodies of the compatible APIs. Pure. */
import type { ExecutionResult } from '../execution/types';
import { compatUsage } from './models';

export interface CompletionFacts {
  /** Response id (`chatcmpl-…` / `msg_…`). */
  id: string;
  /** The request's `model` string. */
  model: string;
  /** The prompt as the CLI received it (usage estimate when the CLI reported none). */
  promptText: string;
  result: ExecutionResult;
}

export function openaiChatCompletion(f: CompletionFacts & { created: number }): Record<string, unknown> {
  const u = compatUsage(f.result.token_usage, f.promptText, f.result.output);
  const usage: Record<string, unknown> = {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: u.input_tokens + u.output_tokens,
  };
  if (u.cached_tokens !== undefined) usage.prompt_tokens_details = { cached_tokens: u.cached_tokens };
  if (u.reasoning_tokens !== undefined) usage.completion_tokens_details = { reasoning_tokens: u.reasoning_tokens };
  return {
    id: f.id,
    object: 'chat.completion',
    created: f.created,
    model: f.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: f.result.output, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage,
  };
}

export function anthropicMessage(f: CompletionFacts): Record<string, unknown> {
  const u = compatUsage(f.result.token_usage, f.promptText, f.result.output);
  return {
    id: f.id,
    type: 'message',
    role: 'assistant',
    model: f.model,
    content: [{ type: 'text', text: f.result.output }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: u.input_tokens, output_tokens: u.output_tokens },
  };
}
