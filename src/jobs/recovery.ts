/**
 * Start-up after a restart (or a crash): a job that was running in the previous process fails
 * with `server_restarted` (its CLI is gone); a queued one is queued again in its old order. Event
 * numbering continues after each job's stored events.
 */
import type { ActiveJob } from './active-job';
import type { ActiveJobs } from './active-jobs';
import type { JobStore } from './types';

export interface Recovered {
  /** Jobs to queue again, in queue order. */
  queued: ActiveJob[];
  /** The queue position the next created job gets. */
  nextQueueSeq: number;
}

export async function recoverJobs(store: JobStore, jobs: ActiveJobs): Promise<Recovered> {
  const unfinished = await store.unfinished();
  const newest = await store.list({}, 1, 0);
  const nextQueueSeq = newest.jobs[0] ? newest.jobs[0].queue_seq + 1 : 1;
  const queued: ActiveJob[] = [];
  for (const record of unfinished) {
    const stored = await store.readEvents(record.id, 0);
    const last = stored.length ? stored[stored.length - 1].sequence : 0;
    const bytes = stored.reduce((n, e) => n + Buffer.byteLength(e.line) + 1, 0);
    const job = jobs.activate(record, last, { count: stored.length, bytes });
    if (record.status === 'running') {
      await jobs.terminate(job, 'failed', 'server_restarted', 'the server restarted while the job was running');
    } else {
      queued.push(job);
    }
  }
  return { queued, nextQueueSeq };
}
