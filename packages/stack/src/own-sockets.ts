import type dgram from 'node:dgram';
import type net from 'node:net';
import type { Endpoint } from './handler.js';
import { parseIp } from './wire.js';

// The outbounds' own sockets, by local port, so the stack recognises their traffic when a route sends it back
// into the TUN: an outbound must never re-enter the tunnel (each pass would open a new session: a loop). TCP
// is matched on the exact 4-tuple; UDP sockets are bound to a port of their own (no SO_REUSEADDR), so a
// datagram from that port and the TUN's own address can only be theirs.

/** Called when a datagram of this UDP socket came back into the TUN instead of reaching `destination`. */
export type UdpLoopListener = (destination: Endpoint) => void;

/**
 * One TCP socket: local then remote address in one slice of Node's shared Buffer pool (no ArrayBuffer of its
 * own), chained with the other sockets on its local port — an idle connection costs this object, its slice
 * and a map entry (issue 17 item 2).
 */
interface TcpEntry {
  readonly family: 4 | 6;
  readonly addrs: Uint8Array;
  readonly localPort: number;
  readonly remotePort: number;
  next: TcpEntry | undefined;
}

function bytesEqual(a: Uint8Array, aOff: number, len: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < len; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/** The local address and port of a socket, without Node's getter (it caches what it reads first). */
function localEndpoint(sock: net.Socket): { address: string; port: number } | undefined {
  const handle = (sock as unknown as { _handle?: { getsockname?(out: object): number } })._handle;
  const out: { address?: string; port?: number } = {};
  if (handle?.getsockname?.(out) !== 0 || !out.port || !out.address) return undefined;
  return { address: out.address, port: out.port };
}

export class OwnSockets {
  /** The first entry on each local port (more chain through `next`). */
  private readonly tcp = new Map<number, TcpEntry>();
  private readonly tcpBySocket = new Map<net.Socket, TcpEntry>();
  private readonly udp4 = new Map<number, UdpLoopListener>();
  private readonly udp6 = new Map<number, UdpLoopListener>();
  /** One 'close' listener for every tracked TCP socket (`this` is the socket): no closure per connection. */
  private readonly onTcpClose: (this: net.Socket) => void;

  constructor() {
    const tcp = this.tcp;
    const bySocket = this.tcpBySocket;
    this.onTcpClose = function (this: net.Socket) {
      const entry = bySocket.get(this);
      if (!entry) return;
      bySocket.delete(this);
      let e = tcp.get(entry.localPort);
      if (e === entry) {
        if (entry.next) tcp.set(entry.localPort, entry.next);
        else tcp.delete(entry.localPort);
        return;
      }
      while (e && e.next !== entry) e = e.next;
      if (e) e.next = entry.next;
    };
  }

  /**
   * Registers a TCP socket once its connect(2) has run (its local address and port are chosen then) until it
   * closes. Call it on the tick after `sock.connect()`: Node issues connect(2) on the next tick for an IP.
   */
  trackTcp(sock: net.Socket, family: 4 | 6, remote: Uint8Array, remotePort: number): void {
    if (sock.destroyed) return;
    const local = localEndpoint(sock);
    const localBytes = local ? parseIp(local.address) : undefined;
    if (!local || !localBytes || localBytes.length !== remote.length) return;
    const addrs = Buffer.allocUnsafe(2 * remote.length); // a slice of the pool (Buffer.poolSize)
    addrs.set(localBytes, 0);
    addrs.set(remote, remote.length);
    const entry: TcpEntry = {
      family,
      addrs,
      localPort: local.port,
      remotePort,
      next: this.tcp.get(local.port),
    };
    this.tcp.set(local.port, entry);
    this.tcpBySocket.set(sock, entry);
    sock.on('close', this.onTcpClose);
  }

  /** True when src:sport → dst:dport (addresses in `d`) is one of the outbounds' own TCP connections. */
  isOwnTcp(
    family: 4 | 6,
    d: Uint8Array,
    srcOff: number,
    sport: number,
    dstOff: number,
    dport: number,
  ): boolean {
    for (let e = this.tcp.get(sport); e; e = e.next) {
      const alen = e.addrs.length >> 1;
      if (
        e.family === family &&
        e.remotePort === dport &&
        bytesEqual(e.addrs, 0, alen, d, srcOff) &&
        bytesEqual(e.addrs, alen, alen, d, dstOff)
      )
        return true;
    }
    return false;
  }

  /** Registers a bound UDP socket (its port is its own) until it closes. */
  trackUdp(sock: dgram.Socket, family: 4 | 6, onLoop: UdpLoopListener): void {
    const register = () => {
      let port: number;
      try {
        port = sock.address().port;
      } catch {
        return; // closed before it was bound
      }
      const map = family === 4 ? this.udp4 : this.udp6;
      map.set(port, onLoop);
      sock.once('close', () => {
        if (map.get(port) === onLoop) map.delete(port);
      });
    };
    try {
      sock.address();
      register();
    } catch {
      sock.once('listening', register);
    }
  }

  /** Registers a UDP socket Node does not hold (a batch-path relay) by its bound port; returns the undo. */
  trackUdpPort(family: 4 | 6, port: number, onLoop: UdpLoopListener): () => void {
    const map = family === 4 ? this.udp4 : this.udp6;
    if (port === 0) return () => {};
    map.set(port, onLoop);
    return () => {
      if (map.get(port) === onLoop) map.delete(port);
    };
  }

  /** The listener of the outbounds' UDP socket bound to `port`, if there is one. */
  udpListener(family: 4 | 6, port: number): UdpLoopListener | undefined {
    return (family === 4 ? this.udp4 : this.udp6).get(port);
  }
}

/** The process's registry: every outbound of this package registers here, every stack looks here. */
export const ownSockets = new OwnSockets();
