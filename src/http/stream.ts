/**
 * Stream responses: head flushed right after spawn, one write per event, no buffering,
 * TCP no-delay, backpressure through `drain`.
 */
import type { Response } from 'express';
import type { EventSink } from '../execution/events/sink';
import type { NativeEvent } from '../execution/types';

export function openStream(res: Response, contentType: string, extra: Record<string, string> = {}): void {
  res.status(200);
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('X-Accel-Buffering', 'no');
  for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
  res.removeHeader('Content-Length');
  res.socket?.setNoDelay(true);
  res.flushHeaders();
}

/** A sink whose frames are produced by `encode`; shared by NDJSON and the SSE encoders. */
export function frameSink(
  res: Response,
  open: (sessionId: string | undefined) => void,
  encode: (ev: NativeEvent) => string | null,
): EventSink {
  return {
    open,
    write: (ev) => {
      const frame = encode(ev);
      if (frame === null || res.writableEnded || res.destroyed) return true;
      return res.write(frame);
    },
    drained: () =>
      new Promise<void>((resolve) => {
        if (res.destroyed || !res.writableNeedDrain) return resolve();
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      }),
    abort: () => res.destroy(),
    close: () => {
      if (!res.writableEnded) res.end();
    },
  };
}

export function ndjsonSink(res: Response): EventSink {
  return frameSink(
    res,
    (sessionId) => openStream(res, 'application/x-ndjson', sessionId ? { 'X-Clinvk-Session-Id': sessionId } : {}),
    (ev) => `${JSON.stringify(ev)}\n`,
  );
}
