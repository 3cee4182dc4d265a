/**
 * The executions list of a cluster: each API node lists its own executions and publishes them to
 * Redis twice a second (`<prefix>:executions:<node>`, expiring after 2 s), so any API node answers
 * with every node's executions (another node's at most half a second old). Cancelling an execution
 * of another node: a job's goes through the job (jobs cancel from any node); a synchronous one is a
 * message on `<prefix>:execution-cancel` that the node running it acts on.
 */
import type { Principal } from '../auth/principal';
import type { ExecutionInfo, ExecutionsView, LocalExecutions } from '../execution/executions';
import type { RedisConnection } from './redis';

const PUBLISH_MS = 500;
const TTL_MS = 2000;

export class ClusterExecutions implements ExecutionsView {
  private timer: NodeJS.Timeout | undefined;
  private last = '';

  constructor(
    private readonly redis: RedisConnection,
    /** This API node's name in the list (unique per process). */
    private readonly node: string,
    private readonly local: LocalExecutions,
  ) {}

  start(): void {
    this.redis.subscribe(this.redis.key('execution-cancel'), (msg) => this.onCancel(msg));
    this.timer = setInterval(() => void this.publish(), PUBLISH_MS);
    this.timer.unref();
  }

  private async publish(): Promise<void> {
    const mine = JSON.stringify(await this.local.list());
    const key = this.redis.key('executions', this.node);
    try {
      if (mine === '[]' && this.last === '[]') return; // nothing to tell (the old key has expired)
      await this.redis.client.multi().sadd(this.redis.key('api-nodes'), this.node).set(key, mine, 'PX', TTL_MS).exec();
      this.last = mine;
    } catch {
      // Redis unreachable: the others list this node's executions again once it is back
    }
  }

  async list(): Promise<ExecutionInfo[]> {
    const own = await this.local.list();
    let others: ExecutionInfo[] = [];
    try {
      const nodes = (await this.redis.client.smembers(this.redis.key('api-nodes'))).filter((n) => n !== this.node);
      if (nodes.length > 0) {
        const values = await this.redis.client.mget(...nodes.map((n) => this.redis.key('executions', n)));
        others = values.flatMap((v) => (v ? (JSON.parse(v) as ExecutionInfo[]) : []));
      }
    } catch {
      // Redis unreachable: this node's own executions are still right
    }
    if (others.length === 0) return own;
    const seen = new Set(own.map((e) => e.id));
    const all = [...own, ...others.filter((e) => !seen.has(e.id))];
    // running ones first (oldest first), then queued ones in queue order
    const running = all.filter((e) => e.state === 'running').sort((a, b) => cmp(a.started_at, b.started_at));
    const queued = all.filter((e) => e.state === 'queued').sort((a, b) => cmp(a.queued_at, b.queued_at));
    return [...running, ...queued];
  }

  async cancel(info: ExecutionInfo, who: Principal): Promise<void> {
    if (info.job_id || this.local.has(info.id)) return this.local.cancel(info, who);
    await this.redis.client.publish(this.redis.key('execution-cancel'), JSON.stringify({ id: info.id }));
  }

  private onCancel(message: string): void {
    try {
      const { id } = JSON.parse(message) as { id: string };
      // the requesting node checked the caller's right to it (jobs are cancelled through the job)
      if (typeof id === 'string') this.local.cancelRun(id);
    } catch {
      // not a cancel message
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.redis.client.del(this.redis.key('executions', this.node)).catch(() => undefined);
  }
}

function cmp(a: string | undefined, b: string | undefined): number {
  return (a ?? '').localeCompare(b ?? '');
}
