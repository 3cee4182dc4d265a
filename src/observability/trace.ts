/** Request ids and W3C trace context. Pure helpers. */
import { randomBytes, randomUUID } from 'node:crypto';

const REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function requestIdFrom(incoming: string | undefined): string {
  return incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

export interface TraceContext {
  traceId: string;
  spanId: string;
  flags: string;
  /** The `traceparent` value the server returns and hands to the child CLI. */
  traceparent: string;
  /** Echoed only when the incoming traceparent was valid. */
  tracestate?: string;
}

export function traceFrom(traceparent: string | undefined, tracestate: string | undefined): TraceContext {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim());
  const valid = m !== null && !/^0+$/.test(m[1]) && !/^0+$/.test(m[2]);
  const traceId = valid ? m![1] : randomBytes(16).toString('hex');
  const flags = valid ? m![3] : '01';
  const spanId = randomBytes(8).toString('hex');
  return {
    traceId,
    spanId,
    flags,
    traceparent: `00-${traceId}-${spanId}-${flags}`,
    tracestate: valid && tracestate !== undefined ? tracestate : undefined,
  };
}
