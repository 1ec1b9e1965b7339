import type { Duplex } from 'node:stream';
import type { Endpoint, Outbound, UdpSession, UdpSessionHandler } from '@ztun/stack';

// Upload/download byte counts at the outbound, where direction is unambiguous. (The system stack sees each
// TCP byte twice on the TUN — in from the client, back out to the kernel listener — so TUN counters cannot
// tell upload from download.)

export interface TrafficCounters {
  /** Payload bytes sent towards destinations (TCP stream bytes + UDP payloads). */
  bytesUp(): number;
  /** Payload bytes received from destinations. */
  bytesDown(): number;
}

interface SocketLike {
  bytesRead?: number;
  bytesWritten?: number;
}

/** Wraps an outbound so its traffic is counted each way; the counters are read on demand. */
export function countingOutbound(inner: Outbound): Outbound & TrafficCounters {
  let closedUp = 0;
  let closedDown = 0;
  let udpUp = 0;
  let udpDown = 0;
  const live = new Set<SocketLike>();

  const sum = (key: 'bytesRead' | 'bytesWritten') => {
    let n = 0;
    for (const s of live) n += s[key] ?? 0;
    return n;
  };

  return {
    name: inner.name,
    async connectTcp(destination, info): Promise<Duplex> {
      const remote = await inner.connectTcp(destination, info);
      // net.Socket (direct, and the socket `socks` hands back) keeps exact byte counts itself.
      const sock = remote as Duplex & SocketLike;
      if (typeof sock.bytesRead === 'number') {
        live.add(sock);
        remote.once('close', () => {
          live.delete(sock);
          closedUp += sock.bytesWritten ?? 0;
          closedDown += sock.bytesRead ?? 0;
        });
      }
      return remote;
    },
    openUdp(session: UdpSession): UdpSessionHandler {
      const counted: UdpSession = {
        family: session.family,
        source: session.source,
        reply(payload: Uint8Array, from: Endpoint) {
          udpDown += payload.length;
          session.reply(payload, from);
        },
        unreachable: (d, r) => session.unreachable(d, r),
        drop: (reason) => session.drop(reason),
        close: () => session.close(),
      };
      const h = inner.openUdp(counted);
      return {
        send(payload, destination) {
          udpUp += payload.length;
          h.send(payload, destination);
        },
        close: () => h.close(),
      };
    },
    ...(inner.close ? { close: () => inner.close!() } : {}),
    bytesUp: () => closedUp + udpUp + sum('bytesWritten'),
    bytesDown: () => closedDown + udpDown + sum('bytesRead'),
  };
}
