// The DNS layers over the outbound (README "DNS"), OS-neutral: DNS over TCP (--dns tcp, and auto while the
// proxy relays no UDP) and, with --dns fake-ip, local A/AAAA answers from the fake-IP pool on top.

import {
  type DnsOverTcpOutbound,
  dnsOverTcpOutbound,
  type Endpoint,
  FakeIpPool,
  fakeIpOutbound,
  type Outbound,
} from '@ztun/stack';
import { formatCidr } from '../cidr.js';
import type { RunConfig } from '../config.js';
import { type Nameserver, systemNameservers } from '../dns-query.js';
import type { Logger } from '../log.js';
import type { ProxyUdp } from '../proxy-udp.js';

export interface DnsLayers {
  readonly outbound: Outbound;
  readonly dns?: DnsOverTcpOutbound;
  readonly pool?: FakeIpPool;
}

export function dnsLayers(
  inner: Outbound,
  config: RunConfig,
  proxyUdp: ProxyUdp | undefined,
  log: Logger,
  nameservers: () => readonly Nameserver[] = systemNameservers,
): DnsLayers {
  if (config.dns === 'udp') return { outbound: inner };
  // auto (and fake-ip's forwarded queries): as UDP while the proxy relays UDP (direct always does), else TCP.
  const dns = dnsOverTcpOutbound(inner, {
    useTcp: () => config.dns === 'tcp' || (proxyUdp !== undefined && proxyUdp.state !== 'relayed'),
    onQueryError: (r, err) => log.debug(`DNS over TCP to ${r.address}: ${err.message}`),
  });
  if (config.dns !== 'fake-ip') return { outbound: dns, dns };
  const v4 = config.fakeIpRanges.find((r) => r.family === 4);
  const v6 = config.fakeIpRanges.find((r) => r.family === 6);
  const pool = new FakeIpPool({
    ...(v4 ? { ipv4: formatCidr(v4) } : {}),
    ...(v6 ? { ipv6: formatCidr(v6) } : {}),
  });
  const own = [pool.dnsAddress(4), pool.dnsAddress(6)].filter((a): a is string => a !== undefined);
  // Other queries to the pool's DNS address go to the system's first resolver (read once, at start).
  const upstream: Endpoint | undefined = nameservers().find((n) => !own.includes(n.address));
  log.info(
    `fake-ip: A/AAAA answered from ${config.fakeIpRanges.map(formatCidr).join(' and ')} for queries to ` +
      `${config.dnsHijack ? 'any resolver' : own.join(' or ')}; connections there go to the proxy by name` +
      `; other queries go ${upstream ? `to ${upstream.address}` : 'nowhere (no resolver in /etc/resolv.conf)'}`,
  );
  const outbound = fakeIpOutbound(dns, {
    pool,
    hijack: config.dnsHijack,
    ...(upstream ? { upstream } : {}),
  });
  return { outbound, dns, pool };
}
