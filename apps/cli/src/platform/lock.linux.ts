import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { loadLinuxLibc } from '@ztun/routing-linux';
import koffi from 'koffi';

// One ztun per network namespace: start-up flushes every ztun-tagged route and rule in the namespace, which
// would pull the rug from under a second, live ztun. The lock is flock(2) on a file per namespace (named by
// the namespace's inode): taking it is one atomic step, and the kernel drops it when its holder dies, so a
// SIGKILLed run leaves nothing that needs judging stale. The file records the holder's PID for messages.

const LOCK_DIR = '/run/ztun';
const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
/** A releasing holder unlinks the file; a racer that opened it just before locks an orphan and retries. */
const ATTEMPTS = 5;

let flockFn: ((fd: number, op: number) => number) | undefined;

/** flock(2); 0 or the errno. */
function flock(fd: number, op: number): number {
  flockFn ??= loadLinuxLibc().func('int flock(int fd, int operation)') as (fd: number, op: number) => number;
  return flockFn(fd, op) === 0 ? 0 : koffi.errno();
}

function lockPath(): string {
  let id = 'unknown';
  try {
    id = readlinkSync('/proc/self/ns/net').replace(/\D/g, '') || id; // net:[4026532281]
  } catch {
    // no /proc: one lock for everything
  }
  return join(LOCK_DIR, `${id}.pid`);
}

function pidIn(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function sameFile(fd: number, path: string): boolean {
  const now = statSync(path, { throwIfNoEntry: false });
  const held = fstatSync(fd);
  return now !== undefined && now.ino === held.ino && now.dev === held.dev;
}

/** Held by a live process; `pid` is undefined while it is still starting (nothing written yet). */
export interface LockHeld {
  readonly heldBy: { readonly pid: number | undefined };
}

export interface LockTaken {
  release(): void;
}

/**
 * Takes this namespace's lock, or says who holds it. Without a writable /run (or without flock) ztun runs
 * unlocked rather than not at all.
 */
export function acquireNetnsLock(): LockTaken | LockHeld {
  const path = lockPath();
  const unlocked: LockTaken = { release: () => {} };
  try {
    mkdirSync(LOCK_DIR, { recursive: true, mode: 0o755 });
  } catch {
    return unlocked;
  }
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch {
      return unlocked;
    }
    const errno = flock(fd, LOCK_EX | LOCK_NB);
    if (errno === EWOULDBLOCK) {
      closeSync(fd);
      return { heldBy: { pid: pidIn(path) } };
    }
    if (errno !== 0) {
      closeSync(fd);
      return unlocked;
    }
    if (!sameFile(fd, path)) {
      closeSync(fd); // locked a file its last holder had already unlinked: try the current one
      continue;
    }
    ftruncateSync(fd);
    writeSync(fd, `${process.pid}\n`, 0);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        // Unlink while still holding the lock, then let go; see ATTEMPTS.
        try {
          if (sameFile(fd, path)) unlinkSync(path);
        } catch {
          // already gone
        }
        closeSync(fd);
      },
    };
  }
  return { heldBy: { pid: pidIn(path) } };
}
