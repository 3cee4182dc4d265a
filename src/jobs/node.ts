/**
 * The identity of one job-service process: `<name>/<machine>.<pid>.<random>`, where `name` is
 * `cluster.node_id` (or the host name), `machine` a tag of this machine's boot and PID namespace
 * (Linux; `-` elsewhere) and `random` new for every process. A node whose identity names this
 * machine and a process that no longer exists is gone at once; any other node is gone only when its
 * heartbeat lapsed.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

const IDENTITY_RE = /^(.+)\/([0-9a-f]{8}|-)\.(\d+)\.[0-9a-f]+$/;

let machine: string | undefined;

/** Boot id and PID namespace of this machine, hashed (`-` when unknown). */
function machineTag(): string {
  if (machine !== undefined) return machine;
  try {
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const ns = fs.readlinkSync('/proc/self/ns/pid');
    machine = createHash('sha256').update(`${boot} ${ns}`).digest('hex').slice(0, 8);
  } catch {
    machine = '-';
  }
  return machine;
}

/** A new identity for this process (`name`: the configured node id, default the host name). */
export function newNodeIdentity(name?: string): string {
  const base = (name ?? os.hostname()) || 'node';
  return `${base}/${machineTag()}.${process.pid}.${randomBytes(4).toString('hex')}`;
}

/** True when `node` is a process of this machine that no longer exists. */
export function deadOnThisMachine(node: string): boolean {
  const m = IDENTITY_RE.exec(node);
  if (!m || m[2] === '-' || m[2] !== machineTag()) return false;
  const pid = Number(m[3]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
