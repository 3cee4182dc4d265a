/**
 * Reading streamed responses with fetch (the browser's EventSource cannot send an API key header):
 * NDJSON lines and SSE frames, handed over one by one as they arrive.
 */
import { authHeaders, failureOf, send, type StreamEvent } from './api';

async function readLines(res: Response, onLine: (line: string) => void): Promise<void> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      onLine(line);
    }
  }
  buf += decoder.decode();
  if (buf) onLine(buf);
}

/** One NDJSON event per line (heartbeats, `sequence` 0, are dropped). */
export async function readNdjson(res: Response, onEvent: (e: StreamEvent) => void): Promise<void> {
  await readLines(res, (line) => {
    if (!line.trim()) return;
    const e = JSON.parse(line) as StreamEvent;
    if (e.sequence === 0) return;
    onEvent(e);
  });
}

export interface SseFrame {
  id?: string;
  event?: string;
  data: string;
}

/** SSE frames (`id:`, `event:`, `data:` lines, a blank line ends a frame; `:` lines are comments). */
export async function readSse(res: Response, onFrame: (f: SseFrame) => void): Promise<void> {
  let frame: SseFrame = { data: '' };
  let hasData = false;
  await readLines(res, (line) => {
    if (line === '') {
      if (hasData) onFrame(frame);
      frame = { data: '' };
      hasData = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') {
      frame.data = hasData ? `${frame.data}\n${value}` : value;
      hasData = true;
    } else if (field === 'id') frame.id = value;
    else if (field === 'event') frame.event = value;
  });
}

/** Whether an event ends its run (an aggregate's items end with `item_finished` progress events instead). */
export function isTerminal(e: StreamEvent): boolean {
  return (e.type === 'done' || e.type === 'error') && e.item === undefined;
}

/** `POST /api/v1/prompt/stream`: the events of one run as they happen. */
export async function streamPrompt(
  body: Record<string, unknown>,
  onEvent: (e: StreamEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await send('/api/v1/prompt/stream', {
    method: 'POST',
    body,
    signal,
    headers: { Accept: 'application/x-ndjson' },
  });
  await readNdjson(res, onEvent);
}

export interface FollowState {
  connected: boolean;
  attempts: number;
}

/**
 * Follows a job's events over SSE until its terminal event. After a dropped connection it reconnects
 * with `Last-Event-ID` = the last sequence it saw, so nothing is missed and nothing is shown twice
 * (events at or below that sequence are skipped should the server repeat one).
 */
export async function followJob(
  id: string,
  after: number,
  onEvent: (e: StreamEvent) => void,
  onState: (s: FollowState) => void,
  signal: AbortSignal,
): Promise<void> {
  let last = after;
  let attempts = 0;
  for (;;) {
    let ended = false;
    try {
      const headers = authHeaders({ Accept: 'text/event-stream' });
      if (last > 0) headers['Last-Event-ID'] = String(last);
      const res = await fetch(`/api/v1/jobs/${encodeURIComponent(id)}/events`, {
        headers,
        signal,
        credentials: 'omit',
        cache: 'no-store',
      });
      if (!res.ok) throw await failureOf(res);
      attempts = 0;
      onState({ connected: true, attempts });
      await readSse(res, (f) => {
        const e = JSON.parse(f.data) as StreamEvent;
        if (!e.sequence || e.sequence <= last) return;
        last = e.sequence;
        onEvent(e);
        if (isTerminal(e)) ended = true;
      });
    } catch (err) {
      if (signal.aborted) return;
      if (err && typeof err === 'object' && 'status' in err) throw err;
    }
    if (ended || signal.aborted) return;
    attempts += 1;
    onState({ connected: false, attempts });
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.min(10_000, 500 * 2 ** Math.min(attempts, 5)));
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
    if (signal.aborted) return;
  }
}
