/**
 * `server.agent_user`: when clinvk runs as root, the CLIs run as this user (uid, gid, supplementary
 * groups, HOME), so that an agent cannot read clinvk's home, its keys or other users' files.
 * Looked up once at start-up (`getent`, so NSS sources count; /etc/passwd and /etc/group otherwise).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface AgentIdentity {
  name: string;
  uid: number;
  gid: number;
  /** Supplementary group ids (the primary gid included). */
  groups: number[];
  home: string;
  shell?: string;
}

function getent(db: string, key?: string): string | undefined {
  try {
    return execFileSync('getent', key === undefined ? [db] : [db, key], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    });
  } catch {
    return undefined;
  }
}

function readLines(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}

function passwdEntry(name: string): string[] | undefined {
  const line = getent('passwd', name)?.split('\n')[0] ?? readLines('/etc/passwd').find((l) => l.split(':')[0] === name);
  if (!line) return undefined;
  const fields = line.split(':');
  return fields.length >= 7 && fields[0] === name ? fields : undefined;
}

function groupLines(): string[] {
  const out = getent('group');
  return out !== undefined ? out.split('\n') : readLines('/etc/group');
}

/** The user's identity, or undefined when no such user exists. */
export function lookupAgentUser(name: string): AgentIdentity | undefined {
  const p = passwdEntry(name);
  if (!p) return undefined;
  const uid = Number(p[2]);
  const gid = Number(p[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  const groups = new Set<number>([gid]);
  for (const line of groupLines()) {
    const [, , id, members = ''] = line.split(':');
    if (id === undefined) continue;
    if (members.split(',').includes(name) && Number.isInteger(Number(id))) groups.add(Number(id));
  }
  return { name, uid, gid, groups: [...groups], home: p[5] || '/', shell: p[6] || undefined };
}

/** True when this process runs as root (where `server.agent_user` takes effect). */
export function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
