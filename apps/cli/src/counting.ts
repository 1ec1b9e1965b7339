import type { Duplex } from 'node:stream';
import type { Endpoint, Outbound, UdpSession, UdpSessionHandler } from '@ztun/stack';

// Upload/download byte counts at the outbound, where direction is unambiguous. (The system stack sees each
// TCP byte twice on the TUN — in from the client, back out to the kernel listener — so TUN counters cannot
// tell upload from download.) Also the open connections and UDP sessions, for `/connections`.

export interface TrafficCounters {
  /** Payload bytes sent towards destinations (TCP stream bytes + UDP payloads). */
  bytesUp(): number;
  /** Payload bytes received from destinations. */
  bytesDown(): number;
}

/** One open TCP connection or UDP session, as `/connections` shows it. */
export interface ConnectionInfo {
  readonly protocol: 'tcp' | 'udp';
  /** The client as it appeared on the TUN, `address:port` (`[v6]:port`). */
  readonly source: string;
  /** Where it goes (for UDP: the last destination it sent to). */
  readonly destination: string;
  /** Bytes through Node's sockets each way (a TCP pair handed to the splice relay moves the rest in the kernel). */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Milliseconds since it opened. */
  readonly ageMs: number;
}

export interface CountingOutbound extends Outbound, TrafficCounters {
  /** The open connections and sessions, oldest first. */
  connections(now?: number): ConnectionInfo[];
}

interface SocketLike {
  bytesRead?: number;
  bytesWritten?: number;
}

interface Live {
  readonly protocol: 'tcp' | 'udp';
  readonly source: string;
  destination: string;
  readonly since: number;
  up(): number;
  down(): number;
}

export const endpointText = (e: Endpoint): string =>
  e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;

/**
 * An open TCP connection: the socket keeps its byte counts and the endpoints are the handler's own, so an
 * idle connection costs this one object and a map entry (issue 17 item 2); the texts are made when asked.
 */
class TcpLive implements Live {
  constructor(
    private readonly sock: SocketLike,
    private readonly from: Endpoint,
    private readonly to: Endpoint,
    readonly since: number,
  ) {}
  get protocol(): 'tcp' {
    return 'tcp';
  }
  get source(): string {
    return endpointText(this.from);
  }
  get destination(): string {
    return endpointText(this.to);
  }
  up(): number {
    return this.sock.bytesWritten ?? 0;
  }
  down(): number {
    return this.sock.bytesRead ?? 0;
  }
}

/** Wraps an outbound so its traffic is counted each way; the counters are read on demand. */
export function countingOutbound(inner: Outbound): CountingOutbound {
  let closedUp = 0;
  let closedDown = 0;
  let udpUp = 0;
  let udpDown = 0;
  const tcp = new Map<SocketLike, TcpLive>();
  const open = new Set<Live>(); // UDP sessions

  const sum = (key: 'bytesRead' | 'bytesWritten') => {
    let n = 0;
    for (const s of tcp.keys()) n += s[key] ?? 0;
    return n;
  };
  // One listener for every TCP socket (`this` is the socket): no closure per connection.
  function onTcpClose(this: SocketLike) {
    if (!tcp.delete(this)) return;
    closedUp += this.bytesWritten ?? 0;
    closedDown += this.bytesRead ?? 0;
  }

  return {
    name: inner.name,
    async connectTcp(destination, info): Promise<Duplex> {
      const remote = await inner.connectTcp(destination, info);
      // net.Socket (direct, and the socket `socks` hands back) keeps exact byte counts itself.
      const sock = remote as Duplex & SocketLike;
      if (typeof sock.bytesRead === 'number') {
        tcp.set(sock, new TcpLive(sock, info.source, destination, Date.now()));
        remote.on('close', onTcpClose);
      }
      return remote;
    },
    openUdp(session: UdpSession): UdpSessionHandler {
      let up = 0;
      let down = 0;
      const entry: Live = {
        protocol: 'udp',
        source: endpointText(session.source),
        destination: '',
        since: Date.now(),
        up: () => up,
        down: () => down,
      };
      open.add(entry);
      const counted: UdpSession = {
        family: session.family,
        source: session.source,
        reply(payload: Uint8Array, from: Endpoint) {
          udpDown += payload.length;
          down += payload.length;
          session.reply(payload, from);
        },
        unreachable: (d, r) => session.unreachable(d, r),
        drop: (reason) => session.drop(reason),
        close: () => session.close(),
      };
      const h = inner.openUdp(counted);
      return {
        // The batch path (stack udp-batch.ts) passes through; its bytes arrive per batch in counted().
        get batch() {
          return h.batch;
        },
        ...(h.keeps ? { keeps: (p: number) => h.keeps!(p) } : {}),
        counted(u: number, d: number) {
          udpUp += u;
          up += u;
          udpDown += d;
          down += d;
          h.counted?.(u, d);
        },
        send(payload, destination) {
          udpUp += payload.length;
          up += payload.length;
          entry.destination = endpointText(destination);
          h.send(payload, destination);
        },
        close: () => {
          open.delete(entry);
          h.close();
        },
      };
    },
    ...(inner.close ? { close: () => inner.close!() } : {}),
    bytesUp: () => closedUp + udpUp + sum('bytesWritten'),
    bytesDown: () => closedDown + udpDown + sum('bytesRead'),
    connections(now = Date.now()) {
      const all = [...tcp.values(), ...open].sort((x, y) => x.since - y.since);
      return all.map((c) => ({
        protocol: c.protocol,
        source: c.source,
        destination: c.destination,
        bytesUp: c.up(),
        bytesDown: c.down(),
        ageMs: now - c.since,
      }));
    },
  };
}
