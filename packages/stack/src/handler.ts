import type { Duplex } from 'node:stream';
import type { UdpRelay } from '@ztun/packet';

// What the stack hands to the application. A Node program can pass its own Handler to createStack, or use
// one built from an outbound (directOutbound / socks5Outbound) with handlerFromOutbound.

/** An IP address in text form ("10.0.0.1", "fd00::1") and a port. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface TcpConnectionInfo {
  readonly family: 4 | 6;
  /** The client that opened the connection (as it appeared on the TUN). */
  readonly source: Endpoint;
  /** Where the client wanted to go. */
  readonly destination: Endpoint;
}

/**
 * A TCP connection from the TUN. It is a kernel TCP socket (net.Socket) that the stack accepted: reading gives
 * what the client sent, writing sends to the client. `end()` closes gracefully (FIN); `resetAndDestroy()`
 * makes the client see a RST (use it when the real destination refused or failed); it works in every state,
 * also right after `end()`, where Node's own would fail with EINVAL and leak the socket.
 */
export type TcpConnection = Duplex & { resetAndDestroy(): unknown };

export type UnreachableReason = 'port' | 'host' | 'prohibited';

/** One UDP source (client address and port) as seen on the TUN: endpoint-independent ("full cone"). */
export interface UdpSession {
  readonly family: 4 | 6;
  readonly source: Endpoint;
  /** Sends `payload` to the client as a UDP datagram coming from `from`. */
  reply(payload: Uint8Array, from: Endpoint): void;
  /**
   * Tells the client that `destination` is unreachable (ICMP / ICMPv6 destination unreachable): 'port'
   * (default), 'host', or 'prohibited' (administratively prohibited, RFC 1812 §5.2.7.1 / RFC 4443 §3.1: a
   * hard error that fails the client's connected socket at once).
   */
  unreachable(destination: Endpoint, reason?: UnreachableReason): void;
  /**
   * Counts a datagram the handler received for this session and refused, in the stack's `drops[reason]`:
   * 'udpForeignSender' = from a sender that is not the session's peer (SOCKS5: not the relay, RFC 1928 §7);
   * 'udpBadReply' = a reply that cannot become a packet to the client (the batch path's relay).
   */
  drop(reason: UdpSessionDropReason): void;
  /** Ends the session now (the handler's onClose runs). */
  close(): void;
}

export type UdpSessionDropReason = 'udpForeignSender' | 'udpBadReply';

/** What the handler returns for a new UDP session. */
export interface UdpSessionHandler {
  /** A datagram from the client to `destination`. `payload` is a copy the handler may keep. */
  send(payload: Uint8Array, destination: Endpoint): void;
  /** The session ended (idle timeout, table full eviction, stack closed, or session.close()). */
  close(): void;
  /**
   * Optional, the batch path (issue 17 item 4; udp-batch.ts): the session's relay once it can take datagrams
   * (@ztun/packet's UdpRelay, from `StackSockets.udpRelay`). The stack then sends the session's datagrams
   * through it a TUN batch at a time and has its replies built into packets (`replyTo`), instead of calling
   * send() and session.reply() per datagram. A wrapper that must see every datagram leaves it out.
   */
  readonly batch?: UdpRelay | undefined;
  /** With `batch`: the payload bytes the stack moved through the relay, reported once per batch. */
  counted?(up: number, down: number): void;
  /**
   * With `batch`: true for datagrams to `destinationPort` that must still go through send() (a wrapper that
   * handles them itself, e.g. DNS queries carried over TCP). Asked before `batch` is read.
   */
  keeps?(destinationPort: number): boolean;
}

export interface IcmpEchoInfo {
  readonly family: 4 | 6;
  readonly source: string;
  readonly destination: string;
}

export interface Handler {
  /** A new TCP connection. The handler owns `conn` from now on and must eventually end or destroy it. */
  tcp(conn: TcpConnection, info: TcpConnectionInfo): void;
  /** A new UDP session (first datagram from a client address:port); its datagrams follow via send(). */
  udp(session: UdpSession): UdpSessionHandler;
  /**
   * Optional: decides per echo request whether the stack answers it locally (icmp mode 'reply' only).
   * Return false to drop. Called synchronously on the packet path: keep it cheap.
   */
  icmpEcho?(info: IcmpEchoInfo): boolean;
  /**
   * Optional: true when the handler starts reading every `conn` itself (pipe(), resume(), or a relay that
   * takes the fd): the stack then accepts without reading (Node's `pauseOnConnect`), so what the client sent
   * before the outbound connected stays in the kernel — a zero-copy relay moves it with the rest, with no
   * read into JS and no write back out (issue 17 item 6). Until then a reset or FIN from the client is not
   * seen either. Default: conn is read from the start, as any accepted net.Socket.
   */
  readonly acceptPaused?: boolean;
}

/** Something that can open TCP connections and UDP sessions to real destinations. */
export interface Outbound {
  readonly name: string;
  /** Connects to `destination`; resolves with a connected duplex or rejects (the client then gets a RST). */
  connectTcp(destination: Endpoint, info: TcpConnectionInfo): Promise<Duplex>;
  /** Opens a UDP relay for one client session. */
  openUdp(session: UdpSession): UdpSessionHandler;
  /** Releases shared resources (sockets kept open for reuse). */
  close?(): Promise<void>;
}
