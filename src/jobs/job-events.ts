/**
 * Numbering and recording of one job's events: every event gets the job's next sequence number
 * and goes to the live readers and to storage. Storage is capped per job; beyond the cap only the
 * first left-out event adds a `truncated` marker, and the terminal event is always stored.
 */
import type { BackendName } from '../backends/types';
import type { ActiveJob } from './active-job';
import type { LiveEvent } from './fanout';

/** Codes a job's terminal `error` event may carry; anything else is reported as `internal_error`. */
const JOB_ERROR_CODES: ReadonlySet<string> = new Set([
  'backend_failed',
  'backend_timeout',
  'canceled',
  'session_busy',
  'session_not_found',
  'backend_unavailable',
  'server_restarted',
  'shutting_down',
  'output_too_large',
  'forbidden_workdir',
  'validation_error',
  'stream_line_too_long',
  'internal_error',
  'quota_exceeded',
]);

/** The code a job reports for a failure with `code` (unknown codes become `internal_error`). */
export function jobErrorCode(code: string | undefined): string {
  return code !== undefined && JOB_ERROR_CODES.has(code) ? code : 'internal_error';
}

/** Hands `ev` (sequence assigned here) to the job's readers and to its event log. */
export function emitEvent(job: ActiveJob, ev: Record<string, unknown>, terminal: boolean, maxEventBytes: number): void {
  if (job.hub.finished) return;
  ev.sequence = job.hub.nextSequence();
  let line = JSON.stringify(ev);
  let store = true;
  if (!terminal && !job.log.fits(Buffer.byteLength(line))) {
    store = false;
    if (!job.log.truncated) {
      job.log.truncated = true;
      const marker: Record<string, unknown> = {
        type: 'progress',
        backend: ev.backend,
        timestamp: ev.timestamp,
        sequence: ev.sequence,
        content: {
          stage: 'truncated',
          message: `event storage limit of ${maxEventBytes} bytes reached; later events are not stored`,
        },
      };
      const markerEvent = liveEvent(marker, false);
      job.hub.append(markerEvent);
      job.log.add(markerEvent, true);
      ev.sequence = job.hub.nextSequence();
      line = JSON.stringify(ev);
    }
  }
  const out: LiveEvent = { sequence: ev.sequence as number, type: ev.type as string, line, terminal };
  job.hub.append(out);
  job.log.add(out, store);
  job.record.events = { count: job.log.count, last_sequence: job.hub.lastSequence };
}

/** The job's one terminal event (`done` or `error`), unless it already has one. */
export function emitTerminal(
  job: ActiveJob,
  type: 'done' | 'error',
  content: Record<string, unknown>,
  maxEventBytes: number,
): void {
  if (job.hub.finished) return;
  const ev: Record<string, unknown> = { type, backend: job.backend };
  if (job.record.session_id && job.record.operation === 'prompt') ev.session_id = job.record.session_id;
  ev.timestamp = new Date().toISOString();
  ev.sequence = 0;
  ev.content = content;
  emitEvent(job, ev, true, maxEventBytes);
}

/** An event of one aggregate item (its sequence is assigned by `emitEvent`). */
export function itemEvent(
  type: string,
  backend: BackendName,
  item: number,
  content: Record<string, unknown>,
): Record<string, unknown> {
  return { type, backend, item, timestamp: new Date().toISOString(), sequence: 0, content };
}

function liveEvent(ev: Record<string, unknown>, terminal: boolean): LiveEvent {
  return { sequence: ev.sequence as number, type: ev.type as string, line: JSON.stringify(ev), terminal };
}
