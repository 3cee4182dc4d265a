/**
 * Jobs: runs (or aggregates) detached from any connection. The stored record and the storage
 * interface; `JobStore` knows nothing about files so that a networked implementation can replace
 * the embedded one.
 */
import type { SchemaJobOperation, SchemaJobStatus } from '../../generated/types';
import type { BackendName } from '../backends/types';
import type { JobCoordinator } from './coordination';

export type JobStatus = SchemaJobStatus;
export type JobOperation = SchemaJobOperation;

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set<JobStatus>(['succeeded', 'failed', 'canceled']);

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** One stored job (the API's `Job` is derived from it). */
export interface JobRecord {
  id: string;
  operation: JobOperation;
  status: JobStatus;
  created_at: string;
  started_at?: string;
  finished_at?: string;
  owner: string;
  backend?: BackendName;
  session_id?: string;
  summary: string;
  /** Position in the durable FIFO queue (increasing with creation). */
  queue_seq: number;
  /** The synchronous endpoint's body, exactly as accepted. */
  request: Record<string, unknown>;
  /** Idempotency-Key and the SHA-256 of the canonical create body. */
  idempotency?: { key: string; hash: string };
  /** Request id of the creating request. */
  request_id: string;
  /** Stored events and the last sequence number (final once terminal). */
  events: { count: number; last_sequence: number };
  result?: unknown;
  error?: { code: string; message: string };
  /**
   * The node that claimed the job and drives it (internal, never shown in the API): absent while
   * the job waits for any node to start it.
   */
  node?: string;
}

/** A queued job nobody claimed yet: its id and its queue position. */
export interface QueueEntry {
  id: string;
  queue_seq: number;
}

/** A job that is not terminal, and the node holding it (if any). */
export interface HeldJob extends QueueEntry {
  status: JobStatus;
  node?: string;
}

/** One event as stored: its sequence number and its serialized JSON (one line, no newline). */
export interface StoredEvent {
  sequence: number;
  line: string;
}

export interface JobFilter {
  status?: JobStatus;
  operation?: JobOperation;
  backend?: BackendName;
  owner?: string;
}

export interface JobStore {
  /**
   * How long appended events may wait to be written (default 50 ms): shorter for a store that
   * readers on other nodes follow.
   */
  readonly eventBatchMs?: number;
  /** Loads the store (start-up). */
  open(): Promise<void>;
  /** Creates or replaces a record atomically; durable when the promise resolves. */
  put(record: JobRecord): Promise<void>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Newest first; `total` counts the filtered set. */
  list(filter: JobFilter, limit: number, offset: number): Promise<{ jobs: JobRecord[]; total: number }>;
  countByStatus(status: JobStatus): Promise<number>;
  /** The job created by `owner` with this Idempotency-Key, if it is still stored. */
  findIdempotent(owner: string, key: string): Promise<JobRecord | undefined>;
  /** Queued and running jobs in queue order. */
  unfinished(): Promise<JobRecord[]>;
  /** The queue position of the next created job (increasing across every node of the store). */
  nextQueueSeq(): Promise<number>;
  /** Queued jobs no node claimed yet, in queue order. */
  queued(): Promise<QueueEntry[]>;
  /**
   * Claims a queued job that no node claimed yet for `node` (atomic: of several nodes claiming one
   * job, exactly one gets it); the claimed record, or undefined when it was not claimable.
   */
  claim(id: string, node: string): Promise<JobRecord | undefined>;
  /** Gives a queued job claimed by `node` back to the queue (it never started). */
  release(id: string, node: string): Promise<void>;
  /**
   * Moves a job that is not terminal from node `from` (undefined: no node) to `node` (atomic, as
   * `claim`); the record, or undefined when `from` no longer holds it.
   */
  takeOver(id: string, from: string | undefined, node: string): Promise<JobRecord | undefined>;
  /** Jobs not terminal yet that another node than `node` holds, or running ones no node holds. */
  heldElsewhere(node: string): Promise<HeldJob[]>;
  /** The coordination of the nodes sharing this store (a store of one process: only itself). */
  coordinator(node: string, leaseMs: number): JobCoordinator;
  /** Terminal jobs that finished before `beforeMs` (epoch ms). */
  finishedBefore(beforeMs: number): Promise<string[]>;
  /** Deletes the record and its events; false when there was none. */
  delete(id: string): Promise<boolean>;
  /** Appends events (in sequence order) to the job's log. */
  appendEvents(id: string, events: StoredEvent[]): Promise<void>;
  /** Makes the job's appended events durable (called once, after the terminal event). */
  syncEvents(id: string): Promise<void>;
  /** Stored events with a sequence number greater than `after`, in order. */
  readEvents(id: string, after: number): Promise<StoredEvent[]>;
  close(): Promise<void>;
}
