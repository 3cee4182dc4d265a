/**
 * OpenAI chat-completion SSE encoder: native events → `data:` frames. Pure apart from
 * its per-stream state (the streamed text, for usage estimates).
 */
import type { TokenUsage } from '../../backends/types';
import { ERROR_STATUS, openaiErrorType, type ErrorCode } from '../../errors';
import type { NativeEvent } from '../../execution/types';
import { compatUsage } from '../models';
import { isHeartbeat, messageText, terminalError, type SseEncoder } from '../sse';

export interface OpenAIStreamOptions {
  /** `chatcmpl-<24 base62>`, shared by every chunk. */
  id: string;
  /** Request time, unix seconds. */
  created: number;
  /** The request's `model` string. */
  model: string;
  /** `stream_options.include_usage`. */
  includeUsage: boolean;
  /** The prompt as the CLI received it (usage estimate when the CLI reported none). */
  promptText: string;
}

interface ChunkDelta {
  role?: 'assistant';
  content?: string;
}

export const KEEP_ALIVE_FRAME = ': keep-alive\n\n';
export const DONE_FRAME = 'data: [DONE]\n\n';

function frame(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** `type` of an OpenAI error for a (stream) code: server_error for stream-only codes. */
export function openaiStreamErrorType(code: string): string {
  return Object.prototype.hasOwnProperty.call(ERROR_STATUS, code) ? openaiErrorType(code as ErrorCode) : 'server_error';
}

export class OpenAIStreamEncoder implements SseEncoder {
  private output = '';
  private ended = false;

  constructor(private readonly opts: OpenAIStreamOptions) {}

  start(): string {
    return this.chunk({ role: 'assistant', content: '' }, null);
  }

  encode(ev: NativeEvent): string | null {
    if (this.ended) return null;
    if (isHeartbeat(ev)) return KEEP_ALIVE_FRAME;
    const text = messageText(ev);
    if (text !== undefined) {
      this.output += text;
      return this.chunk({ content: text }, null);
    }
    if (ev.type === 'done') {
      this.ended = true;
      let out = this.chunk({}, 'stop');
      if (this.opts.includeUsage) out += this.usageChunk((ev.content as { token_usage?: TokenUsage }).token_usage);
      return out + DONE_FRAME;
    }
    if (ev.type === 'error') {
      this.ended = true;
      const { message, code } = terminalError(ev);
      return frame({ error: { message, type: openaiStreamErrorType(code), param: null, code } });
    }
    return null;
  }

  private base(): Record<string, unknown> {
    return { id: this.opts.id, object: 'chat.completion.chunk', created: this.opts.created, model: this.opts.model };
  }

  private chunk(delta: ChunkDelta, finish: 'stop' | null): string {
    const body: Record<string, unknown> = {
      ...this.base(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    if (this.opts.includeUsage) body.usage = null;
    return frame(body);
  }

  private usageChunk(reported: TokenUsage | undefined): string {
    const u = compatUsage(reported, this.opts.promptText, this.output);
    return frame({
      ...this.base(),
      choices: [],
      usage: {
        prompt_tokens: u.input_tokens,
        completion_tokens: u.output_tokens,
        total_tokens: u.input_tokens + u.output_tokens,
      },
    });
  }
}
