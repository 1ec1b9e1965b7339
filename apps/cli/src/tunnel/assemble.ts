// The OS-neutral middle of every tunnel: outbound (direct or SOCKS5, pinned out of the TUN) → handler (with
// the OS's relay, if it has one) → stack on the device; plus the start-up proxy check and the stats snapshot.
// Each OS composition (platform/tunnel.<os>.ts) brings the device, the pinning and the socket options.

import type { Pinning, StackSockets, TunDevice } from '@ztun/packet';
import {
  checkSocks5Proxy,
  createStack,
  type DnsOverTcpOutbound,
  directOutbound,
  handlerFromOutbound,
  type Outbound,
  type OutboundHandlerOptions,
  probeSocks5Udp,
  type Stack,
  socks5Outbound,
} from '@ztun/stack';
import { formatCidr } from '../cidr.js';
import { describeProxy, type ProxyConfig, type RunConfig } from '../config.js';
import { type ConnectFailures, connectFailureReporter } from '../connect-failures.js';
import { type ConnectionInfo, countingOutbound, type TrafficCounters } from '../counting.js';
import type { Logger } from '../log.js';
import type { ProxyAddress } from '../proxy-address.js';
import { ProxyUdp } from '../proxy-udp.js';
import type { StatsSnapshot } from '../stats.js';
import { dnsLayers } from './dns-layers.js';

/** An OS's zero-copy relay: takes a connected pair (true) or leaves it to Node streams (false). */
export interface OsRelay {
  relay: NonNullable<OutboundHandlerOptions['relay']>;
  /** Adds the bytes the relay moved outside Node's sockets to the outbound's counts. */
  count(inner: TrafficCounters): TrafficCounters;
  /** Bytes (both ways) the relay moved outside Node's sockets since it was made. */
  spliced?(): number;
}

export interface AssembleOptions {
  readonly config: RunConfig;
  readonly device: TunDevice;
  readonly sockets: StackSockets;
  /** How the outbound's sockets stay out of the TUN (Linux: mark; macOS: bound interface). */
  readonly pin: Pinning;
  readonly proxy?: ProxyAddress;
  readonly relay?: OsRelay;
  readonly log: Logger;
}

export interface Assembled {
  readonly stack: Stack;
  readonly traffic: TrafficCounters;
  readonly connectFailures: ConnectFailures;
  /** The open connections and UDP sessions (`/connections`). */
  connections(): ConnectionInfo[];
  /** Bytes relayed each way by the OS relay (splice) vs through Node's sockets. */
  relayBytes(): { spliced: number; copied: number };
  /** What the SOCKS5 proxy can do with UDP (absent for direct). */
  readonly proxyUdp?: ProxyUdp;
  /** The DNS-over-TCP layer (absent with --dns udp). */
  readonly dns?: DnsOverTcpOutbound;
}

/** The SOCKS5 options for `proxy`; a proxy given by name is reached at the cached address (never a lookup per connection). */
export function socks5Options(
  proxy: Extract<ProxyConfig, { kind: 'socks5' }>,
  address: ProxyAddress | undefined,
) {
  return {
    host: proxy.host,
    port: proxy.port,
    ...(address ? { resolveHost: () => address.address() } : {}),
    ...(proxy.username !== undefined ? { username: proxy.username, password: proxy.password ?? '' } : {}),
  };
}

function outboundFor(
  proxy: ProxyConfig,
  pin: Pinning,
  sockets: StackSockets,
  address: ProxyAddress | undefined,
  udp: ProxyUdp | undefined,
): Outbound {
  if (proxy.kind === 'direct') return directOutbound({ ...pin, sockets });
  return socks5Outbound({
    ...socks5Options(proxy, address),
    ...pin,
    sockets,
    onUdpAssociateError: (err) => udp?.associateFailed(err),
    onProxyBack: () => udp?.proxyBack(),
  });
}

/** The proxy's UDP capability tracker, probing with the run's settings (SOCKS5 only). */
function proxyUdpFor(o: AssembleOptions): ProxyUdp | undefined {
  const p = o.config.proxy;
  if (p.kind !== 'socks5') return undefined;
  return new ProxyUdp({
    probe: (signal) =>
      probeSocks5Udp({
        ...socks5Options(p, o.proxy),
        ...o.pin,
        sockets: o.sockets,
        timeoutMs: 2000,
        ...(signal ? { signal } : {}),
      }),
    proxy: describeProxy(p),
    dnsMode: o.config.dns,
    log: o.log,
  });
}

/** Builds the stack on `device` (not started: the caller starts it and owns close()). */
export function assembleStack(o: AssembleOptions): Assembled {
  const { config, log } = o;
  const proxyUdp = proxyUdpFor(o);
  const counted = countingOutbound(outboundFor(config.proxy, o.pin, o.sockets, o.proxy, proxyUdp));
  const { outbound, dns, pool } = dnsLayers(counted, config, proxyUdp, log);
  const connectFailures = connectFailureReporter(log);
  const handler = handlerFromOutbound(outbound, {
    onConnectError: (dest, err) => connectFailures.failed(dest, err),
    sockets: o.sockets,
    ...(o.relay ? { relay: o.relay.relay } : {}),
  });
  const v4 = config.addresses.find((a) => a.family === 4);
  const v6 = config.addresses.find((a) => a.family === 6);
  const stack = createStack({
    device: o.device,
    handler,
    sockets: o.sockets,
    addresses: {
      ...(v4 ? { ipv4: { tunAddress: v4.address, prefix: v4.prefixLength } } : {}),
      ...(v6 ? { ipv6: { tunAddress: v6.address, prefix: v6.prefixLength } } : {}),
    },
    // The TUN's own prefixes: pinned outbound sockets would find them on the main table's connected routes,
    // straight back into the TUN (a loop), so flows there are refused.
    loopPrefixes: config.addresses.map(formatCidr),
    // …except the fake-IP ranges: flows there leave by name, never to those addresses.
    ...(pool ? { loopExceptions: config.fakeIpRanges.map(formatCidr) } : {}),
    icmp: config.icmp,
    // ZTUN_DEVICE_ECHO=0: every echo request through the stack's JS path (bench:tunnel compares the two).
    deviceEcho: process.env.ZTUN_DEVICE_ECHO !== '0',
    udpTimeoutMs: config.udpTimeoutMs,
    ...(config.pcap ? { pcap: config.pcap } : {}),
    logger: { warn: (m) => log.warn(m), error: (m) => log.error(m), debug: (m) => log.debug(m) },
  });
  return {
    stack,
    traffic: o.relay ? o.relay.count(counted) : counted,
    connectFailures,
    ...(proxyUdp ? { proxyUdp } : {}),
    ...(dns ? { dns } : {}),
    connections: () => counted.connections(),
    relayBytes: () => ({
      spliced: o.relay?.spliced?.() ?? 0,
      copied: counted.bytesUp() + counted.bytesDown(),
    }),
  };
}

/**
 * At start-up: is the SOCKS5 server reachable, and does it take our credentials (a wrong password would
 * otherwise show only as resets)? Logs one warning; never fails the start. Then, if it is usable, whether it
 * relays UDP (one line). Aborted by `signal`.
 */
export async function checkProxyAtStart(
  o: Pick<AssembleOptions, 'config' | 'pin' | 'sockets' | 'proxy' | 'log'>,
  parts: Pick<Assembled, 'proxyUdp'>,
  signal: AbortSignal,
): Promise<void> {
  if (await warnIfProxyUnusable(o, signal)) await parts.proxyUdp?.check(signal);
}

/**
 * The part every OS composition shares after its routes are in: build the stack on the device, start it, end
 * the tunnel on a device error, then check the proxy. `hold` gets the stack before it starts, so the caller's
 * teardown closes it even when start-up fails or is aborted half-way.
 */
export async function startStack(
  o: AssembleOptions,
  signal: AbortSignal,
  fail: (reason: string, error: Error) => void,
  hold: (parts: Assembled) => void,
): Promise<Assembled> {
  const parts = assembleStack(o);
  hold(parts);
  await parts.stack.start();
  o.device.onError((err) => {
    o.log.error(`device ${o.device.name}: ${err.message}`);
    fail('device error', err);
  });
  await checkProxyAtStart(o, parts, signal);
  return parts;
}

/** The credentials check of checkProxyAtStart; true when the proxy is usable (or there is none). */
export async function warnIfProxyUnusable(
  o: Pick<AssembleOptions, 'config' | 'pin' | 'sockets' | 'proxy' | 'log'>,
  signal: AbortSignal,
): Promise<boolean> {
  const p = o.config.proxy;
  if (p.kind !== 'socks5') return true;
  const why = await checkSocks5Proxy({
    ...socks5Options(p, o.proxy),
    ...o.pin,
    sockets: o.sockets,
    timeoutMs: 2000,
    signal,
  });
  if (why && !signal.aborted) {
    o.log.warn(
      `proxy ${describeProxy(p)} ${why}; connections get resets until ${why.startsWith('is not reachable') ? 'it is back' : 'that is fixed'}`,
    );
  }
  return why === undefined && !signal.aborted;
}

/** One stats snapshot from the stack's and the device's counters (+ the OS's count of queue drops). */
export function snapshotOf(
  parts: Assembled,
  device: TunDevice,
  queueDrops: number,
  startedAt: number,
): StatsSnapshot {
  const c = parts.stack.counters;
  const d = device.counters;
  const dropsByReason: Record<string, number> = {};
  let drops = d.rxDropped + d.txDropped + queueDrops;
  for (const [reason, n] of Object.entries(c.drops)) {
    drops += n;
    if (n > 0) dropsByReason[reason] = n;
  }
  if (d.rxDropped) dropsByReason.deviceRead = d.rxDropped;
  if (d.txDropped) dropsByReason.deviceWrite = d.txDropped;
  if (queueDrops) dropsByReason.deviceQueue = queueDrops;
  return {
    uptimeMs: Date.now() - startedAt,
    tcpOpen: c.tcpOpen,
    udpOpen: c.udpOpen,
    bytesOut: parts.traffic.bytesUp(),
    bytesIn: parts.traffic.bytesDown(),
    // Packets the stack read from / wrote to the TUN (both directions of NATed TCP pass each way).
    packetsOut: c.rxPackets,
    packetsIn: c.txPackets,
    drops,
    dropsByReason,
    connectFailures: parts.connectFailures.count,
    udpAssociateFailures: parts.proxyUdp?.associateFailures ?? 0,
    ...(parts.dns ? { dnsOverTcpQueries: parts.dns.dnsCounters.queries } : {}),
    deviceQueueDrops: queueDrops,
    relayBytes: parts.relayBytes(),
    udpBatched: c.udpBatchSent + c.udpBatchReplies,
    udpGsoSends: c.udpGsoSends,
  };
}

/** The ready line's word on what happens to routed traffic if ztun dies without cleaning up. */
export function crashBehaviour(config: RunConfig): string {
  return config.killSwitch
    ? 'kill-switch: routed traffic is dropped if ztun dies'
    : 'fail-open: if ztun dies, routed traffic bypasses the tunnel until ztun cleanup (see --kill-switch)';
}
