/** Reading a streamed response over a real socket with arrival timestamps. */

export interface Chunk {
  at: number;
  text: string;
}

export interface StreamRead {
  status: number;
  headers: Headers;
  chunks: Chunk[];
  body: string;
}

/** POSTs JSON with fetch and records every chunk as it arrives. */
export async function readStream(
  url: string,
  body: unknown,
  init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<StreamRead> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
    body: JSON.stringify(body),
    signal: init.signal,
  });
  const chunks: Chunk[] = [];
  const decoder = new TextDecoder();
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push({ at: Date.now(), text: decoder.decode(value, { stream: true }) });
    }
  }
  return { status: res.status, headers: res.headers, chunks, body: chunks.map((c) => c.text).join('') };
}

/** NDJSON lines of a body, parsed. */
export function ndjson(body: string): Record<string, any>[] {
  return body
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/** Arrival time of the chunk that completed each NDJSON line. */
export function lineArrivals(chunks: Chunk[]): { at: number; line: Record<string, any> }[] {
  const out: { at: number; line: Record<string, any> }[] = [];
  let buf = '';
  for (const c of chunks) {
    buf += c.text;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line) out.push({ at: c.at, line: JSON.parse(line) as Record<string, any> });
    }
  }
  return out;
}
