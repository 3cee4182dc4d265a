/**
 * Raw-socket HTTP for tests that must control the bytes on the wire (declared-but-unsent bodies,
 * chunked floods, malformed requests, trickled headers) and observe whether the server closes.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything the server wrote. */
  raw: string;
  /** The server closed the connection (false: our timeout fired first). */
  closed: boolean;
}

export interface RawConn {
  socket: net.Socket;
  /** True once the server has written anything. */
  answered(): boolean;
  /** Resolves when the first byte from the server arrives. */
  firstData: Promise<void>;
  /** Resolves when the connection closes or `timeoutMs` passes (then the socket is destroyed). */
  done: Promise<RawResponse>;
}

/** Splits a raw HTTP/1.1 response into status, lower-cased headers and body. */
export function parseRawResponse(raw: string, closed = true): RawResponse {
  const sep = raw.indexOf('\r\n\r\n');
  const head = sep >= 0 ? raw.slice(0, sep) : raw;
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = sep >= 0 ? raw.slice(sep + 4) : '';
  const len = Number(headers['content-length']);
  if (Number.isFinite(len)) body = body.slice(0, len);
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body, raw, closed };
}

/** Opens a TCP connection to the server of `url`. */
export function rawConnect(url: string, timeoutMs = 15000): Promise<RawConn> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    let resolveFirst!: () => void;
    const firstData = new Promise<void>((r) => (resolveFirst = r));
    const done = new Promise<RawResponse>((r) => {
      const timer = setTimeout(() => {
        socket.destroy();
        r(parseRawResponse(Buffer.concat(chunks).toString('utf8'), false));
      }, timeoutMs);
      socket.on('close', () => {
        clearTimeout(timer);
        r(parseRawResponse(Buffer.concat(chunks).toString('utf8'), true));
      });
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      resolveFirst();
    });
    // EPIPE/ECONNRESET while we are still writing after the server answered: expected.
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, answered: () => chunks.length > 0, firstData, done }));
    socket.once('error', reject);
  });
}

/** Writes `payload`, then waits for the server to close the connection. */
export async function rawExchange(url: string, payload: string | Buffer, timeoutMs = 15000): Promise<RawResponse> {
  const c = await rawConnect(url, timeoutMs);
  c.socket.write(payload);
  return c.done;
}

/**
 * Writes chunked-body frames of `chunkBytes` until the server answers, the socket fails, or
 * `maxBytes` were sent. Returns the number of body bytes written.
 */
export async function floodChunked(c: RawConn, chunkBytes: number, maxBytes: number): Promise<number> {
  const frame = Buffer.concat([
    Buffer.from(`${chunkBytes.toString(16)}\r\n`),
    Buffer.alloc(chunkBytes, 0x61),
    Buffer.from('\r\n'),
  ]);
  let sent = 0;
  let closed = false;
  void c.done.then(() => (closed = true));
  while (!c.answered() && !closed && !c.socket.destroyed && sent < maxBytes) {
    const ok = c.socket.write(frame);
    sent += chunkBytes;
    if (!ok) {
      await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.firstData, c.done]);
    }
  }
  return sent;
}
