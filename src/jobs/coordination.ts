/**
 * How the nodes sharing one job store learn of each other: what one node announces (a job's status
 * changed, events were stored, a cancel for the node driving a job) reaches the others, and which
 * nodes are gone (their heartbeat lapsed, or their process is known to be dead). The embedded store
 * belongs to one process: its coordinator knows only itself.
 */
import type { JobStatus } from './types';

/** What another node announced. */
export interface CoordinationHandlers {
  /** A job's record changed: its status, the node holding it, its queue position. */
  status(id: string, status: JobStatus, node: string | undefined, queueSeq: number): void;
  /** Events of a job were stored. */
  events(id: string): void;
  /** Someone asks this node to cancel a job it drives. */
  cancel(id: string): void;
  /** Announcements may have been missed (e.g. after a reconnect): look at the store again. */
  resync(): void;
}

export interface JobCoordinator {
  /** This node's identity. */
  readonly node: string;
  /** True when other nodes may share the store (the queue is polled, holders are watched). */
  readonly shared: boolean;
  /** Starts listening and the heartbeat (never fails: an unreachable store is retried). */
  start(on: CoordinationHandlers): Promise<void>;
  /** Whether `start` was called. */
  readonly started: boolean;
  /** The nodes among `nodes` that are gone (their jobs are not driven any more). */
  gone(nodes: string[]): Promise<Set<string>>;
  /** Asks `node` to cancel job `id` (it drives it). */
  requestCancel(id: string, node: string): Promise<void>;
  stop(): Promise<void>;
}

/** The coordinator of a store only one process uses: every other node is a previous incarnation. */
export class LocalCoordinator implements JobCoordinator {
  readonly shared = false;
  started = false;

  constructor(readonly node: string) {}

  async start(): Promise<void> {
    this.started = true;
  }

  async gone(nodes: string[]): Promise<Set<string>> {
    return new Set(nodes.filter((n) => n !== this.node));
  }

  async requestCancel(): Promise<void> {}

  async stop(): Promise<void> {}
}
