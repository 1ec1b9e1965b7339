import type { StackSockets, TunDevice } from '@ztun/packet';
import type { Handler, Outbound } from './handler.js';
import type { OutboundHandlerOptions } from './handler-from-outbound.js';
import type { PcapTarget } from './pcap.js';
import { bytesEqual, formatIp, parseIp } from './wire.js';

// createStack's options, the counters it keeps, and how the TUN's addresses are resolved per family.

export interface FamilyAddresses {
  /** The TUN's own address; the kernel TCP listener binds here. Must be configured on the device. */
  tunAddress: string;
  /**
   * A second, unused address inside the TUN prefix: rewritten client flows appear to come from it.
   * Default: tunAddress + 1.
   */
  natAddress?: string;
  /** Prefix length of the TUN network (informational; natAddress must be inside it so the kernel routes
   *  replies to it back into the TUN). */
  prefix?: number;
}

export interface StackLogger {
  debug?(msg: string): void;
  info?(msg: string): void;
  warn?(msg: string): void;
  error?(msg: string): void;
}

export interface StackOptions {
  device: TunDevice;
  /** Your own handler; or give `outbound` and the stack builds one (handlerFromOutbound). */
  handler?: Handler;
  outbound?: Outbound;
  /**
   * With `outbound`: an optional relay for each connected TCP pair (e.g. @ztun/tun-linux's zero-copy
   * splice(2) relay), as in `handlerFromOutbound`'s `relay` option. Ignored when you give a `handler`.
   */
  relay?: OutboundHandlerOptions['relay'];
  /**
   * The OS's socket options (linuxSockets from @ztun/tun-linux, loadDarwinSockets() from @ztun/tun-darwin): used to
   * reset connections whose FIN is queued (SO_LINGER) and, with `outbound`, to tell a peer's reset from its
   * end (SO_ERROR; see handlerFromOutbound). Default: portableSockets (Node's API only). Pinning is the
   * outbound's own option.
   */
  sockets?: StackSockets;
  /**
   * The TUN's addresses per family, or the TUN's CIDRs (`['198.18.0.1/15', 'fd00:18::1/64']`: the first of
   * each family is the tunAddress, natAddress = tunAddress + 1). Required: the device contract carries no
   * addresses (configure them on the TUN, e.g. @ztun/tun-linux's `addresses` option, and pass the same here).
   */
  addresses: { ipv4?: FamilyAddresses; ipv6?: FamilyAddresses } | readonly string[];
  /**
   * Destinations (CIDRs) whose flows are refused before the handler sees them — TCP with a RST, UDP with an
   * ICMP/ICMPv6 "administratively prohibited" — and counted as `loop`: an outbound socket sent there would
   * re-enter the TUN (the kernel routes the TUN's own prefix into it). Default: with `outbound`, the TUN's
   * prefixes from `addresses`; with your own `handler`, none (it may serve addresses there itself, e.g.
   * fake IPs). The NAT address is always refused, and so is every flow that is one of the outbounds' own
   * sockets coming back through the TUN, whatever these prefixes say.
   */
  loopPrefixes?: readonly string[];
  /**
   * Prefixes inside `loopPrefixes` that are not refused: the handler serves them itself and never sends an
   * outbound socket there as an address (fake IPs, which go to the proxy by name).
   */
  loopExceptions?: readonly string[];
  /** 'reply': answer ICMP/ICMPv6 echo requests locally for every destination; 'off': drop them. */
  icmp?: 'reply' | 'off';
  /**
   * With icmp 'reply', no capture and no `Handler.icmpEcho` hook, let a device that can
   * (`TunDevice.answerEchoRequests`) answer echo requests itself, before they reach the stack: the same reply
   * bytes, counted in icmpEchoReplies, without a call into JS per ping. Default true; false keeps every echo
   * on the stack's path (comparisons).
   */
  deviceEcho?: boolean;
  /** UDP session idle timeout (default 60 s). */
  udpTimeoutMs?: number;
  /** TCP session idle timeout: no packet either way for this long → the connection is destroyed
   *  (default 1 h). */
  tcpIdleTimeoutMs?: number;
  /** Most TCP sessions per address family (default 60000, at most the NAT port range). */
  maxTcpSessions?: number;
  /** Most UDP sessions (default 8192). */
  maxUdpSessions?: number;
  /** NAT ports, inclusive (default 1024-65535). */
  natPortRange?: [number, number];
  /** Backlog of the kernel listeners (default 4096; the kernel caps it at net.core.somaxconn). */
  listenBacklog?: number;
  /** Capture every packet read from and written to the device (pcap, LINKTYPE_RAW). */
  pcap?: PcapTarget | string;
  logger?: StackLogger;
}

export type DropReason =
  | 'malformed'
  | 'badChecksum'
  | 'fragment'
  | 'unsupported'
  | 'tcpNoSession'
  | 'tcpTableFull'
  | 'tcpUnmappedAccept'
  | 'udpTableFull'
  | 'udpBadReply'
  | 'udpSourcePortZero'
  | 'udpForeignSender'
  | 'udpSendDropped'
  | 'icmpOff'
  | 'icmpOther'
  | 'loop';

export interface StackCounters {
  /** Packets/bytes read from the device. */
  rxPackets: number;
  rxBytes: number;
  /** Packets/bytes the stack wrote to the device (rewritten, replies, RSTs, ICMP errors). */
  txPackets: number;
  txBytes: number;
  /** TCP connections the handler holds now / ever accepted (SYNs mapped, to be exact). */
  tcpOpen: number;
  tcpTotal: number;
  /** NAT table entries (embryonic, open and lingering after close), both families. */
  readonly tcpNatEntries: number;
  udpOpen: number;
  udpTotal: number;
  /** Datagrams sent / replies delivered through the batch path (udp-batch.ts), cumulative. */
  udpBatchSent: number;
  udpBatchReplies: number;
  /** Batch-path sends that left as one UDP GSO group of ≥ 2 datagrams (UdpRelay.gsoSends), cumulative. */
  udpGsoSends: number;
  /** Echo requests answered: by the stack (icmp-echo.ts) and by the device itself (deviceEcho). */
  icmpEchoReplies: number;
  drops: Record<DropReason, number>;
}

/** Fresh counters, every drop reason at 0 (tcpNatEntries is defined over the NAT tables by the stack). */
export function newCounters(): StackCounters {
  return {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    tcpOpen: 0,
    tcpTotal: 0,
    udpOpen: 0,
    udpTotal: 0,
    udpBatchSent: 0,
    udpBatchReplies: 0,
    udpGsoSends: 0,
    icmpEchoReplies: 0,
    drops: {
      malformed: 0,
      badChecksum: 0,
      fragment: 0,
      unsupported: 0,
      tcpNoSession: 0,
      tcpTableFull: 0,
      tcpUnmappedAccept: 0,
      udpTableFull: 0,
      udpBadReply: 0,
      udpSourcePortZero: 0,
      udpForeignSender: 0,
      udpSendDropped: 0,
      icmpOff: 0,
      icmpOther: 0,
      loop: 0,
    },
    tcpNatEntries: 0,
  };
}

/** Per-family addresses from the options (explicit, or a CIDR list). */
export function resolveAddresses(options: Pick<StackOptions, 'addresses'>): {
  ipv4?: FamilyAddresses;
  ipv6?: FamilyAddresses;
} {
  const given = options.addresses as StackOptions['addresses'] | undefined; // JS callers may omit it
  if (!given)
    throw new TypeError("createStack: addresses is required (the TUN's CIDRs or per-family addresses)");
  if (!Array.isArray(given)) return given as { ipv4?: FamilyAddresses; ipv6?: FamilyAddresses };
  const out: { ipv4?: FamilyAddresses; ipv6?: FamilyAddresses } = {};
  for (const cidr of given as readonly string[]) {
    const [addr, len] = cidr.split('/');
    const bytes = parseIp(addr ?? '');
    const prefix = len === undefined ? undefined : Number(len);
    const max = bytes?.length === 4 ? 32 : 128;
    if (!bytes || (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= max)))
      throw new TypeError(`createStack: "${cidr}" is not an address/prefix`);
    if (prefix !== undefined && prefix > max - 2)
      throw new TypeError(
        `createStack: prefix of "${cidr}" leaves no room for the NAT address (use /${max - 2} or shorter)`,
      );
    const key = bytes.length === 4 ? 'ipv4' : 'ipv6';
    out[key] ??= { tunAddress: addr!, prefix };
  }
  return out;
}

function nextAddress(addr: Uint8Array): Uint8Array {
  const out = new Uint8Array(addr);
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = (out[i]! + 1) & 0xff;
    if (out[i] !== 0) break;
  }
  return out;
}

/** The stack's own addresses of one family, parsed and checked: the listener's (tun) and the NAT source's. */
export interface ResolvedFamily {
  readonly v: 4 | 6;
  readonly alen: 4 | 16;
  readonly tun: Uint8Array;
  readonly nat: Uint8Array;
  readonly tunText: string;
  readonly natText: string;
}

export function resolveFamily(v: 4 | 6, a: FamilyAddresses): ResolvedFamily {
  const tun = parseIp(a.tunAddress);
  const alen = v === 4 ? 4 : 16;
  if (!tun || tun.length !== alen)
    throw new TypeError(`createStack: ipv${v}.tunAddress "${a.tunAddress}" is not an IPv${v} address`);
  const nat = a.natAddress === undefined ? nextAddress(tun) : parseIp(a.natAddress);
  if (!nat || nat.length !== alen)
    throw new TypeError(`createStack: ipv${v}.natAddress "${a.natAddress}" is not an IPv${v} address`);
  if (bytesEqual(tun, 0, nat, 0, alen))
    throw new TypeError(`createStack: ipv${v} natAddress must differ from tunAddress`);
  return { v, alen, tun, nat, tunText: formatIp(tun, 0, v), natText: formatIp(nat, 0, v) };
}
