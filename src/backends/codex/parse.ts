/**
 * codex JSONL parsing. One state machine, shared by the non-stream parser and the stream
 * parser, turns each line into unified events and remembers what decides the outcome.
 */
import type { ParsedResult, ProcessExit, TokenUsage, UnifiedEvent } from '../types';
import { codexUsage } from '../usage';
import {
  compact,
  exitText,
  isRecord,
  lastStderrBlock,
  nonEmpty,
  parseJsonLine,
  splitLines,
  str,
  type JsonObject,
} from '../util';

const NOISE_PREFIXES = [
  'WARNING: proceeding, even though we could not create PATH aliases',
  'Reading additional input from stdin',
];

export function isCodexNoise(line: string): boolean {
  const t = line.trim();
  return t === '' || NOISE_PREFIXES.some((p) => t.startsWith(p));
}

/** The first stderr line starting with `Error:`/`error:` and the lines after it up to a blank line. */
export function codexStderrErrorBlock(stderr: string): string | undefined {
  const lines = splitLines(stderr);
  const start = lines.findIndex((l) => l.startsWith('Error:') || l.startsWith('error:'));
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && l.trim() === '');
  return lines
    .slice(start, end < 0 ? undefined : end)
    .join('\n')
    .trim();
}

/** Item types that are not tool calls. */
const NON_TOOL_ITEMS = new Set(['agent_message', 'reasoning', 'error']);

function toolName(item: JsonObject): string {
  const type = str(item.type) ?? '';
  if (type === 'mcp_tool_call' && (item.server !== undefined || item.tool !== undefined)) {
    return `${str(item.server) ?? ''}/${str(item.tool) ?? ''}`;
  }
  return type;
}

/** The item without `id`, `type`, `status`. */
function itemFields(item: JsonObject): JsonObject {
  const { id: _id, type: _type, status: _status, ...rest } = item;
  return rest;
}

export class CodexState {
  threadId?: string;
  readonly messages: string[] = [];
  turnCompleted = false;
  turnFailed = false;
  failureMessage?: string;
  lastError?: string;
  usage?: TokenUsage;
  private readonly startedTools = new Set<string>();

  handle(obj: JsonObject): UnifiedEvent[] {
    switch (obj.type) {
      case 'thread.started':
        this.threadId = nonEmpty(obj.thread_id) ?? this.threadId;
        return [{ type: 'init', content: compact({ backend_session_id: this.threadId }) }];
      case 'turn.started':
        return [{ type: 'progress', content: { stage: 'turn_started' } }];
      case 'item.started':
        return isRecord(obj.item) ? this.onItemStarted(obj.item) : [];
      case 'item.completed':
        return isRecord(obj.item) ? this.onItemCompleted(obj.item) : [];
      case 'error':
        return this.onError(obj);
      case 'turn.completed':
        this.turnCompleted = true;
        this.usage = codexUsage(obj.usage) ?? this.usage;
        return [];
      case 'turn.failed':
        this.turnFailed = true;
        this.failureMessage = (isRecord(obj.error) ? nonEmpty(obj.error.message) : undefined) ?? this.failureMessage;
        return [];
      default:
        return [];
    }
  }

  private onError(obj: JsonObject): UnifiedEvent[] {
    const message = nonEmpty(obj.message);
    if (message === undefined) return [];
    this.lastError = message;
    return [{ type: 'progress', content: { stage: 'warning', message } }];
  }

  private toolUse(item: JsonObject): UnifiedEvent {
    const id = str(item.id);
    if (id !== undefined) this.startedTools.add(id);
    return { type: 'tool_use', content: compact({ tool_id: id, tool_name: toolName(item), input: itemFields(item) }) };
  }

  private onItemStarted(item: JsonObject): UnifiedEvent[] {
    return NON_TOOL_ITEMS.has(str(item.type) ?? '') ? [] : [this.toolUse(item)];
  }

  private onItemCompleted(item: JsonObject): UnifiedEvent[] {
    const text = nonEmpty(item.text);
    switch (item.type) {
      case 'agent_message':
        if (text === undefined) return [];
        this.messages.push(text);
        return [{ type: 'message', content: { text, role: 'assistant' } }];
      case 'reasoning':
        return text !== undefined ? [{ type: 'thinking', content: { text } }] : [];
      case 'error': {
        const message = nonEmpty(item.message);
        return [{ type: 'progress', content: compact({ stage: 'warning', message }) }];
      }
      default:
        return this.onToolCompleted(item);
    }
  }

  private onToolCompleted(item: JsonObject): UnifiedEvent[] {
    const id = str(item.id);
    const started = id !== undefined && this.startedTools.has(id);
    const output = str(item.aggregated_output) ?? JSON.stringify(itemFields(item));
    const isError = item.status === 'failed' || (typeof item.exit_code === 'number' && item.exit_code !== 0);
    const result: UnifiedEvent = {
      type: 'tool_result',
      content: compact({ tool_id: id, tool_name: toolName(item), output, is_error: isError }),
    };
    return started ? [result] : [this.toolUse(item), result];
  }

  /** Success rule and error-text precedence. */
  outcome(stderr: string, exit: ProcessExit): { success: boolean; error?: string } {
    const success = exit.code === 0 && this.turnCompleted && !this.turnFailed;
    if (success) return { success };
    return { success, error: this.errorText(stderr, exit) };
  }

  private errorText(stderr: string, exit: ProcessExit): string {
    return (
      this.failureMessage ??
      this.lastError ??
      codexStderrErrorBlock(stderr) ??
      lastStderrBlock(stderr, isCodexNoise, 1) ??
      (exit.code === 0 ? 'codex ended without completing the turn' : exitText('codex', exit))
    );
  }

  toParsedResult(stderr: string, exit: ProcessExit): ParsedResult {
    return compact({
      ...this.outcome(stderr, exit),
      output: this.messages.join('\n'),
      backendSessionId: this.threadId,
      usage: this.usage,
    });
  }
}

/** Non-stream parsing: the same JSONL as the stream, read in one go. */
export function parseCodexResult(stdout: string, stderr: string, exit: ProcessExit): ParsedResult {
  const state = new CodexState();
  for (const line of splitLines(stdout)) {
    const obj = parseJsonLine(line);
    if (obj) state.handle(obj);
  }
  return state.toParsedResult(stderr, exit);
}
