/** claude stream-json parser. */
import type { ProcessExit, StreamFinish, UnifiedEvent } from '../types';
import { compact, isRecord, JsonLineParser, nonEmpty, str, ToolNames, type JsonObject } from '../util';
import { evaluateClaudeResult } from './parse';

/** Text of a `tool_result` block's `content`: the string, or its text blocks joined with `\n`. */
export function toolResultText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  return content
    .filter((b): b is JsonObject => isRecord(b) && b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text as string)
    .join('\n');
}

function blocksOf(message: unknown): JsonObject[] {
  return isRecord(message) && Array.isArray(message.content) ? message.content.filter(isRecord) : [];
}

export class ClaudeStreamParser extends JsonLineParser {
  private sessionId?: string;
  private result?: JsonObject;
  private currentMessageId = '';
  private readonly textStreamed = new Set<string>();
  private readonly thinkingStreamed = new Set<string>();
  private readonly tools = new ToolNames();

  protected handle(obj: JsonObject): UnifiedEvent[] {
    switch (obj.type) {
      case 'system':
        return this.onSystem(obj);
      case 'stream_event':
        return this.onStreamEvent(obj.event);
      case 'assistant':
        return this.onAssistant(obj.message);
      case 'user':
        return this.onUser(obj.message);
      case 'result':
        this.result = obj;
        return [];
      default:
        return [];
    }
  }

  private onSystem(obj: JsonObject): UnifiedEvent[] {
    if (obj.subtype === 'init') {
      this.sessionId = nonEmpty(obj.session_id) ?? this.sessionId;
      const content = compact({ backend_session_id: this.sessionId, model: str(obj.model), working_dir: str(obj.cwd) });
      return [{ type: 'init', content }];
    }
    const stage = nonEmpty(obj.status) ?? nonEmpty(obj.subtype);
    return stage !== undefined ? [{ type: 'progress', content: { stage } }] : [];
  }

  private onStreamEvent(event: unknown): UnifiedEvent[] {
    if (!isRecord(event)) return [];
    if (event.type === 'message_start') {
      this.currentMessageId = (isRecord(event.message) ? str(event.message.id) : undefined) ?? '';
      return [];
    }
    if (event.type !== 'content_block_delta' || !isRecord(event.delta)) return [];
    const delta = event.delta;
    if (delta.type === 'text_delta' && nonEmpty(delta.text) !== undefined) {
      this.textStreamed.add(this.currentMessageId);
      return [{ type: 'message', content: { text: delta.text as string, role: 'assistant', is_partial: true } }];
    }
    if (delta.type === 'thinking_delta' && nonEmpty(delta.thinking) !== undefined) {
      this.thinkingStreamed.add(this.currentMessageId);
      return [{ type: 'thinking', content: { text: delta.thinking as string, is_partial: true } }];
    }
    return [];
  }

  private onAssistant(message: unknown): UnifiedEvent[] {
    if (!isRecord(message) || message.model === '<synthetic>') return [];
    const id = str(message.id) ?? '';
    return blocksOf(message).flatMap((b) => this.assistantBlock(b, id));
  }

  private assistantBlock(b: JsonObject, messageId: string): UnifiedEvent[] {
    if (b.type === 'text' && nonEmpty(b.text) !== undefined && !this.textStreamed.has(messageId)) {
      return [{ type: 'message', content: { text: b.text as string, role: 'assistant' } }];
    }
    if (b.type === 'thinking' && nonEmpty(b.thinking) !== undefined && !this.thinkingStreamed.has(messageId)) {
      return [{ type: 'thinking', content: { text: b.thinking as string } }];
    }
    if (b.type === 'tool_use') {
      const name = str(b.name) ?? '';
      this.tools.remember(str(b.id), name);
      return [{ type: 'tool_use', content: compact({ tool_id: str(b.id), tool_name: name, input: b.input }) }];
    }
    return [];
  }

  private onUser(message: unknown): UnifiedEvent[] {
    return blocksOf(message)
      .filter((b) => b.type === 'tool_result')
      .map((b): UnifiedEvent => {
        const id = str(b.tool_use_id);
        const content = { tool_id: id, tool_name: this.tools.nameOf(id), output: toolResultText(b.content) };
        return { type: 'tool_result', content: compact({ ...content, is_error: b.is_error === true }) };
      });
  }

  finish(exit: ProcessExit, stderr: string): StreamFinish {
    if (!this.result) {
      return compact({ success: false, error: 'claude ended without a result', backendSessionId: this.sessionId });
    }
    const r = evaluateClaudeResult(this.result, stderr, exit);
    return compact({
      success: r.success,
      error: r.error,
      usage: r.usage,
      backendSessionId: r.backendSessionId ?? this.sessionId,
    });
  }
}
