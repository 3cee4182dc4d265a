/**
 * A job that is not terminal yet (queued, starting or running) as the service holds it in memory:
 * its record, its event fan-out and write-behind log, and the state of its run.
 */
import type { BackendName } from '../backends/types';
import type { EventLog } from './event-log';
import type { EventHub } from './fanout';
import type { JobRecord } from './types';

/** Abort reason of a canceled job's run. */
export const JOB_CANCELED = 'canceled: job canceled';

export interface ActiveJob {
  record: JobRecord;
  hub: EventHub;
  log: EventLog;
  /** Backend named by job-level events (the prompt's, or the first item's). */
  backend: BackendName;
  phase: 'queued' | 'starting' | 'running';
  controller?: AbortController;
  canceled?: boolean;
  /** Set while the job waits for its first slot (counts against the job lane's free slots). */
  pendingSlot?: boolean;
}

/** The backend a job's own events name: the prompt's, or the first item's of an aggregate. */
export function firstBackend(record: JobRecord): BackendName {
  if (record.backend) return record.backend;
  const r = record.request as {
    tasks?: { backend: BackendName }[];
    steps?: { backend: BackendName }[];
    backends?: BackendName[];
  };
  return r.tasks?.[0]?.backend ?? r.steps?.[0]?.backend ?? r.backends?.[0] ?? 'claude';
}
