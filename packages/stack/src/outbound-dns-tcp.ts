import { fitUdpAnswer, isDnsQuery, servfailAnswer, udpAnswerLimit } from './dns-message.js';
import { DnsTcpClient, type DnsTcpCounters, type DnsTcpError } from './dns-tcp.js';
import type { Endpoint, Outbound, UdpSession, UdpSessionHandler } from './handler.js';

// UDP DNS carried as DNS over TCP through the outbound's TCP connect (SOCKS5 CONNECT): for a proxy that
// relays no UDP (OpenSSH's `ssh -D`, Tor's SocksPort, many corporate proxies), UDP queries to port 53 are
// sent to the same resolver address over TCP (RFC 7766) and the answers go back to the client as UDP
// datagrams from that resolver. Everything else passes to the wrapped outbound untouched; a session that
// only does DNS never opens the outbound's UDP relay at all.

export interface DnsOverTcpOptions {
  /**
   * Whether this query to `resolver` goes over TCP now. Asked per query, so a caller can follow what the
   * proxy turns out to support (`auto`: TCP unless the proxy relays UDP). Default: always.
   */
  useTcp?(resolver: Endpoint): boolean;
  /** The DNS port (default 53). */
  port?: number;
  queryTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** One line per query that got no answer (for a debug log). */
  onQueryError?(resolver: Endpoint, err: DnsTcpError): void;
}

export interface DnsOverTcpCounters extends DnsTcpCounters {
  /** Answers too large for the client's UDP limit, sent back truncated (TC set). */
  truncated: number;
}

export type DnsOverTcpOutbound = Outbound & { readonly dnsCounters: DnsOverTcpCounters };

/** Wraps `inner` so UDP DNS queries travel as DNS over TCP through `inner.connectTcp`. */
export function dnsOverTcpOutbound(inner: Outbound, options: DnsOverTcpOptions = {}): DnsOverTcpOutbound {
  const port = options.port ?? 53;
  let truncated = 0;
  let connectSource: UdpSession | undefined;
  const client = new DnsTcpClient({
    connect: (resolver) =>
      inner.connectTcp(resolver, {
        family: resolver.address.includes(':') ? 6 : 4,
        // The connection serves many clients; name the one whose query opened it.
        source: connectSource?.source ?? {
          address: resolver.address.includes(':') ? '::' : '0.0.0.0',
          port: 0,
        },
        destination: resolver,
      }),
    ...(options.queryTimeoutMs !== undefined ? { queryTimeoutMs: options.queryTimeoutMs } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
  });

  function query(session: UdpSession, isOpen: () => boolean, payload: Uint8Array, resolver: Endpoint): void {
    const limit = udpAnswerLimit(payload);
    connectSource = session;
    client.query(resolver, payload).then(
      (answer) => {
        if (!isOpen()) return;
        const fitted = fitUdpAnswer(answer, limit);
        if (!fitted) return;
        if (fitted !== answer) truncated++;
        session.reply(fitted, resolver);
      },
      (err: DnsTcpError) => {
        options.onQueryError?.(resolver, err);
        // A resolver that cannot be reached says so at once; a timeout stays silent (the client retries).
        if (err.kind === 'timeout' || !isOpen()) return;
        const fail = servfailAnswer(payload);
        if (fail) session.reply(fail, resolver);
      },
    );
  }

  return {
    name: inner.name,
    connectTcp: (destination, info) => inner.connectTcp(destination, info),
    openUdp(session: UdpSession): UdpSessionHandler {
      let udp: UdpSessionHandler | undefined;
      let open = true;
      const isOpen = () => open;
      return {
        // The batch path for everything but port `port` (those may be queries to carry over TCP): the inner
        // session is opened by the first datagram the stack would batch, as send() opens it.
        keeps: (destinationPort: number) => destinationPort === port,
        get batch() {
          if (!open) return undefined;
          udp ??= inner.openUdp(session);
          return udp.batch;
        },
        counted(up: number, down: number) {
          udp?.counted?.(up, down);
        },
        send(payload, destination) {
          if (
            destination.port === port &&
            isDnsQuery(payload) &&
            (options.useTcp ? options.useTcp(destination) : true)
          ) {
            query(session, isOpen, payload, destination);
            return;
          }
          udp ??= inner.openUdp(session);
          udp.send(payload, destination);
        },
        close() {
          open = false;
          udp?.close();
        },
      };
    },
    async close() {
      client.close();
      await inner.close?.();
    },
    get dnsCounters() {
      return { ...client.counters, truncated };
    },
  };
}
