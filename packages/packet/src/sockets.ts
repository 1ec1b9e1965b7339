// The socket-option contract: what @ztun/stack needs from the OS beyond Node's own socket API, and what each OS
// package implements (@ztun/tun-linux `linuxSockets`, @ztun/tun-darwin `darwinSockets`). Types only, like
// device.ts, so the stack stays OS-free and the OS packages need not depend on the stack.

/** How an outbound keeps its own sockets out of the TUN. Which fields apply depends on the implementation. */
export interface Pinning {
  /** Linux: SO_MARK (socket(7), needs CAP_NET_ADMIN), for a policy rule that routes marked traffic around the TUN. */
  mark?: number;
  /** Linux: SO_BINDTODEVICE; macOS: IP_BOUND_IF/IPV6_BOUND_IF of the interface with this name. */
  bindToDevice?: string;
  /** macOS: IP_BOUND_IF/IPV6_BOUND_IF by interface index. */
  boundInterfaceIndex?: number;
  /**
   * Windows: the source address outbound sockets bind to, per family (Node's `localAddress`; no raw socket
   * needed). Windows' strong host send model limits a bound socket's route lookup to the interface that holds
   * its source address, so the physical interface's address keeps it off the tunnel adapter's routes. A
   * family without an address is refused rather than sent unbound (it would follow the tunnel's routes).
   */
  sourceAddress?: { readonly v4?: string | undefined; readonly v6?: string | undefined };
}

/**
 * The socket operations Node does not expose, on raw fds. Every fd here is a socket; the stack hands a created
 * fd to `net.Socket({ fd })` or `dgram` `bind({ fd })`.
 */
export interface StackSockets {
  /** Names the implementation in messages ('linux', 'darwin', 'portable'). */
  readonly name: string;
  /**
   * A new, unconnected, non-blocking socket fd with `pin` applied. Throws a one-line error when the socket
   * cannot be made or pinned (EPERM on SO_MARK, no such interface, a field this OS does not have…).
   */
  createPinnedSocket(family: 4 | 6, kind: 'tcp' | 'udp', pin: Pinning): number;
  /** Closes an fd that was never handed to Node. */
  closeFd(fd: number): void;
  /**
   * Binds a UDP fd Node has not adopted yet to the wildcard address and port 0, so the kernel picks a port no
   * other socket holds (libuv sets SO_REUSEADDR on an adopted fd). Throws a one-line error.
   */
  bindEphemeral(fd: number, family: 4 | 6): void;
  /** After Node adopted a UDP fd: clears the reuse flags libuv set on it. False if refused or unsupported. */
  clearReuse(fd: number): boolean;
  /** SO_LINGER {on, 0}: close(2) then aborts the connection with a RST. False if refused or unsupported. */
  setLingerZero(fd: number): boolean;
  /** SO_ERROR (socket(7)): the pending error, read and cleared; 0 = none, -1 = unknown (failed/unsupported). */
  takeSocketError(fd: number): number;
}
