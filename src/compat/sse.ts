/** Shared pieces of the two SSE encoders. Pure. */
import type { NativeEvent } from '../execution/types';

export const SSE_CONTENT_TYPE = 'text/event-stream; charset=utf-8';
/** Headers of an SSE response besides those `openStream` sets. */
export const SSE_HEADERS: Readonly<Record<string, string>> = { Connection: 'keep-alive' };

/** Turns native events into SSE frames: `start` right after spawn, then one call per event. */
export interface SseEncoder {
  /** Frames written right after spawn (before any event). */
  start(): string;
  /** The frame(s) for one native event, or null for nothing. */
  encode(ev: NativeEvent): string | null;
}

export function isHeartbeat(ev: NativeEvent): boolean {
  return ev.type === 'progress' && (ev.content as { stage?: unknown }).stage === 'heartbeat';
}

/** Non-empty text of a native `message` event, else undefined. */
export function messageText(ev: NativeEvent): string | undefined {
  if (ev.type !== 'message') return undefined;
  const text = (ev.content as { text?: unknown }).text;
  return typeof text === 'string' && text !== '' ? text : undefined;
}

/** Content of a terminal native `error` event. */
export function terminalError(ev: NativeEvent): { message: string; code: string } {
  const c = ev.content as { message?: unknown; code?: unknown };
  return {
    message: typeof c.message === 'string' ? c.message : 'execution failed',
    code: typeof c.code === 'string' ? c.code : 'internal_error',
  };
}
