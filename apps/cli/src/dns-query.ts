import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns';
import type { StackSockets } from '@ztun/packet';
import * as dnsPacket from 'dns-packet';
import { ipFamily } from './cidr.js';

// A minimal stub resolver for the proxy's own name (RFC 1035 §4.2.1 over UDP): one A or AAAA question to
// a nameserver from a socket ztun opens itself, so the socket can carry SO_MARK and leave by the main table
// while everything else goes into the tunnel. getaddrinfo and node's dns.Resolver (c-ares) open their own
// sockets, which cannot be marked; c-ares' setLocalAddress only picks a source address, which policy
// routing would still send into the tunnel. dns-packet does the wire format.

export interface Nameserver {
  readonly address: string;
  readonly port: number;
}

export type DnsFailure = 'timeout' | 'nxdomain' | 'nodata' | 'servfail' | 'refused' | 'socket';

export class DnsQueryError extends Error {
  override readonly name = 'DnsQueryError';
  constructor(
    message: string,
    readonly kind: DnsFailure,
  ) {
    super(message);
  }
}

export interface DnsAnswer {
  readonly addresses: readonly string[];
  /** The smallest TTL along the answer (CNAME chain included), seconds. */
  readonly ttlS: number;
}

/** Opens the UDP socket one query is sent from. */
export type UdpSocketFactory = (family: 4 | 6) => dgram.Socket;

/**
 * Sockets marked with `mark` through the OS's `osSockets` (SO_MARK: ztun's `not fwmark` rule keeps them out of
 * the tunnel). With `fallbackUnmarked`, a socket that cannot be marked (no CAP_NET_ADMIN, e.g. `--dry-run` as
 * a user, or an OS without marks) is opened plain instead of failing.
 */
export function markedUdpSockets(
  mark: number,
  fallbackUnmarked: boolean,
  osSockets: StackSockets,
): UdpSocketFactory {
  return (family) => {
    const sock = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    let fd: number;
    try {
      fd = osSockets.createPinnedSocket(family, 'udp', { mark });
    } catch (err) {
      if (!fallbackUnmarked) {
        sock.close();
        throw err;
      }
      sock.bind(0);
      return sock;
    }
    sock.bind({ fd });
    return sock;
  };
}

/** The system's nameservers as /etc/resolv.conf names them now (a new c-ares channel reads it afresh). */
export function systemNameservers(): Nameserver[] {
  return new Resolver().getServers().map(parseNameserver);
}

/** `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353` → address and port. */
export function parseNameserver(text: string): Nameserver {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { address: bracketed[1]!, port: Number(bracketed[2] ?? 53) };
  if (ipFamily(text)) return { address: text, port: 53 };
  const i = text.lastIndexOf(':');
  return { address: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

export const describeServer = (s: Nameserver) =>
  s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;

const sameAddress = (a: string, b: string) => a === b || a.replace(/^::ffff:/, '') === b;

/**
 * Asks `server` for the `type` records of `name`; sends up to `tries` times, `timeoutMs` apart. Only an
 * answer from the server's address and port, with our random ID and our question, counts (RFC 5452 §9.1).
 */
export function queryAddresses(
  server: Nameserver,
  name: string,
  type: 'A' | 'AAAA',
  opts: { sockets: UdpSocketFactory; timeoutMs: number; tries: number },
): Promise<DnsAnswer> {
  const qname = name.replace(/\.$/, '').toLowerCase();
  const id = randomInt(0, 0x10000);
  const query = dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name: qname, class: 'IN' }],
  });
  return new Promise((resolve, reject) => {
    let sock: dgram.Socket;
    try {
      sock = opts.sockets(ipFamily(server.address) === 6 ? 6 : 4);
    } catch (err) {
      reject(new DnsQueryError(`cannot open a socket: ${(err as Error).message}`, 'socket'));
      return;
    }
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (result: DnsAnswer | DnsQueryError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      if (result instanceof DnsQueryError) reject(result);
      else resolve(result);
    };
    const send = () => {
      sent++;
      sock.send(query, server.port, server.address, (err) => {
        if (err) finish(new DnsQueryError(`${describeServer(server)}: ${err.message}`, 'socket'));
      });
      timer = setTimeout(() => {
        if (sent < opts.tries) send();
        else
          finish(
            new DnsQueryError(
              `no answer from ${describeServer(server)} (${opts.tries} tries, ${opts.timeoutMs} ms each)`,
              'timeout',
            ),
          );
      }, opts.timeoutMs);
      timer.unref();
    };
    sock.on('error', (err) =>
      finish(new DnsQueryError(`${describeServer(server)}: ${err.message}`, 'socket')),
    );
    sock.on('message', (buf, rinfo) => {
      if (!sameAddress(rinfo.address, server.address) || rinfo.port !== server.port) return;
      let p: dnsPacket.DecodedPacket;
      try {
        p = dnsPacket.decode(buf);
      } catch {
        return; // not DNS
      }
      const q = p.questions?.[0];
      if (p.id !== id || p.type !== 'response' || q?.name.toLowerCase() !== qname || q.type !== type) return;
      finish(answerOf(p, qname, type, server));
    });
    send();
  });
}

function answerOf(
  p: dnsPacket.DecodedPacket,
  qname: string,
  type: 'A' | 'AAAA',
  server: Nameserver,
): DnsAnswer | DnsQueryError {
  const rcode = (p as { rcode?: string }).rcode ?? 'NOERROR';
  const from = describeServer(server);
  if (rcode === 'NXDOMAIN')
    return new DnsQueryError(`${from}: ${qname} does not exist (NXDOMAIN)`, 'nxdomain');
  if (rcode === 'REFUSED') return new DnsQueryError(`${from} refused the query`, 'refused');
  if (rcode !== 'NOERROR') return new DnsQueryError(`${from} answered ${rcode}`, 'servfail');
  // Follow the CNAME chain from our name (in whatever order the records come); the TTL is the chain's
  // smallest.
  const answers = p.answers ?? [];
  const names = new Set([qname]);
  let ttlS = Number.POSITIVE_INFINITY;
  for (let grew = true; grew; ) {
    grew = false;
    for (const a of answers) {
      if (a.type !== 'CNAME' || !names.has(a.name.toLowerCase())) continue;
      const target = String(a.data).toLowerCase();
      if (names.has(target)) continue;
      names.add(target);
      ttlS = Math.min(ttlS, a.ttl ?? 0);
      grew = true;
    }
  }
  const addresses: string[] = [];
  for (const a of answers) {
    if (a.type !== type || !names.has(a.name.toLowerCase())) continue;
    addresses.push(String(a.data));
    ttlS = Math.min(ttlS, a.ttl ?? 0);
  }
  if (addresses.length === 0) return new DnsQueryError(`${from}: ${qname} has no ${type} record`, 'nodata');
  return { addresses, ttlS };
}
