/**
 * Jobs whose node is gone (a previous incarnation of this process, or another node whose heartbeat
 * lapsed): at start-up and then periodically. A running one fails with `server_restarted` (its CLI
 * died with its node), after this node took it over in the store so that exactly one node ends it;
 * its terminal event continues the stored numbering. A queued one that a gone node had claimed goes
 * back to the queue — queued jobs are never lost.
 */
import type { ActiveJobs } from './active-jobs';
import type { JobCoordinator } from './coordination';
import type { JobStore, QueueEntry } from './types';

export async function reconcileJobs(
  store: JobStore,
  coord: JobCoordinator,
  jobs: ActiveJobs,
  requeued: (entry: QueueEntry) => void,
): Promise<void> {
  const held = await store.heldElsewhere(coord.node);
  if (held.length === 0) return;
  const nodes = [...new Set(held.flatMap((r) => (r.node === undefined ? [] : [r.node])))];
  const gone = await coord.gone(nodes);
  for (const record of held) {
    if (record.node !== undefined && !gone.has(record.node)) continue;
    if (record.status === 'queued') {
      await store.release(record.id, record.node!);
      requeued({ id: record.id, queue_seq: record.queue_seq });
      continue;
    }
    const taken = await store.takeOver(record.id, record.node, coord.node);
    if (!taken || jobs.has(taken.id)) continue;
    const stored = await store.readEvents(taken.id, 0);
    const last = stored.length ? stored[stored.length - 1].sequence : 0;
    const bytes = stored.reduce((n, e) => n + Buffer.byteLength(e.line) + 1, 0);
    const job = jobs.activate(taken, last, { count: stored.length, bytes });
    await jobs.terminate(job, 'failed', 'server_restarted', 'the server restarted while the job was running');
  }
}
