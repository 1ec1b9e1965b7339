import type { PacketBatch } from './device.js';

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
  /** Optional: the batch UDP path (see UdpRelayEngine); absent, UDP goes through Node's dgram sockets. */
  readonly udpRelay?: UdpRelayEngine | undefined;
}

/**
 * The batch UDP path (issue 17 item 4): a relay that owns one UDP session's socket fd, sends a batch of its
 * datagrams in one call (Linux: sendmmsg) and reads what arrives in batches (recvmmsg), adding and stripping
 * SOCKS5 UDP framing (RFC 1928 §7) in the same pass. @ztun/tun-linux implements it (`linuxSockets.udpRelay`,
 * native/udp_relay.cc); without it the stack uses Node's dgram sockets, one call per datagram.
 */
export interface UdpRelay {
  /** The socket's local port (0 when closed). */
  readonly localPort: number;
  /**
   * Sends datagram i = `data[offsets[i], +lengths[i])` to the address at `dsts[16·i…]` (4 or 16 bytes by
   * `dstFamily`) port `dports[i]`, for i < count: directly, or framed to the SOCKS5 relay. A full send buffer
   * drops the datagram (counted in `stats().sendDrops`). Other errors (EHOSTUNREACH…) are listed in
   * `sendErrors` (index, errno); returns how many.
   */
  send(
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    dsts: Uint8Array,
    dports: Uint32Array,
    count: number,
    dstFamily: 4 | 6,
  ): number;
  /**
   * From now on what arrives becomes complete reply packets (IP + UDP, checksums done) from the sender to
   * `client`:`clientPort`, handed to `onPackets` as one batch per read (valid only during the call) instead
   * of `UdpRelayOptions.onDatagram`. Senders of another family than `client` are refused (counted).
   */
  replyTo(client: Uint8Array, clientPort: number, onPackets: (batch: PacketBatch) => void): void;
  /**
   * Messages `send` sent as one GSO group (Linux UDP_SEGMENT: ≥ 2 consecutive datagrams to one destination
   * with one length, which the kernel carries as one super-packet and cuts into those datagrams), cumulative;
   * 0 where the relay does not group.
   */
  readonly gsoSends: number;
  /** The errors of the last `send`: index into its datagrams, and errno (shared: read right after send). */
  readonly sendErrors: { readonly index: Uint32Array; readonly code: Int32Array };
  stats(): UdpRelayStats;
  /** Stops reading and closes the fd. Idempotent. */
  close(): void;
}

export interface UdpRelayStats {
  sent: number;
  sentBytes: number;
  /** Datagrams lost to a full socket send buffer (EAGAIN/ENOBUFS). */
  sendDrops: number;
  received: number;
  receivedBytes: number;
  /** SOCKS5: datagrams from anyone but the relay (RFC 1928 §7), dropped. */
  foreign: number;
  /** replyTo: datagrams that cannot become a reply (other family, port 0, too large), dropped. */
  badReply: number;
  /** Messages sent as one GSO group of ≥ 2 datagrams (see UdpRelay.gsoSends). */
  gsoSends: number;
}

export interface UdpRelayOptions {
  /** A bound, non-blocking UDP socket; the relay owns it from now on (and closes it, also on a throw). */
  fd: number;
  family: 4 | 6;
  /** SOCKS5 UDP ASSOCIATE: every datagram goes to this relay (of `family`), framed; only it is heard. */
  socks5?: { address: Uint8Array; port: number };
  /** A datagram arrived (before replyTo): its payload and sender (views valid only during the call). */
  onDatagram(payload: Uint8Array, address: Uint8Array, port: number): void;
  /** Datagrams dropped in one read: from a sender other than the SOCKS5 relay; unfit for a reply packet. */
  onDrops?(foreign: number, badReply: number): void;
  /** The socket failed (errno); it is no longer read. */
  onError(errno: number): void;
}

export interface UdpRelayEngine {
  open(options: UdpRelayOptions): UdpRelay;
}
