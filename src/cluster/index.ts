/**
 * Cluster mode (`cluster.enabled`): the pieces that let several clinvk processes share one set of
 * limits through Redis. Everything here is created only when cluster mode is configured; see
 * docs/cluster.md.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Queue } from 'bullmq';
import type { BackendAvailability } from '../backends/availability';
import type { VersionProbe } from '../backends/version-probe';
import type { Config } from '../config/types';
import type { ExecutionsView, LocalExecutions } from '../execution/executions';
import type { LocalLauncher } from '../execution/launcher';
import type { Logger } from '../observability/logger';
import { ADMISSION_SCRIPTS, ClusterAdmission } from './admission';
import { KEY_COUNTER_SCRIPTS, RedisKeyCounters } from './key-counters';
import { TOKEN_BUCKET_SCRIPT } from './rate-limit-store';
import { bullConnection, RedisConnection, redactUrl } from './redis';
import { ClusterExecutions } from './executions';
import { RemoteLauncher } from './remote-launcher';
import { RunStreamReader } from './run-reader';
import { ClusterWorker } from './worker';
import { ClusterAvailability, WorkerDirectory } from './workers';

export interface ClusterServices {
  redis: RedisConnection;
  admission: ClusterAdmission;
  /** Per-key daily quotas and concurrency, shared by the nodes. */
  keyCounters: RedisKeyCounters;
  /** This node's name (`cluster.node_id`, default the host name). */
  nodeId: string;
  workers: WorkerDirectory;
  /** API nodes (`api`, `all`): runs go to workers through the queues. */
  launcher?: RemoteLauncher;
  /** API nodes: backends are available when a live worker reports them. */
  availability?: ClusterAvailability;
  /** API nodes: the executions list of every API node, around this node's own. */
  executions?(local: LocalExecutions): ExecutionsView;
  /** Worker nodes (`worker`, `all`): starts taking runs. */
  startWorker(local: LocalLauncher, availability: BackendAvailability, versions: VersionProbe): Promise<void>;
  /** Worker nodes: CLI runs in progress here. */
  workerRuns(): number;
  /** Worker nodes: graceful stop (no new runs; running ones get `drainMs`, then are killed). */
  stopWorker(drainMs: number): Promise<void>;
  /** Calls `fn` each time the connection to Redis is ready again after it was lost. */
  onReconnect(fn: () => void): void;
  close(): Promise<void>;
}

export async function startCluster(
  config: Config,
  logger: Logger,
  clock: () => number = Date.now,
): Promise<ClusterServices> {
  const c = config.cluster;
  if (!c.redis_url) throw new Error('cluster.enabled needs cluster.redis_url (or CLINVK_REDIS_URL)');
  const redis = new RedisConnection(c.redis_url, c.key_prefix, [
    ...ADMISSION_SCRIPTS,
    ...KEY_COUNTER_SCRIPTS,
    TOKEN_BUCKET_SCRIPT,
  ]);
  try {
    await redis.ready(3000);
  } catch (err) {
    // the node starts anyway: unhealthy, new runs 503, until the connection comes up by itself
    logger.warn('cluster: redis not reachable at start-up', { error: (err as Error).message });
  }
  logger.info('cluster mode', { redis: redactUrl(c.redis_url), key_prefix: c.key_prefix });
  const admission = new ClusterAdmission(redis, {
    maxConcurrent: config.server.max_concurrent_executions,
    maxQueued: config.server.max_queued_executions,
    leaseMs: c.lease_secs * 1000,
  });
  const keyCounters = new RedisKeyCounters(redis, c.lease_secs * 1000, clock);
  const nodeId = c.node_id ?? os.hostname();
  const workers = new WorkerDirectory(redis);
  const bullPrefix = redis.key('bull');
  const queues = new Map<string, Queue>();
  const queue = (name: string): Queue => {
    let q = queues.get(name);
    if (!q) {
      const { Queue: BullQueue } = require('bullmq') as typeof import('bullmq');
      q = new BullQueue(name, { connection: bullConnection(c.redis_url!), prefix: bullPrefix });
      q.on('error', () => undefined);
      queues.set(name, q);
    }
    return q;
  };
  let reader: RunStreamReader | undefined;
  let launcher: RemoteLauncher | undefined;
  let availability: ClusterAvailability | undefined;
  if (c.role !== 'worker') {
    reader = new RunStreamReader(redis, logger);
    launcher = new RemoteLauncher(redis, queue, reader, workers, {
      node: nodeId,
      leaseMs: c.lease_secs * 1000,
      lockMs: c.lock_secs * 1000,
      window: c.stream_window_events,
      affinity: c.affinity,
      logger,
    });
    availability = new ClusterAvailability(workers, config.backends);
    const l = launcher;
    redis.client.on('ready', () => void l.requeueLost());
  }
  let worker: ClusterWorker | undefined;
  let executions: ClusterExecutions | undefined;
  return {
    redis,
    admission,
    keyCounters,
    nodeId,
    workers,
    launcher,
    availability,
    executions:
      c.role === 'worker'
        ? undefined
        : (local) => {
            executions = new ClusterExecutions(redis, `${nodeId}.${randomBytes(4).toString('hex')}`, local);
            executions.start();
            return executions;
          },
    startWorker: async (local, localAvailability, versions) => {
      if (c.role === 'api' || worker) return;
      worker = new ClusterWorker(redis, local, localAvailability, versions, queue, {
        node: nodeId,
        slots: c.worker_slots,
        lockMs: c.lock_secs * 1000,
        bullPrefix,
        logger,
      });
      await worker.start();
    },
    workerRuns: () => worker?.running ?? 0,
    stopWorker: async (drainMs) => {
      await worker?.stop(drainMs);
    },
    onReconnect: (fn) => {
      let lost = false;
      redis.client.on('close', () => (lost = true));
      redis.client.on('ready', () => {
        if (!lost) return;
        lost = false;
        fn();
        // once more a little later: a connection that comes back flapping may fail the first call
        // (what `fn` does here is idempotent: counters are only set where Redis has none)
        for (const ms of [1000, 3000]) setTimeout(() => redis.client.status === 'ready' && fn(), ms).unref();
      });
    },
    close: async () => {
      await executions?.close();
      await worker?.stop(0);
      launcher?.close();
      await reader?.close();
      await Promise.all([...queues.values()].map((q) => q.close().catch(() => undefined)));
      admission.close();
      keyCounters.close();
      await redis.close();
    },
  };
}
