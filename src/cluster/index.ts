/**
 * Cluster mode (`cluster.enabled`): the pieces that let several clinvk processes share one set of
 * limits through Redis. Everything here is created only when cluster mode is configured; see
 * docs/cluster.md.
 */
import type { Config } from '../config/types';
import type { Logger } from '../observability/logger';
import { ADMISSION_SCRIPTS, ClusterAdmission } from './admission';
import { KEY_COUNTER_SCRIPTS, RedisKeyCounters } from './key-counters';
import { TOKEN_BUCKET_SCRIPT } from './rate-limit-store';
import { RedisConnection, redactUrl } from './redis';

export interface ClusterServices {
  redis: RedisConnection;
  admission: ClusterAdmission;
  /** Per-key daily quotas and concurrency, shared by the nodes. */
  keyCounters: RedisKeyCounters;
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
  return {
    redis,
    admission,
    keyCounters,
    onReconnect: (fn) => {
      let lost = false;
      redis.client.on('close', () => (lost = true));
      redis.client.on('ready', () => {
        if (!lost) return;
        lost = false;
        fn();
      });
    },
    close: async () => {
      admission.close();
      keyCounters.close();
      await redis.close();
    },
  };
}
