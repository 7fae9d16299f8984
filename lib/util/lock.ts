// Folder locks between processes, also across the nodes of a cluster that share a network
// file system: a lock file is made with link(2) (atomic on local file systems and NFS), and
// names its holder (host, pid, the process's start time). A lock whose holder is gone (same
// host, the pid no longer runs or now belongs to a later process) is taken over; a lock held
// from another host is trusted until removed by hand, since nothing here can see that host.
import { hostname } from 'node:os';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

import { fileError } from './runfolder.js';

export interface LockHolder {
  host: string;
  pid: number;
  /** the holder's start time in clock ticks since boot (Linux /proc/PID/stat), or null */
  start: number | null;
  /** when the lock was taken (ISO time) */
  since: string;
  /** what the holder is doing */
  what: string;
}

/** The start time of a process (field 22 of /proc/PID/stat), or null where it cannot be read. */
function processStart(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the name may hold spaces
    return Number(fields[19]);
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the holder is known to be gone: same host, and its pid is not running or is another process. */
export function holderGone(h: LockHolder): boolean {
  if (h.host !== hostname()) return false;
  if (!alive(h.pid)) return true;
  const start = processStart(h.pid);
  return h.start !== null && start !== null && start !== h.start;
}

/** The holder of a lock file, or null when there is none (or it is unreadable: being written). */
export function readLock(path: string): LockHolder | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return null;
  }
}

export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} on ${h.host}, since ${h.since}${h.what ? `, ${h.what}` : ''}`;
}

export class LockBusyError extends Error {
  readonly code = 'ERR_THTL_LOCKED';
  constructor(
    readonly path: string,
    readonly holder: LockHolder,
    subject: string,
  ) {
    super(
      `${subject} is in use by another thtl-native process (${describeHolder(holder)}); ` +
        `wait for it to end, or remove ${path} if that process is gone`,
    );
  }
}

/**
 * Takes the lock file `path` for this process, or throws LockBusyError naming the holder.
 * `subject` names what the lock guards in that message. Returns the release function.
 */
export function acquireLock(path: string, subject: string, what = ''): () => void {
  const me: LockHolder = { host: hostname(), pid: process.pid, start: processStart(process.pid), since: new Date().toISOString(), what };
  const tmp = `${path}.${me.host}.${me.pid}`;
  try {
    writeFileSync(tmp, `${JSON.stringify(me)}\n`);
  } catch (err) {
    throw fileError('write', tmp, err);
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError('create the lock', path, err);
      }
      const holder = readLock(path);
      if (holder && !holderGone(holder)) throw new LockBusyError(path, holder, subject);
      if (attempt >= 3) throw new Error(`cannot take the lock ${path}: other processes keep taking it`);
      if (holder) takeOverStale(path, holder);
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    const now = readLock(path);
    if (now && now.pid === me.pid && now.host === me.host) rmSync(path, { force: true });
  };
}

/** Removes the lock file `path` when its holder is gone (a process killed while it held it); a live lock stays. */
export function removeStaleLock(path: string): void {
  const holder = readLock(path);
  if (holder && holderGone(holder)) takeOverStale(path, holder);
}

/**
 * Moves a stale lock aside. Two processes may both find it stale: the one whose rename
 * catches a fresh lock (taken meanwhile by the other) puts that lock back.
 */
function takeOverStale(path: string, stale: LockHolder): void {
  const aside = `${path}.stale-${hostname()}-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // gone already: someone else took it over
  }
  const moved = readLock(aside);
  if (moved && (moved.pid !== stale.pid || moved.host !== stale.host || moved.since !== stale.since)) {
    try {
      linkSync(aside, path);
    } catch {
      // a third process holds it now; the fresh lock we moved is lost to its owner's release only
    }
  }
  rmSync(aside, { force: true });
}
