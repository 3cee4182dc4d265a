/** Readers of the two stream framings the contract uses: NDJSON lines and server-sent events. */

/** One parsed event with the SSE `id:` of its frame (NDJSON has none). */
export interface RawEvent {
  data: unknown;
  id?: string;
}

async function* chunks(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield decoder.decode(value, { stream: true });
    }
    const rest = decoder.decode();
    if (rest) yield rest;
  } finally {
    // ends the request when the consumer stops early (for a run: the server cancels it)
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SyntaxError(`clinvk client: ${what} is not JSON: ${text.slice(0, 200)}`);
  }
}

/** One JSON value per `\n`-terminated line; blank lines are skipped. */
export async function* readNdjson(body: ReadableStream<Uint8Array>): AsyncGenerator<RawEvent> {
  let buf = '';
  for await (const text of chunks(body)) {
    buf += text;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) yield { data: parseJson(line, 'NDJSON line') };
    }
  }
  if (buf.trim()) yield { data: parseJson(buf.trim(), 'NDJSON line') };
}

/**
 * The JSON `data` of every SSE frame. Comment lines (heartbeats) are skipped; `data: [DONE]` (the
 * OpenAI end marker) ends the stream.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<RawEvent> {
  let buf = '';
  let data: string[] = [];
  let id: string | undefined;
  const dispatch = (): RawEvent | 'done' | undefined => {
    if (data.length === 0) return undefined;
    const text = data.join('\n');
    data = [];
    const frameId = id;
    id = undefined;
    if (text === '[DONE]') return 'done';
    return { data: parseJson(text, 'SSE data'), id: frameId };
  };
  for await (const text of chunks(body)) {
    buf += text;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      if (line === '') {
        const ev = dispatch();
        if (ev === 'done') return;
        if (ev) yield ev;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
  }
  const ev = dispatch();
  if (ev && ev !== 'done') yield ev;
}
