/**
 * The nodes sharing one PostgreSQL job store: announcements travel by LISTEN/NOTIFY on one channel
 * per schema (the store NOTIFYs record changes and event batches in the statements that make them;
 * cancels are sent from here), and every node writes a heartbeat row in `job_nodes` every third of
 * `cluster.lease_secs`. A node is gone when its heartbeat is older than the lease, or at once when
 * its identity names a process of this machine that no longer exists.
 *
 * Messages: `<sender> s <id> <status> <node|-> <queue_seq>` (a record changed), `<sender> e <id>`
 * (events stored), `<sender> c <id> <node>` (node: cancel the job you drive). The listening
 * connection reconnects by itself; after a reconnect the service looks at the store again, since
 * announcements sent meanwhile are lost.
 */
import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import type { PostgresDatabase } from '../../db/postgres';
import { describeDbError } from '../../db/postgres';
import type { CoordinationHandlers, JobCoordinator } from '../coordination';
import { deadOnThisMachine } from '../node';
import type { JobStatus } from '../types';

export interface CoordinatorLogger {
  warn(msg: string, meta?: object): void;
}

const RECONNECT_MS = 1000;
/** Heartbeat rows older than this are deleted (nodes that stopped long ago). */
const FORGET_NODES_AFTER = '1 day';

/** The NOTIFY channel of the job tables in `schema` (channels are per database, not per schema). */
export function channelOf(schema: string): string {
  return `clinvk_jobs_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
}

/** The announcement of a record change. */
export function statusMessage(
  sender: string,
  id: string,
  status: JobStatus,
  node: string | undefined,
  queueSeq: number,
): string {
  return `${sender} s ${id} ${status} ${node ?? '-'} ${queueSeq}`;
}

export class PostgresJobCoordinator implements JobCoordinator {
  readonly shared = true;
  private handlers?: CoordinationHandlers;
  private client?: Client;
  private retry?: NodeJS.Timeout;
  private beat?: NodeJS.Timeout;
  private stopped = false;
  private warned = false;
  private readonly beatMs: number;

  constructor(
    private readonly db: PostgresDatabase,
    private readonly channel: string,
    readonly node: string,
    private readonly leaseMs: number,
    private readonly logger?: CoordinatorLogger,
  ) {
    this.beatMs = Math.max(200, Math.floor(leaseMs / 3));
  }

  get started(): boolean {
    return this.handlers !== undefined;
  }

  async start(on: CoordinationHandlers): Promise<void> {
    this.handlers = on;
    await this.heartbeat();
    await this.db
      .query(`DELETE FROM job_nodes WHERE seen_at < now() - interval '${FORGET_NODES_AFTER}'`)
      .catch(() => undefined);
    await this.listen(false);
    this.beat = setInterval(() => void this.heartbeat(), this.beatMs);
    this.beat.unref();
  }

  async gone(nodes: string[]): Promise<Set<string>> {
    const out = new Set(nodes.filter((n) => n !== this.node && deadOnThisMachine(n)));
    const rest = nodes.filter((n) => n !== this.node && !out.has(n));
    if (rest.length === 0) return out;
    const live = await this.db.query<{ node: string }>(
      `SELECT node FROM job_nodes WHERE node = ANY($1::text[]) AND seen_at > now() - $2::float8 * interval '1 millisecond'`,
      [rest, this.leaseMs],
    );
    const alive = new Set(live.map((r) => r.node));
    for (const n of rest) if (!alive.has(n)) out.add(n);
    return out;
  }

  async requestCancel(id: string, node: string): Promise<void> {
    await this.db.query('SELECT pg_notify($1, $2)', [this.channel, `${this.node} c ${id} ${node}`]);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.beat);
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
    // the others need not wait for the lease to know this node is gone
    if (!this.db.closed) {
      await this.db.query('DELETE FROM job_nodes WHERE node = $1', [this.node]).catch(() => undefined);
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.db.query(
        `INSERT INTO job_nodes (node, seen_at) VALUES ($1, now()) ON CONFLICT (node) DO UPDATE SET seen_at = now()`,
        [this.node],
      );
    } catch (e) {
      this.logger?.warn('jobs: node heartbeat failed', { error: describeDbError(e) });
    }
  }

  private async listen(reconnect: boolean): Promise<void> {
    if (this.stopped) return;
    const pg = require('pg') as typeof import('pg');
    const client = new pg.Client({
      connectionString: this.db.url,
      connectionTimeoutMillis: 5000,
      application_name: 'clinvk-jobs',
    });
    let lost = false;
    const onLost = (e?: unknown): void => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      if (!this.warned) {
        this.warned = true;
        this.logger?.warn('jobs: PostgreSQL listener lost; reconnecting', { error: e ? describeDbError(e) : 'ended' });
      }
      this.retry ??= setTimeout(() => {
        this.retry = undefined;
        void this.listen(true);
      }, RECONNECT_MS);
      this.retry.unref();
    };
    client.on('notification', (m) => this.dispatch(m.payload ?? ''));
    client.on('error', onLost);
    client.on('end', () => onLost());
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (e) {
      onLost(e);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.warned = false;
    if (reconnect) this.handlers?.resync();
  }

  private dispatch(payload: string): void {
    const [sender, kind, id, a, b, c] = payload.split(' ');
    const on = this.handlers;
    if (!on || !id || sender === this.node) return;
    if (kind === 's' && a) on.status(id, a as JobStatus, b === '-' || b === undefined ? undefined : b, Number(c));
    else if (kind === 'e') on.events(id);
    else if (kind === 'c' && a === this.node) on.cancel(id);
  }
}
