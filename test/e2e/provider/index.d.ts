/** Types of the fake model provider (index.js, plain CommonJS so it also runs on its own). */

export type Api = 'anthropic' | 'openai' | 'gemini';

export interface Markers {
  status?: number;
  delayMs?: number;
  tool: boolean;
}

export interface ProviderRequest {
  api: Api;
  /** `message` (Anthropic), `response` (OpenAI), `content` / `structured` (Gemini), `count_tokens`, `models`. */
  kind: string;
  path: string;
  model?: string;
  stream?: boolean;
  /** The user's text the reply is derived from. */
  userText?: string;
  /** Every user/assistant text of the conversation sent, in order. */
  texts?: { role: string; text: string }[];
  /** Tool results in the last user message (a follow-up after a tool call). */
  toolResults?: string[];
  markers?: Markers;
  reply?: string;
  toolCall?: string;
  status?: number;
  delayed?: boolean;
  aborted?: boolean;
  usage?: { input_tokens: number; output_tokens: number };
  time: number;
}

export interface OutboundAttempt {
  method: string;
  target: string;
  userAgent: string;
  time: number;
}

export interface Provider {
  url: string;
  port: number;
  requests: ProviderRequest[];
  outbound: OutboundAttempt[];
  unhandled: { method: string; path: string; time: number }[];
  close(): Promise<void>;
}

export function startProvider(opts?: { port?: number; host?: string }): Promise<Provider>;
export function mockReply(text: string): string;
export function parseMarkers(text: string): Markers;
export function valueForSchema(schema: unknown): unknown;
export const TOOL_COMMAND: string;
