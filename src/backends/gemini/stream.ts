/** gemini stream-json parser. */
import type { ProcessExit, StreamFinish, TokenUsage, UnifiedEvent } from '../types';
import { geminiStreamUsage } from '../usage';
import { compact, isRecord, JsonLineParser, nonEmpty, str, ToolNames, type JsonObject } from '../util';
import { geminiErrorMessage, geminiStderrFallback } from './parse';

function toolOutput(obj: JsonObject): string | undefined {
  if (typeof obj.output === 'string') return obj.output;
  const errorMessage = geminiErrorMessage(obj);
  if (errorMessage !== undefined) return errorMessage;
  return obj.output !== undefined ? JSON.stringify(obj.output) : undefined;
}

export class GeminiStreamParser extends JsonLineParser {
  private sessionId?: string;
  private result?: { success: boolean; error?: string; usage?: TokenUsage };
  private readonly tools = new ToolNames();

  protected handle(obj: JsonObject): UnifiedEvent[] {
    switch (obj.type) {
      case 'init':
        this.sessionId = nonEmpty(obj.session_id) ?? this.sessionId;
        return [{ type: 'init', content: compact({ backend_session_id: this.sessionId, model: str(obj.model) }) }];
      case 'message':
        return this.onMessage(obj);
      case 'tool_use': {
        const id = str(obj.tool_id);
        const name = str(obj.tool_name) ?? '';
        this.tools.remember(id, name);
        return [{ type: 'tool_use', content: compact({ tool_id: id, tool_name: name, input: obj.parameters }) }];
      }
      case 'tool_result': {
        const id = str(obj.tool_id);
        const content = { tool_id: id, tool_name: this.tools.nameOf(id), output: toolOutput(obj) };
        return [{ type: 'tool_result', content: compact({ ...content, is_error: obj.status !== 'success' }) }];
      }
      case 'error':
        return [{ type: 'progress', content: compact({ stage: 'warning', message: this.errorMessage(obj) }) }];
      case 'result':
        this.onResult(obj);
        return [];
      default:
        return [];
    }
  }

  private errorMessage(obj: JsonObject): string | undefined {
    return nonEmpty(obj.message) ?? geminiErrorMessage(obj);
  }

  private onMessage(obj: JsonObject): UnifiedEvent[] {
    const text = nonEmpty(obj.content);
    if (obj.role !== 'assistant' || text === undefined) return [];
    const partial = obj.delta === true ? { is_partial: true } : {};
    return [{ type: 'message', content: { text, role: 'assistant', ...partial } }];
  }

  private onResult(obj: JsonObject): void {
    const success = obj.status === 'success';
    const error = success ? undefined : (geminiErrorMessage(obj) ?? nonEmpty(obj.status));
    this.result = compact({ success, error, usage: isRecord(obj.stats) ? geminiStreamUsage(obj.stats) : undefined });
  }

  finish(exit: ProcessExit, stderr: string): StreamFinish {
    const r = this.result;
    if (!r) {
      return compact({ success: false, error: 'gemini ended without a result', backendSessionId: this.sessionId });
    }
    const success = r.success && exit.code === 0;
    const error = success ? undefined : (r.error ?? geminiStderrFallback(stderr, exit));
    return compact({ success, error, usage: r.usage, backendSessionId: this.sessionId });
  }
}
