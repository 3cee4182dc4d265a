/**
 * Flattening of OpenAI chat messages and Anthropic message requests into one CLI prompt plus a
 * system prompt. Pure functions; problems are thrown
 * as `ApiError`s whose first detail names the offending request field.
 */
import type {
  SchemaAnthropicContentBlockParam,
  SchemaAnthropicInputMessage,
  SchemaAnthropicMessageRequest,
  SchemaOpenAiChatMessage,
} from '../../generated/types';
import { ADAPTERS } from '../backends/adapters';
import { assemblePrompt } from '../backends/model-and-prompt';
import type { BackendName } from '../backends/types';
import type { Config } from '../config/types';
import { ApiError, validationError, type ValidationDetail } from '../errors';
import { checkArgText, isBlank, utf8Bytes } from '../security/text';

/** What a compat request becomes before it is handed to the PromptService. */
export interface Transcript {
  /** Joined system text; absent when empty (then `backends.<b>.system_prompt` applies). */
  systemPrompt?: string;
  prompt: string;
}

/** The request shapes are the contract's (generated/types.ts). */
type OpenAIChatMessage = SchemaOpenAiChatMessage;
type AnthropicRequestParts = Pick<SchemaAnthropicMessageRequest, 'messages' | 'system'>;

// ------------------------------------------------------------------------------ shared pieces

/** One rendered piece of the conversation. `text` pieces are the plain text of a user/assistant turn. */
type Piece =
  | { kind: 'text'; role: 'user' | 'assistant'; text: string }
  | { kind: 'tool_call'; name: string; args: string }
  | { kind: 'tool_result'; id: string; text: string };

function render(p: Piece): string {
  switch (p.kind) {
    case 'text':
      return `${p.role === 'user' ? 'User' : 'Assistant'}: ${p.text}`;
    case 'tool_call':
      return `Assistant (tool call ${p.name}): ${p.args}`;
    case 'tool_result':
      return `Tool result (${p.id}): ${p.text}`;
  }
}

/**
 * Pieces of the non-system messages, grouped per message → the prompt. Exactly one message from
 * the user that is plain text → its text verbatim; otherwise labelled blocks joined by a blank
 * line. At least one user text must be non-blank.
 */
function transcriptOf(messages: Piece[][]): string {
  const hasUserText = messages.some((pieces) =>
    pieces.some((p) => p.kind === 'text' && p.role === 'user' && !isBlank(p.text)),
  );
  if (!hasUserText) throw validationError([{ path: 'body.messages', message: 'no user message' }]);
  const nonEmpty = messages.filter((pieces) => pieces.length > 0);
  if (nonEmpty.length === 1 && nonEmpty[0]!.length === 1) {
    const only = nonEmpty[0]![0]!;
    if (only.kind === 'text' && only.role === 'user') return only.text;
  }
  return nonEmpty.flat().map(render).join('\n\n');
}

function unsupported(path: string, what: string): ApiError {
  const field = path.replace(/^body\./, '');
  return new ApiError('unsupported_content', `${field}: ${what} content is not supported (text only)`, {
    details: [{ path, message: `${what} content is not supported` }],
  });
}

/** NUL and lone surrogates would be rejected later naming `prompt`: name the compat field instead. */
function checkText(value: string, path: string): void {
  const problems = checkArgText(value, path, { allowBlank: true });
  if (problems.length) throw validationError(problems);
}

// ------------------------------------------------------------------------------ OpenAI

const OPENAI_UNSUPPORTED = new Set(['image_url', 'input_audio', 'file', 'image', 'audio', 'input_image', 'input_file']);

/** Text of an OpenAI `content`: a string, text parts joined with `\n`, or `""` for null. */
function openaiText(content: OpenAIChatMessage['content'], path: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  const texts: string[] = [];
  content.forEach((part, i) => {
    const partPath = `${path}[${i}]`;
    if (part.type === 'text') texts.push(typeof part.text === 'string' ? part.text : '');
    else if (part.type === 'refusal' && typeof part.refusal === 'string') texts.push(part.refusal);
    else throw unsupported(partPath, OPENAI_UNSUPPORTED.has(part.type) ? part.type : `${part.type || 'unknown'} part`);
  });
  return texts.join('\n');
}

/** OpenAI `messages` → system prompt + prompt. */
export function openaiTranscript(messages: OpenAIChatMessage[]): Transcript {
  const system: string[] = [];
  const turns: Piece[][] = [];
  messages.forEach((msg, i) => {
    const path = `body.messages[${i}].content`;
    const text = openaiText(msg.content, path);
    switch (msg.role) {
      case 'system':
      case 'developer':
        if (text !== '') system.push(text);
        return;
      case 'user':
        turns.push([{ kind: 'text', role: 'user', text }]);
        return;
      case 'assistant': {
        const pieces: Piece[] = [];
        if (text !== '') pieces.push({ kind: 'text', role: 'assistant', text });
        for (const call of msg.tool_calls ?? []) {
          pieces.push({ kind: 'tool_call', name: call.function?.name ?? '', args: call.function?.arguments ?? '' });
        }
        // the legacy single `function_call` of an assistant message (accepted as an extra property)
        const legacy = msg.function_call as { name?: string; arguments?: string } | null | undefined;
        if (legacy && typeof legacy === 'object') {
          pieces.push({ kind: 'tool_call', name: legacy.name ?? '', args: legacy.arguments ?? '' });
        }
        turns.push(pieces);
        return;
      }
      case 'tool':
        turns.push([{ kind: 'tool_result', id: msg.tool_call_id ?? '', text }]);
        return;
      case 'function':
        turns.push([{ kind: 'tool_result', id: msg.name ?? '', text }]);
        return;
    }
  });
  const systemPrompt = system.join('\n\n');
  if (systemPrompt !== '') checkText(systemPrompt, 'body.messages');
  const prompt = transcriptOf(turns);
  checkText(prompt, 'body.messages');
  return systemPrompt !== '' ? { systemPrompt, prompt } : { prompt };
}

// ------------------------------------------------------------------------------ Anthropic

const ANTHROPIC_DROPPED = new Set(['thinking', 'redacted_thinking']);

/** Text of a `tool_result` block's content: a string or text blocks joined with `\n`. */
function toolResultText(content: SchemaAnthropicContentBlockParam['content'], path: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  const texts: string[] = [];
  content.forEach((block, i) => {
    const type = typeof block.type === 'string' ? block.type : '';
    if (type === 'text') texts.push(typeof block.text === 'string' ? block.text : '');
    else throw unsupported(`${path}[${i}]`, type || 'unknown block');
  });
  return texts.join('\n');
}

/** One Anthropic message → its pieces: runs of text blocks (joined with `\n`) and tool blocks. */
function anthropicPieces(msg: SchemaAnthropicInputMessage, i: number): Piece[] {
  const role = msg.role;
  if (typeof msg.content === 'string') return [{ kind: 'text', role, text: msg.content }];
  const pieces: Piece[] = [];
  let texts: string[] | undefined;
  const flush = (): void => {
    if (texts !== undefined) {
      const text = texts.join('\n');
      if (text !== '') pieces.push({ kind: 'text', role, text });
    }
    texts = undefined;
  };
  msg.content.forEach((block, j) => {
    const path = `body.messages[${i}].content[${j}]`;
    switch (block.type) {
      case 'text':
        (texts ??= []).push(typeof block.text === 'string' ? block.text : '');
        return;
      case 'tool_use':
        flush();
        pieces.push({ kind: 'tool_call', name: block.name ?? '', args: JSON.stringify(block.input ?? {}) });
        return;
      case 'tool_result':
        flush();
        pieces.push({
          kind: 'tool_result',
          id: block.tool_use_id ?? '',
          text: toolResultText(block.content, `${path}.content`),
        });
        return;
      default:
        if (ANTHROPIC_DROPPED.has(block.type)) return;
        throw unsupported(
          path,
          block.type === 'image' || block.type === 'document' ? block.type : `${block.type || 'unknown'} block`,
        );
    }
  });
  flush();
  return pieces;
}

/** Anthropic `system` → text: a string, or text blocks joined with `\n\n`. */
function anthropicSystem(system: AnthropicRequestParts['system']): string {
  if (system === undefined || system === null) return '';
  if (typeof system === 'string') return system;
  return system
    .map((b) => (typeof b.text === 'string' ? b.text : ''))
    .filter((t) => t !== '')
    .join('\n\n');
}

/** Anthropic request → system prompt + prompt. */
export function anthropicTranscript(req: AnthropicRequestParts): Transcript {
  const turns = req.messages.map((msg, i) => {
    const role = (msg as { role: string }).role;
    if (role !== 'user' && role !== 'assistant') {
      throw validationError([{ path: `body.messages[${i}].role`, message: 'must be one of: user, assistant' }]);
    }
    return anthropicPieces(msg, i);
  });
  const systemPrompt = anthropicSystem(req.system);
  if (systemPrompt !== '') checkText(systemPrompt, 'body.system');
  const prompt = transcriptOf(turns);
  checkText(prompt, 'body.messages');
  return systemPrompt !== '' ? { systemPrompt, prompt } : { prompt };
}

// ------------------------------------------------------------------------------ size

/** The system prompt a run will use: the request's, else `backends.<b>.system_prompt`. */
export function effectiveSystemPrompt(
  config: Pick<Config, 'backends'>,
  backend: BackendName,
  t: Transcript,
): string | undefined {
  const s = t.systemPrompt ?? config.backends[backend].system_prompt;
  return s === undefined || s === '' ? undefined : s;
}

/** The prompt text exactly as the CLI will receive it (codex/gemini: system text prepended). */
export function cliPromptText(config: Pick<Config, 'backends'>, backend: BackendName, t: Transcript): string {
  return assemblePrompt(ADAPTERS[backend], t.prompt, effectiveSystemPrompt(config, backend, t)).prompt;
}

/**
 * The assembled prompt (plus system text) must fit `server.max_prompt_bytes`; checked
 * before the PromptService (which would name `prompt`) so the error names `messages`. Counts the
 * same bytes as the planner's own check (prompt + claude's system-prompt flag).
 */
export function checkTranscriptSize(
  config: Pick<Config, 'backends' | 'server'>,
  backend: BackendName,
  t: Transcript,
): void {
  const assembled = assemblePrompt(ADAPTERS[backend], t.prompt, effectiveSystemPrompt(config, backend, t));
  const limit = config.server.max_prompt_bytes;
  const bytes = utf8Bytes(assembled.prompt) + utf8Bytes(assembled.systemPromptFlag ?? '');
  if (bytes > limit) {
    const detail: ValidationDetail = { path: 'body.messages', message: `exceeds ${limit} bytes after flattening` };
    throw validationError([detail]);
  }
}
