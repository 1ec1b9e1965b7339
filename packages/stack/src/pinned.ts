import {
  bindEphemeralDarwin,
  clearReuseDarwin,
  closeFdDarwin,
  createPinnedSocketDarwin,
  setLingerZeroDarwin,
  takeSocketErrorDarwin,
} from './sockets.darwin.js';
import {
  bindEphemeral,
  clearReuseAddr,
  closeFd,
  createPinnedSocket,
  setLingerZero,
  takeSocketError,
} from './sockets.linux.js';

/** How an outbound keeps its own sockets out of the TUN. */
export interface Pinning {
  /** Linux: SO_MARK (needs CAP_NET_ADMIN), for a policy rule that routes marked traffic around the TUN. */
  mark?: number;
  /** Linux: SO_BINDTODEVICE; macOS: IP_BOUND_IF/IPV6_BOUND_IF of the interface with this name. */
  bindToDevice?: string;
  /** macOS: IP_BOUND_IF/IPV6_BOUND_IF by interface index. */
  boundInterfaceIndex?: number;
}

export function hasPinning(p: Pinning): boolean {
  return p.mark !== undefined || p.bindToDevice !== undefined || p.boundInterfaceIndex !== undefined;
}

/** An unconnected socket fd with the pinning applied, for net.Socket({ fd }) / dgram bind({ fd }). */
export function pinnedSocketFd(family: 4 | 6, kind: 'tcp' | 'udp', p: Pinning): number {
  if (process.platform === 'linux') {
    if (p.boundInterfaceIndex !== undefined)
      throw new Error('boundInterfaceIndex is macOS-only; use mark or bindToDevice');
    return createPinnedSocket(family, kind, p);
  }
  if (process.platform === 'darwin') {
    if (p.mark !== undefined)
      throw new Error('mark (SO_MARK) is Linux-only; use bindToDevice or boundInterfaceIndex');
    return createPinnedSocketDarwin(family, kind, p);
  }
  throw new Error(`socket pinning is not implemented on ${process.platform}`);
}

export function closePinnedFd(fd: number): void {
  if (process.platform === 'darwin') closeFdDarwin(fd);
  else closeFd(fd);
}

/** SO_LINGER {on, 0} on a socket fd (Linux, macOS); false where unsupported or refused. */
export function setLingerZeroFd(fd: number): boolean {
  try {
    if (process.platform === 'linux') return setLingerZero(fd);
    if (process.platform === 'darwin') return setLingerZeroDarwin(fd);
  } catch {
    // libc not loadable (unusual runtime): the caller falls back to a plain close.
  }
  return false;
}

/**
 * Binds a pinned UDP fd to a port of its own before Node adopts it: libuv's uv_udp_open sets SO_REUSEADDR
 * (SO_REUSEPORT on macOS) on an adopted fd, and two such sockets that bind only at their first send may be
 * given the same port, so one session's replies reach another session. Throws a one-line error.
 */
export function bindPinnedUdpFd(fd: number, family: 4 | 6): void {
  if (process.platform === 'darwin') bindEphemeralDarwin(fd, family);
  else bindEphemeral(fd, family);
}

/** After Node adopted the fd: clears the reuse flag libuv set, so no later socket can share the port. */
export function clearPinnedUdpReuse(fd: number): boolean {
  return process.platform === 'darwin' ? clearReuseDarwin(fd) : clearReuseAddr(fd);
}

/** A socket fd's pending error (SO_ERROR, read and cleared): 0 = none; 0 too where unsupported or refused. */
export function takeSocketErrorFd(fd: number): number {
  try {
    if (process.platform === 'linux') return Math.max(0, takeSocketError(fd));
    if (process.platform === 'darwin') return Math.max(0, takeSocketErrorDarwin(fd));
  } catch {
    // libc not loadable (unusual runtime): no way to tell, treat the end as a FIN.
  }
  return 0;
}
