/**
 * The index journal and snapshot formats (see docs/architecture.md, "session store").
 *
 * - Journal `index.journal`: a header line `{"clinvk_index":1,"id":J,"prev_id":P,"prev_len":L}`
 *   (random ids), then one JSON array per operation:
 *   `["p",id,backend,status,last_used,mtimeMs,size,owner?]` (put; `owner` absent for a session of
 *   no one, e.g. one written before ownership existed), `["x",id,mtimeMs,size]` (the record is
 *   unreadable), `["d",id]` (delete).
 * - Snapshot `index.json`: `{"clinvk_index":1,"journal":J,"prev_journal":P,"entries":[op…]}`, the
 *   put/unreadable operations of every session; `journal` names the journal that continues it.
 *
 * The functions here are pure, except `readHeader` and `readTail`, which read a journal descriptor.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import { isBackendName } from '../../backends/types';
import type { SessionRecord } from '../types';
import { SESSION_STATUSES, isFiniteNumber, isInteger, isSessionId } from './record-codec';

export const INDEX_FORMAT = 1;

export type PutOp = ['p', string, string, string, string, number, number, string?];
export type UnreadableOp = ['x', string, number, number];
export type DeleteOp = ['d', string];
export type JournalOp = PutOp | UnreadableOp | DeleteOp;

export interface JournalHeader {
  /** Random id of this journal (never reused, unlike inode numbers or counters). */
  id: string;
  /** The journal this one replaced by a compaction (null after a rebuild). */
  prevId: string | null;
  /** Final length of that journal, i.e. what the matching snapshot contains. */
  prevLen: number;
  /** Byte length of the header line including its newline. */
  length: number;
}

/** A fresh random journal id. */
export function newJournalId(): string {
  return randomBytes(8).toString('hex');
}

/** A well-formed operation (a put's `last_used` must parse as a timestamp). */
export function isJournalOp(v: unknown): v is JournalOp {
  if (!Array.isArray(v)) return false;
  switch (v[0]) {
    case 'p':
      return (
        (v.length === 7 || (v.length === 8 && typeof v[7] === 'string')) &&
        isSessionId(v[1]) &&
        isBackendName(v[2]) &&
        SESSION_STATUSES.has(v[3]) &&
        typeof v[4] === 'string' &&
        Number.isFinite(Date.parse(v[4])) &&
        isFiniteNumber(v[5]) &&
        isInteger(v[6])
      );
    case 'x':
      return v.length === 4 && isSessionId(v[1]) && isFiniteNumber(v[2]) && isInteger(v[3]);
    case 'd':
      return v.length === 2 && isSessionId(v[1]);
    default:
      return false;
  }
}

/** The put operation of a record whose file has this mtime and size. */
export function putOp(rec: SessionRecord, mtimeMs: number, size: number): PutOp {
  const op: PutOp = ['p', rec.id, rec.backend, rec.status, rec.last_used, mtimeMs, size];
  if (rec.owner !== undefined) op.push(rec.owner);
  return op;
}

/** Journal lines (each ending with a newline) for `ops`. */
export function formatOps(ops: readonly JournalOp[]): string {
  return ops.map((op) => `${JSON.stringify(op)}\n`).join('');
}

export function formatHeader(id: string, prevId: string | null, prevLen: number): string {
  return `${JSON.stringify({ clinvk_index: INDEX_FORMAT, id, prev_id: prevId, prev_len: prevLen })}\n`;
}

/** Parses the header line at the start of `head`; undefined when incomplete or malformed. */
export function parseHeader(head: Buffer): JournalHeader | undefined {
  const newline = head.indexOf(10);
  if (newline < 0) return undefined;
  try {
    const h = JSON.parse(head.toString('utf8', 0, newline)) as Record<string, unknown>;
    if (h.clinvk_index !== INDEX_FORMAT || typeof h.id !== 'string' || !h.id || !isInteger(h.prev_len)) {
      return undefined;
    }
    if (h.prev_id !== null && typeof h.prev_id !== 'string') return undefined;
    return { id: h.id, prevId: h.prev_id, prevLen: h.prev_len, length: newline + 1 };
  } catch {
    return undefined;
  }
}

/** Reads the header line of the journal open as `fd`; undefined when absent or malformed. */
export function readHeader(fd: number): JournalHeader | undefined {
  const buf = Buffer.alloc(512);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  return parseHeader(buf.subarray(0, n));
}

/** What a read of the journal's tail found. */
export type TailChunk =
  /** `consumed` bytes of complete lines holding `ops`; `partial`: an incomplete line follows. */
  | { ok: true; ops: JournalOp[]; consumed: number; partial: boolean }
  /** The journal shrank or holds a garbled line: the index must be reloaded or rebuilt. */
  | { ok: false };

/** Parses the complete lines at the start of `bytes` (an incomplete last line is left for later). */
export function parseTail(bytes: Buffer): TailChunk {
  const last = bytes.lastIndexOf(10);
  if (last < 0) return { ok: true, ops: [], consumed: 0, partial: bytes.length > 0 };
  const ops: JournalOp[] = [];
  for (const line of bytes.toString('utf8', 0, last).split('\n')) {
    if (line === '') continue;
    let op: unknown;
    try {
      op = JSON.parse(line);
    } catch {
      return { ok: false };
    }
    if (!isJournalOp(op)) return { ok: false };
    ops.push(op);
  }
  return { ok: true, ops, consumed: last + 1, partial: last + 1 < bytes.length };
}

/** Reads and parses what was appended to the journal open as `fd` after byte `offset`. */
export function readTail(fd: number, offset: number): TailChunk {
  const size = fs.fstatSync(fd).size;
  if (size < offset) return { ok: false };
  if (size === offset) return { ok: true, ops: [], consumed: 0, partial: false };
  const length = size - offset;
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return parseTail(buf.subarray(0, got));
}

/** Snapshot text: entries one per line so that a large snapshot stays diffable and streamable. */
export function formatSnapshot(ops: readonly JournalOp[], journal: string, prevJournal: string | null): string {
  const head = JSON.stringify({ clinvk_index: INDEX_FORMAT, journal, prev_journal: prevJournal }).slice(0, -1);
  return `${head},"entries":[\n${ops.map((op) => JSON.stringify(op)).join(',\n')}\n]}\n`;
}

export interface Snapshot {
  journal: string;
  prevJournal: unknown;
  /** Not validated yet: each must pass `isJournalOp`. */
  entries: unknown[];
}

/** Parses a snapshot; undefined when it is not one of this format. Throws on invalid JSON. */
export function parseSnapshot(text: string): Snapshot | undefined {
  const v = JSON.parse(text) as Record<string, unknown> | null;
  if (v && v.clinvk_index === INDEX_FORMAT && typeof v.journal === 'string' && Array.isArray(v.entries)) {
    return { journal: v.journal, prevJournal: v.prev_journal, entries: v.entries as unknown[] };
  }
  return undefined;
}
