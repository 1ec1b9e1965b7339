import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

// One ztun per network namespace: start-up flushes every ztun-tagged route and rule in the namespace, which
// would pull the rug from under a second, live ztun. A lock file per namespace (named by the namespace's
// inode) records the owner's PID; a lock whose PID is dead or lives in another namespace is stale (a
// SIGKILLed run) and is taken over.

const LOCK_DIR = '/run/ztun';

function netnsId(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`); // e.g. net:[4026532281]
  } catch {
    return undefined;
  }
}

function lockPath(): string {
  const id = netnsId('self') ?? 'net:[unknown]';
  return join(LOCK_DIR, `${id.replace(/\D/g, '') || 'unknown'}.pid`);
}

/** The PID of a live ztun holding this namespace's lock, or undefined. */
export function liveOwner(path = lockPath()): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined; // gone
  }
  // Same namespace and still a ztun (a recycled PID is someone else).
  if (netnsId(pid) !== netnsId('self')) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('ztun') && !cmdline.includes('bin.js')) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

/** Takes this namespace's lock; returns a release function, or the PID of the live ztun that holds it. */
export function acquireNetnsLock(): { release: () => void } | { heldBy: number } {
  const path = lockPath();
  const owner = liveOwner(path);
  if (owner !== undefined) return { heldBy: owner };
  try {
    mkdirSync(LOCK_DIR, { recursive: true, mode: 0o755 });
    const fd = openSync(path, 'w', 0o644);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
  } catch {
    // No writable /run: run unlocked rather than not at all.
    return { release: () => {} };
  }
  return {
    release: () => {
      try {
        if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
      } catch {
        // already gone
      }
    },
  };
}

/** Removes this namespace's lock file when no live ztun holds it (after a SIGKILL). */
export function removeStaleLock(): void {
  const path = lockPath();
  if (liveOwner(path) === undefined) rmSync(path, { force: true });
}
