// The macOS composition's seam: everything tunnel.darwin.ts needs from the OS, behind koffi-free
// interfaces. On a Mac, `macHost()` backs them with @ztun/tun-darwin (utun, IP_BOUND_IF sockets) and
// @ztun/routing-darwin (AF_ROUTE sockets, NET_RT_DUMP); on Linux CI, the tests back them with
// @ztun/testkit's simulated XNU, so the same composition code runs against a model of the kernel.

import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { StackSockets } from '@ztun/packet';
import type { RouteSystem } from '@ztun/routing-darwin';
import type { UtunSyscalls } from '@ztun/tun-darwin';

/** Route sockets and NET_RT_DUMP: all the composition needs of the routing side. */
export type DarwinRouteHost = RouteSystem;

export type DarwinLock = { release(): void } | { heldBy: { pid: number | undefined } };

export interface DarwinHost {
  /** Effective uid 0 (utun's kernel control is CTL_FLAG_PRIVILEGED, route changes need a privileged socket). */
  isRoot(): boolean;
  routes(): Promise<DarwinRouteHost>;
  /** The syscalls `openUtunWith` (@ztun/tun-darwin) makes a utun with: kern_control and the interface ioctls. */
  utunSyscalls(): Promise<UtunSyscalls>;
  /** The socket options for the stack and outbounds (IP_BOUND_IF / IPV6_BOUND_IF pinning). */
  sockets(): Promise<StackSockets>;
  /** One ztun per Mac: it owns the scoped defaults and flushes tagged leftovers at start. */
  lock(): Promise<DarwinLock>;
}

const LOCK_FILE = '/var/run/ztun.pid';

/** The real Mac: loads koffi and libSystem on first use only. */
export function macHost(): DarwinHost {
  return {
    isRoot: () => process.geteuid?.() === 0,
    async routes() {
      const { createDarwinRouteSystem } = await import('@ztun/routing-darwin');
      return createDarwinRouteSystem();
    },
    async utunSyscalls() {
      const { loadUtunSyscalls } = await import('@ztun/tun-darwin');
      return loadUtunSyscalls();
    },
    async sockets() {
      const { loadDarwinSockets } = await import('@ztun/tun-darwin');
      return loadDarwinSockets();
    },
    lock: () => darwinFileLock(LOCK_FILE),
  };
}

let flockFn: ((fd: number, op: number) => number) | undefined;
let errnoFn: (() => number) | undefined;

/** flock(2) on `path` (libSystem through koffi): the kernel drops it when its holder dies, even by SIGKILL. */
async function darwinFileLock(path: string): Promise<DarwinLock> {
  if (!flockFn) {
    const { loadKoffi } = await import('@ztun/routing-darwin');
    const koffi = await loadKoffi();
    flockFn = koffi
      .load('/usr/lib/libSystem.B.dylib')
      .func('int flock(int fd, int operation)') as unknown as (fd: number, op: number) => number;
    errnoFn = () => koffi.errno();
  }
  const LOCK_EX = 2;
  const LOCK_NB = 4;
  const EWOULDBLOCK = 35; // xnu bsd/sys/errno.h (EAGAIN)
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  if (flockFn(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = errnoFn!();
    let pid: number | undefined;
    try {
      pid = Number(readFileSync(path, 'utf8').trim()) || undefined;
    } catch {
      // unreadable: say "another ztun" without a pid
    }
    closeSync(fd);
    if (errno === EWOULDBLOCK) return { heldBy: { pid } };
    return { release() {} }; // flock unavailable: run unlocked rather than not at all
  }
  ftruncateSync(fd);
  writeSync(fd, `${process.pid}\n`, 0);
  return { release: () => closeSync(fd) };
}
