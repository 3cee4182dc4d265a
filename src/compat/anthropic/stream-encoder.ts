/**
 * Anthropic messages SSE encoder: native events → `event:` + `data:` frames. Pure
 * apart from its per-stream state (the streamed text, for usage estimates).
 */
import type { TokenUsage } from '../../backends/types';
import { anthropicErrorType, ERROR_STATUS, type ErrorCode } from '../../errors';
import type { NativeEvent } from '../../execution/types';
import { compatUsage } from '../models';
import { isHeartbeat, messageText, terminalError, type SseEncoder } from '../sse';

export interface AnthropicStreamOptions {
  /** `msg_<24 base62>`. */
  id: string;
  /** The request's `model` string. */
  model: string;
  /** The prompt as the CLI received it (usage estimate when the CLI reported none). */
  promptText: string;
}

/** One frame: the `event:` name equals the payload's `type`. */
export function anthropicFrame(payload: { type: string } & Record<string, unknown>): string {
  return `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`;
}

export const PING_FRAME = anthropicFrame({ type: 'ping' });

/** Anthropic error `type` for a (stream) code: api_error for stream-only codes. */
export function anthropicStreamErrorType(code: string): string {
  return Object.prototype.hasOwnProperty.call(ERROR_STATUS, code) ? anthropicErrorType(code as ErrorCode) : 'api_error';
}

export class AnthropicStreamEncoder implements SseEncoder {
  private output = '';
  private ended = false;

  constructor(private readonly opts: AnthropicStreamOptions) {}

  start(): string {
    return (
      anthropicFrame({
        type: 'message_start',
        message: {
          id: this.opts.id,
          type: 'message',
          role: 'assistant',
          model: this.opts.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 0, output_tokens: 0 },
        },
      }) +
      anthropicFrame({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) +
      PING_FRAME
    );
  }

  encode(ev: NativeEvent): string | null {
    if (this.ended) return null;
    if (isHeartbeat(ev)) return PING_FRAME;
    const text = messageText(ev);
    if (text !== undefined) {
      this.output += text;
      return anthropicFrame({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
    }
    if (ev.type === 'done') {
      this.ended = true;
      const u = compatUsage(
        (ev.content as { token_usage?: TokenUsage }).token_usage,
        this.opts.promptText,
        this.output,
      );
      return (
        anthropicFrame({ type: 'content_block_stop', index: 0 }) +
        anthropicFrame({
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { input_tokens: u.input_tokens, output_tokens: u.output_tokens },
        }) +
        anthropicFrame({ type: 'message_stop' })
      );
    }
    if (ev.type === 'error') {
      this.ended = true;
      const { message, code } = terminalError(ev);
      return anthropicFrame({ type: 'error', error: { type: anthropicStreamErrorType(code), message } });
    }
    return null;
  }
}
