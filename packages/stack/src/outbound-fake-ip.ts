import { addressAnswer, isDnsQuery, servfailAnswer } from './dns-message.js';
import type { FakeIpPool } from './fake-ip-pool.js';
import type { Endpoint, Outbound, UdpSession, UdpSessionHandler } from './handler.js';

// Fake-IP DNS (issue 15 item 3): A/AAAA queries are answered here with addresses from the pool, and TCP/UDP to
// such an address goes to the wrapped outbound with the name as destination — through SOCKS5 that is
// ATYP=DOMAINNAME (RFC 1928 §5), so the proxy resolves it and no query for it leaves this host. Other
// queries are forwarded (to the resolver they were sent to, or to `upstream` for the pool's own DNS address)
// through the wrapped outbound, which carries them as UDP or DNS over TCP.

export interface FakeIpOutboundOptions {
  readonly pool: FakeIpPool;
  /** Answer queries sent to any resolver (true), or only those to the pool's DNS addresses (false). */
  readonly hijack: boolean;
  /** Where other queries to the pool's DNS address go (a real resolver); without it they get SERVFAIL. */
  readonly upstream?: Endpoint;
  /** TTL of the answers, seconds (default 60: far below the pool's expiry). */
  readonly ttlS?: number;
}

const key = (e: Endpoint) => `${e.address}|${e.port}`;

export function fakeIpOutbound(inner: Outbound, o: FakeIpOutboundOptions): Outbound {
  const { pool } = o;
  const dns = new Set([pool.dnsAddress(4), pool.dnsAddress(6)].filter((a): a is string => a !== undefined));
  const ttlS = o.ttlS ?? 60;

  return {
    name: inner.name,
    async connectTcp(destination, info) {
      if (!pool.contains(destination.address)) return inner.connectTcp(destination, info);
      const name = pool.nameOf(destination.address);
      if (!name) throw new Error(`fake address ${destination.address} has no name (expired or never given)`);
      pool.acquire(destination.address);
      try {
        const up = await inner.connectTcp({ address: name, port: destination.port }, info);
        up.once('close', () => pool.release(destination.address));
        return up;
      } catch (err) {
        pool.release(destination.address);
        throw err;
      }
    },
    openUdp(session: UdpSession): UdpSessionHandler {
      let udp: UdpSessionHandler | undefined;
      /** Replies from these senders are shown to the client as coming from the address it sent to. */
      const shownAs = new Map<string, Endpoint>();
      /** Fake destinations by port: the proxy reports a real address for their replies. */
      const fakeByPort = new Map<number, Endpoint>();
      const held = new Set<string>();
      const relay = () =>
        (udp ??= inner.openUdp({
          family: session.family,
          source: session.source,
          reply(payload, from) {
            session.reply(payload, shownAs.get(key(from)) ?? fakeByPort.get(from.port) ?? from);
          },
          unreachable: (d, r) => session.unreachable(shownAs.get(key(d)) ?? d, r),
          drop: (r) => session.drop(r),
          close: () => session.close(),
        }));
      return {
        send(payload, destination) {
          const toPool = dns.has(destination.address);
          if (destination.port === 53 && (o.hijack || toPool) && isDnsQuery(payload)) {
            const answer = addressAnswer(payload, (n, f) => pool.addressFor(n, f), ttlS);
            if (answer) return session.reply(answer, destination);
            const target = toPool ? o.upstream : destination;
            if (!target) {
              const fail = servfailAnswer(payload);
              if (fail) session.reply(fail, destination);
              return;
            }
            shownAs.set(key(target), destination);
            return relay().send(payload, target);
          }
          if (pool.contains(destination.address)) {
            const name = pool.nameOf(destination.address);
            if (!name) return session.unreachable(destination, 'host');
            if (!held.has(destination.address)) {
              held.add(destination.address);
              pool.acquire(destination.address);
            }
            fakeByPort.set(destination.port, destination);
            return relay().send(payload, { address: name, port: destination.port });
          }
          relay().send(payload, destination);
        },
        close() {
          for (const a of held) pool.release(a);
          held.clear();
          udp?.close();
        },
      };
    },
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}
