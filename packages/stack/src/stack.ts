import net from 'node:net';
import {
  buildTcp,
  checksumFinish,
  checksumPartial,
  echoReplyInPlace,
  type PacketBatch,
  PacketView,
  rewriteTcpEndpointsAt,
  type StackSockets,
  TcpFlags,
  type TcpSpec,
  type TunDevice,
} from '@ztun/packet';
import type {
  Endpoint,
  Handler,
  Outbound,
  TcpConnection,
  UdpSession,
  UdpSessionDropReason,
  UdpSessionHandler,
  UnreachableReason,
} from './handler.js';
import { handlerFromOutbound, type OutboundHandlerOptions } from './handler-from-outbound.js';
import { LoopPrefixes } from './loop-prefixes.js';
import {
  CLOSING,
  EMBRYONIC,
  FIN_FROM_CLIENT,
  FIN_FROM_LISTENER,
  FREE,
  OPEN,
  RST_SEEN,
  TcpNatTable,
} from './nat.js';
import { ownSockets } from './own-sockets.js';
import { createPcapSink, type PcapSink, type PcapTarget } from './pcap.js';
import { portableSockets } from './sockets.js';
import { resetTcpSocket } from './tcp-reset.js';
import {
  buildUdpPacket,
  buildUnreachable,
  formatIp,
  ipSpec,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  parseIp,
  udpQuote,
} from './wire.js';

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
  /** 'reply': answer ICMP/ICMPv6 echo requests locally for every destination; 'off': drop them. */
  icmp?: 'reply' | 'off';
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
  icmpEchoReplies: number;
  drops: Record<DropReason, number>;
}

export interface Stack {
  /** Binds the kernel listeners and starts reading the device. */
  start(): Promise<void>;
  /** Stops reading, destroys every connection and session, closes listeners and capture. Does not close
   *  the device (the caller owns it). Idempotent. */
  close(): Promise<void>;
  readonly counters: Readonly<StackCounters>;
  /** The listeners' ports once started (diagnostics). */
  readonly listenPorts: { ipv4?: number; ipv6?: number };
}

const EMBRYONIC_TIMEOUT_MS = 20_000;
const CLOSING_LINGER_MS = 5_000;
const CLOSED_LINGER_MS = 1_000;
/** Longest close() waits for the resets it sends to come back through the TUN and be written out. */
const RST_DELIVERY_BOUND_MS = 2_000;

interface Family {
  readonly v: 4 | 6;
  readonly alen: 4 | 16;
  readonly tun: Uint8Array;
  readonly nat: Uint8Array;
  readonly tunText: string;
  readonly natText: string;
  readonly table: TcpNatTable;
  listenPort: number;
  server?: net.Server;
  /** UDP sessions by key (see udpKey). */
  readonly udp: Map<number, UdpSessionImpl>;
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

function bytesEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

class UdpSessionImpl implements UdpSession {
  readonly source: Endpoint;
  readonly srcBytes: Uint8Array;
  lastSeen = 0;
  handler: UdpSessionHandler | undefined;
  closed = false;
  /** Next session with the same map key (IPv6 keys are hashes). */
  next: UdpSessionImpl | undefined;
  private lastFromText = '';
  private lastFromBytes: Uint8Array | undefined;
  /** The last destination this session sent to: a DNS or QUIC flow reuses it without string work. */
  private readonly lastToBytes = new Uint8Array(16);
  private lastTo: Endpoint | undefined;

  constructor(
    private readonly stack: SystemStack,
    readonly family: 4 | 6,
    readonly key: number,
    src: Uint8Array,
    readonly sport: number,
  ) {
    this.srcBytes = src;
    this.source = { address: formatIp(src, 0, family), port: sport };
  }

  private fromBytes(address: string): Uint8Array | undefined {
    if (address === this.lastFromText) return this.lastFromBytes;
    let b = parseIp(address);
    if (b && this.family === 4 && b.length === 16) {
      // IPv4-mapped IPv6 (::ffff:a.b.c.d) as some sockets report it.
      const mapped = b[10] === 0xff && b[11] === 0xff && b.subarray(0, 10).every((x) => x === 0);
      b = mapped ? b.slice(12) : undefined;
    }
    if (!b || b.length !== (this.family === 4 ? 4 : 16)) return undefined;
    this.lastFromText = address;
    this.lastFromBytes = b;
    return b;
  }

  /** The destination at `d[off…]`:`port` as an Endpoint, reusing the previous one when it is the same. */
  destination(d: Uint8Array, off: number, port: number): Endpoint {
    const alen = this.family === 4 ? 4 : 16;
    const last = this.lastTo;
    if (last && last.port === port && bytesEqual(d, off, this.lastToBytes, 0, alen)) return last;
    this.lastToBytes.set(d.subarray(off, off + alen));
    this.lastTo = { address: formatIp(d, off, this.family), port };
    return this.lastTo;
  }

  reply(payload: Uint8Array, from: Endpoint): void {
    if (this.closed) return;
    const src = this.fromBytes(from.address);
    if (!src || !(from.port > 0 && from.port < 65536) || payload.length > 65535 - 48) {
      this.stack.drop('udpBadReply');
      return;
    }
    this.lastSeen = this.stack.now;
    this.stack.emit(buildUdpPacket(src, from.port, this.srcBytes, this.sport, payload));
  }

  unreachable(destination: Endpoint, reason: UnreachableReason = 'port'): void {
    if (this.closed) return;
    const dst = this.fromBytes(destination.address);
    if (!dst) return;
    const quote = udpQuote(this.srcBytes, this.sport, dst, destination.port);
    this.stack.emit(buildUnreachable(dst, this.srcBytes, quote, reason));
  }

  drop(reason: UdpSessionDropReason): void {
    this.stack.drop(reason);
  }

  close(): void {
    this.stack.closeUdp(this);
  }
}

export class SystemStack implements Stack {
  readonly counters: StackCounters = {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    tcpOpen: 0,
    tcpTotal: 0,
    udpOpen: 0,
    udpTotal: 0,
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
      icmpOff: 0,
      icmpOther: 0,
      loop: 0,
    },
    tcpNatEntries: 0,
  };
  /** The batch clock (ms, performance.now at the start of the current batch / sweep). */
  now = 0;
  private readonly device: TunDevice;
  private readonly handler: Handler;
  private readonly sockets: StackSockets;
  private readonly v4: Family | undefined;
  private readonly v6: Family | undefined;
  private readonly loopPrefixes: LoopPrefixes;
  private readonly icmpReply: boolean;
  private readonly udpTimeoutMs: number;
  private readonly tcpIdleTimeoutMs: number;
  private readonly maxUdpSessions: number;
  private readonly backlog: number;
  private readonly logger: StackLogger;
  private readonly pcap: PcapSink | undefined;
  private outOffsets = new Uint32Array(256);
  private outLengths = new Uint32Array(256);
  private outFlags = new Uint8Array(256);
  /** The one parser every packet goes through (reused: no per-packet allocation). */
  private readonly pv = new PacketView();
  private readonly outBatch: {
    count: number;
    data: Uint8Array;
    offsets: Uint32Array;
    lengths: Uint32Array;
    flags: Uint8Array | undefined;
  } = {
    count: 0,
    data: new Uint8Array(0),
    offsets: this.outOffsets,
    lengths: this.outLengths,
    flags: undefined,
  };
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private closing: Promise<void> | undefined;
  private started = false;
  private closed = false;

  constructor(options: StackOptions) {
    this.device = options.device;
    this.sockets = options.sockets ?? portableSockets;
    const logger = options.logger ?? {};
    const handler =
      options.handler ??
      (options.outbound
        ? handlerFromOutbound(options.outbound, {
            onConnectError: (dest, err) =>
              logger.debug?.(`${options.outbound!.name} connect ${dest}: ${err.message}`),
            ...(options.relay ? { relay: options.relay } : {}),
            ...(options.sockets ? { sockets: options.sockets } : {}),
          })
        : undefined);
    if (!handler) throw new TypeError('createStack: give a handler or an outbound');
    this.handler = handler;
    const maxTcp = options.maxTcpSessions ?? 60_000;
    const [portMin, portMax] = options.natPortRange ?? [1024, 65535];
    const addresses = resolveAddresses(options);
    this.v4 = addresses.ipv4 ? this.family(4, addresses.ipv4, maxTcp, portMin, portMax) : undefined;
    this.v6 = addresses.ipv6 ? this.family(6, addresses.ipv6, maxTcp, portMin, portMax) : undefined;
    this.loopPrefixes = LoopPrefixes.from(options, addresses);
    if (!this.v4 && !this.v6)
      throw new TypeError('createStack: addresses needs an IPv4 and/or an IPv6 address');
    this.icmpReply = (options.icmp ?? 'reply') === 'reply';
    this.udpTimeoutMs = options.udpTimeoutMs ?? 60_000;
    this.tcpIdleTimeoutMs = options.tcpIdleTimeoutMs ?? 3_600_000;
    this.maxUdpSessions = options.maxUdpSessions ?? 8192;
    this.backlog = options.listenBacklog ?? 4096;
    this.logger = options.logger ?? {};
    this.pcap = options.pcap ? createPcapSink(options.pcap) : undefined;
    const v4 = this.v4;
    const v6 = this.v6;
    Object.defineProperty(this.counters, 'tcpNatEntries', {
      enumerable: true,
      get: () => (v4?.table.count ?? 0) + (v6?.table.count ?? 0),
    });
  }

  private family(v: 4 | 6, a: FamilyAddresses, maxTcp: number, portMin: number, portMax: number): Family {
    const tun = parseIp(a.tunAddress);
    const alen = v === 4 ? 4 : 16;
    if (!tun || tun.length !== alen)
      throw new TypeError(`createStack: ipv${v}.tunAddress "${a.tunAddress}" is not an IPv${v} address`);
    const nat = a.natAddress === undefined ? nextAddress(tun) : parseIp(a.natAddress);
    if (!nat || nat.length !== alen)
      throw new TypeError(`createStack: ipv${v}.natAddress "${a.natAddress}" is not an IPv${v} address`);
    if (bytesEqual(tun, 0, nat, 0, alen))
      throw new TypeError(`createStack: ipv${v} natAddress must differ from tunAddress`);
    return {
      v,
      alen,
      tun,
      nat,
      tunText: formatIp(tun, 0, v),
      natText: formatIp(nat, 0, v),
      table: new TcpNatTable({ addressLength: alen, maxSessions: maxTcp, portMin, portMax }),
      listenPort: 0,
      udp: new Map(),
    };
  }

  get listenPorts(): { ipv4?: number; ipv6?: number } {
    return { ipv4: this.v4?.listenPort, ipv6: this.v6?.listenPort };
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('stack already started');
    if (this.closed || this.closing) throw new Error('stack is closed');
    this.started = true;
    for (const f of [this.v4, this.v6]) {
      if (!f) continue;
      const server = net.createServer({ allowHalfOpen: true, noDelay: true });
      server.on('connection', (sock) => this.accept(f, sock));
      server.on('error', (err) => this.logger.error?.(`ipv${f.v} listener: ${err.message}`));
      // An IPv6 address still in duplicate address detection is not bindable yet (EADDRNOTAVAIL): retry
      // for up to 3 s before giving up.
      const deadline = performance.now() + 3000;
      for (;;) {
        const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
          const onError = (e: NodeJS.ErrnoException) => resolve(e);
          server.once('error', onError);
          server.listen({ host: f.tunText, port: 0, backlog: this.backlog }, () => {
            server.off('error', onError);
            resolve(undefined);
          });
        });
        if (!err) break;
        if (err.code !== 'EADDRNOTAVAIL' || performance.now() > deadline) {
          await this.close();
          throw new Error(`cannot listen on ${f.tunText} (is it configured on the TUN?): ${err.message}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      f.server = server;
      f.listenPort = (server.address() as net.AddressInfo).port;
      this.logger.debug?.(`ipv${f.v} listener on ${f.tunText}:${f.listenPort}, NAT address ${f.natText}`);
    }
    this.device.onBatch((batch) => this.onBatch(batch));
    this.device.onError((err) => this.logger.error?.(`device ${this.device.name}: ${err.message}`));
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    if (this.closed || this.closing) return this.closing;
    this.closing = this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    // Reset open connections while the packet path still runs, so every client gets its RST through the
    // TUN instead of waiting on a peer that vanished (or taking a FIN for a complete transfer).
    const reset: { table: TcpNatTable; port: number }[] = [];
    for (const f of [this.v4, this.v6]) {
      const t = f?.table;
      if (!t || t.count === 0) continue;
      for (let p = t.portMin; p <= t.portMax; p++) {
        const sock = t.sockets[p];
        if (t.state[p] === OPEN && sock) {
          resetSocket(sock);
          reset.push({ table: t, port: p });
        }
      }
    }
    if (reset.length > 0 && this.started) await this.resetsWrittenOut(reset);
    this.closed = true;
    for (const f of [this.v4, this.v6]) {
      if (!f) continue;
      const t = f.table;
      for (let p = t.portMin; p <= t.portMax; p++) {
        if (t.state[p] === FREE) continue;
        t.sockets[p]?.destroy();
        t.release(p);
      }
      for (const s of [...f.udp.values()]) this.closeUdp(s);
      const server = f.server;
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.counters.tcpOpen = 0;
    this.pcap?.close();
  }

  /**
   * Resolves once the kernel's RST for each reset connection has come back through the TUN and been
   * translated (RST_SEEN, set on the packet path) and the device's write queue, where it reports one, is
   * empty — or after RST_DELIVERY_BOUND_MS, so a paused or stalled device cannot hold close() up.
   */
  private async resetsWrittenOut(reset: readonly { table: TcpNatTable; port: number }[]): Promise<void> {
    // Devices that report a write queue (tun-linux's LinuxTun.writeQueueLength) are waited for too; the
    // TunDevice shape (docs/architecture.md) does not declare it, so it is read structurally.
    const device = this.device as { readonly writeQueueLength?: number };
    const deadline = performance.now() + RST_DELIVERY_BOUND_MS;
    const done = () =>
      reset.every(({ table, port }) => (table.flags[port]! & RST_SEEN) !== 0) &&
      !((device.writeQueueLength ?? 0) > 0);
    while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  }

  drop(reason: DropReason): void {
    this.counters.drops[reason]++;
  }

  /** Writes one packet the stack built. */
  emit(packet: Uint8Array): void {
    if (this.closed) return;
    this.counters.txPackets++;
    this.counters.txBytes += packet.length;
    this.pcap?.record(packet);
    this.device.write(packet);
  }

  // ---- the packet path ---------------------------------------------------------------------------------

  private onBatch(batch: PacketBatch): void {
    if (this.closed) return;
    this.now = performance.now();
    const count = batch.count;
    if (this.outOffsets.length < count) {
      this.outOffsets = new Uint32Array(count * 2);
      this.outLengths = new Uint32Array(count * 2);
      this.outFlags = new Uint8Array(count * 2);
      this.outBatch.offsets = this.outOffsets;
      this.outBatch.lengths = this.outLengths;
    }
    const data = batch.data;
    const offsets = batch.offsets;
    const lengths = batch.lengths;
    // Checksum offload (docs/architecture.md): bit 0 = the transport checksum holds only the pseudo sum.
    const flags = batch.flags;
    const c = this.counters;
    const pcap = this.pcap;
    let n = 0;
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const off = offsets[i]!;
      const len = lengths[i]!;
      c.rxPackets++;
      c.rxBytes += len;
      let partial = flags !== undefined && (flags[i]! & 1) !== 0;
      if (partial && pcap) {
        // A capture shows complete checksums: finish it here (one pass, only while capturing), write it plain.
        completePartialChecksum(data, off, len);
        partial = false;
      }
      if (pcap) pcap.record(data.subarray(off, off + len));
      const out = this.packet(data, off, len, partial);
      if (out > 0) {
        this.outOffsets[n] = off;
        this.outLengths[n] = out;
        this.outFlags[n] = partial ? 1 : 0;
        bytes += out;
        n++;
        if (pcap) pcap.record(data.subarray(off, off + out));
      }
    }
    if (n > 0) {
      c.txPackets += n;
      c.txBytes += bytes;
      const ob = this.outBatch;
      ob.count = n;
      ob.data = data;
      ob.flags = flags ? this.outFlags : undefined;
      this.device.writeBatch(ob);
    }
  }

  /** Handles one packet; returns the length to write back (rewritten in place) or 0 when consumed/dropped. */
  private packet(d: Uint8Array, o: number, len: number, partial: boolean): number {
    const drops = this.counters.drops;
    const pv = this.pv;
    // One validating parse (lengths, IPv6 extension chain, transport header) from @ztun/packet.
    if (pv.reset(d, o, len) !== 0) {
      drops.malformed++;
      return 0;
    }
    const f = pv.version === 4 ? this.v4 : this.v6;
    if (!f) {
      drops.unsupported++;
      return 0;
    }
    let total: number;
    let srcOff: number;
    if (pv.version === 4) {
      const ip = pv.ipv4;
      if (!ip.verifyHeaderChecksum()) {
        drops.badChecksum++;
        return 0;
      }
      if (ip.isFragment) {
        drops.fragment++;
        return 0;
      }
      total = ip.totalLength;
      srcOff = o + 12;
    } else {
      const ip = pv.ipv6;
      if (ip.fragmentOffset !== 0 || ip.moreFragments) {
        drops.fragment++;
        return 0;
      }
      total = 40 + ip.payloadLength;
      srcOff = o + 8;
    }
    const dstOff = srcOff + f.alen;
    const l4 = pv.transportOffset;
    const l4len = pv.transportLength;
    switch (pv.transport) {
      case PROTO_TCP:
        return this.tcp(f, d, o, l4, l4len, srcOff, dstOff, partial) ? total : 0;
      case PROTO_UDP:
        this.udp(f, d, l4, srcOff, dstOff, partial);
        return 0;
      case PROTO_ICMP:
      case PROTO_ICMPV6:
        return this.icmpEcho(f.v, d, srcOff, dstOff) ? total : 0;
      default:
        drops.unsupported++;
        return 0;
    }
  }

  /**
   * TCP: client flows are rewritten onto the listener (src → natAddress:natPort, dst → tunAddress:listenPort);
   * listener replies are rewritten back to look like they come from the original destination.
   */
  private tcp(
    f: Family,
    d: Uint8Array,
    o: number,
    l4: number,
    l4len: number,
    srcOff: number,
    dstOff: number,
    partial: boolean,
  ): boolean {
    const drops = this.counters.drops;
    const doff = this.pv.tcp.headerLength; // validated by PacketView: 20 ≤ doff ≤ l4len
    const sport = (d[l4]! << 8) | d[l4 + 1]!;
    const dport = (d[l4 + 2]! << 8) | d[l4 + 3]!;
    const flags = d[l4 + 13]!;
    const t = f.table;
    const alen = f.alen;
    if (
      sport === f.listenPort &&
      bytesEqual(d, srcOff, f.tun, 0, alen) &&
      bytesEqual(d, dstOff, f.nat, 0, alen)
    ) {
      // Listener → client.
      const port = dport;
      if (t.state[port] === FREE) {
        drops.tcpNoSession++;
        return false;
      }
      if (flags & 1) t.flags[port]! |= FIN_FROM_LISTENER;
      if (flags & 4) t.flags[port]! |= RST_SEEN;
      t.lastSeen[port] = this.now;
      const base = port * 16;
      rewriteTcpEndpointsAt(d, o, f.v, l4, t.dst, base, t.dport[port]!, t.src, base, t.sport[port]!, partial);
      return true;
    }
    // Client → destination.
    let port = t.lookup(d, srcOff, sport, dstOff, dport);
    const syn = (flags & 0x12) === 0x02;
    if (port < 0 || (syn && t.state[port] === CLOSING)) {
      if (!syn) {
        drops.tcpNoSession++;
        if (!(flags & 4)) this.sendRst(f, d, l4len, doff, srcOff, dstOff, sport, dport, flags);
        return false;
      }
      if (this.loopDestination(f, d, dstOff) || ownSockets.isOwnTcp(f.v, d, srcOff, sport, dstOff, dport)) {
        // A flow that could only loop (see loopDestination), or an outbound's own connection that a route
        // sent back into the TUN: refuse it, so the outbound's connect fails instead of nesting forever.
        drops.loop++;
        this.sendRst(f, d, l4len, doff, srcOff, dstOff, sport, dport, flags);
        return false;
      }
      if (port >= 0) t.release(port);
      port = t.allocate(d, srcOff, sport, dstOff, dport, this.now);
      if (port < 0) {
        drops.tcpTableFull++;
        this.sendRst(f, d, l4len, doff, srcOff, dstOff, sport, dport, flags);
        return false;
      }
      this.counters.tcpTotal++;
    }
    if (flags & 1) t.flags[port]! |= FIN_FROM_CLIENT;
    if (flags & 4) t.flags[port]! |= RST_SEEN;
    t.lastSeen[port] = this.now;
    rewriteTcpEndpointsAt(d, o, f.v, l4, f.nat, 0, port, f.tun, 0, f.listenPort, partial);
    return true;
  }

  /** Answers a client segment nobody can take with a RST (RFC 9293 reset generation). */
  private sendRst(
    f: Family,
    d: Uint8Array,
    l4len: number,
    doff: number,
    srcOff: number,
    dstOff: number,
    sport: number,
    dport: number,
    flags: number,
  ): void {
    const tcp = this.pv.tcp;
    const ip = ipSpec(d.subarray(dstOff, dstOff + f.alen), d.subarray(srcOff, srcOff + f.alen));
    const out = new Uint8Array((f.v === 4 ? 20 : 40) + 20);
    const spec: TcpSpec =
      flags & TcpFlags.ACK
        ? {
            sourcePort: dport,
            destinationPort: sport,
            sequenceNumber: tcp.acknowledgmentNumber,
            flags: TcpFlags.RST,
          }
        : {
            sourcePort: dport,
            destinationPort: sport,
            acknowledgmentNumber:
              (tcp.sequenceNumber +
                l4len -
                doff +
                (flags & TcpFlags.SYN ? 1 : 0) +
                (flags & TcpFlags.FIN ? 1 : 0)) >>>
              0,
            flags: TcpFlags.RST | TcpFlags.ACK,
          };
    buildTcp(out, 0, ip, { ...spec, window: 0 });
    this.emit(out);
  }

  private udp(f: Family, d: Uint8Array, l4: number, srcOff: number, dstOff: number, partial: boolean): void {
    const drops = this.counters.drops;
    const alen = f.alen;
    // PacketView checked 8 ≤ UDP length ≤ payload; the checksum is optional only over IPv4 (RFC 8200).
    // A partial checksum (offload) comes from the local kernel and has nothing to verify yet.
    const ulen = this.pv.udp.length;
    if (!partial && !this.pv.verifyTransportChecksum()) {
      drops.badChecksum++;
      return;
    }
    const sport = (d[l4]! << 8) | d[l4 + 1]!;
    const dport = (d[l4 + 2]! << 8) | d[l4 + 3]!;
    if (dport === 0) {
      drops.malformed++;
      return;
    }
    if (sport === 0) {
      // RFC 768 allows it for datagrams that want no reply; a session could never answer.
      drops.udpSourcePortZero++;
      return;
    }
    if (this.loopDestination(f, d, dstOff)) {
      drops.loop++;
      const src = d.slice(srcOff, srcOff + alen);
      const dst = d.slice(dstOff, dstOff + alen);
      this.emit(buildUnreachable(dst, src, udpQuote(src, sport, dst, dport), 'prohibited'));
      return;
    }
    if (bytesEqual(d, srcOff, f.tun, 0, alen)) {
      // From this host: maybe an outbound's own socket that a route sent back into the TUN. Its session
      // hears about it (and tells its client); the datagram goes no further.
      const looped = ownSockets.udpListener(f.v, sport);
      if (looped) {
        drops.loop++;
        try {
          looped({ address: formatIp(d, dstOff, f.v), port: dport });
        } catch (err) {
          this.logger.warn?.(`udp loop listener threw: ${(err as Error).message}`);
        }
        return;
      }
    }
    const key = udpKey(d, srcOff, alen, sport);
    let s = f.udp.get(key);
    while (s && !(s.sport === sport && bytesEqual(s.srcBytes, 0, d, srcOff, alen))) s = s.next;
    if (!s) {
      if (this.counters.udpOpen >= this.maxUdpSessions) {
        drops.udpTableFull++;
        return;
      }
      s = new UdpSessionImpl(this, f.v, key, d.slice(srcOff, srcOff + alen), sport);
      s.next = f.udp.get(key);
      f.udp.set(key, s);
      this.counters.udpOpen++;
      this.counters.udpTotal++;
      s.lastSeen = this.now;
      try {
        s.handler = this.handler.udp(s);
      } catch (err) {
        this.logger.warn?.(`udp handler threw: ${(err as Error).message}`);
        this.closeUdp(s);
        return;
      }
      if (s.closed) return;
    }
    s.lastSeen = this.now;
    const payload = Buffer.allocUnsafe(ulen - 8);
    payload.set(d.subarray(l4 + 8, l4 + ulen));
    s.handler?.send(payload, s.destination(d, dstOff, dport));
  }

  closeUdp(s: UdpSessionImpl): void {
    if (s.closed) return;
    s.closed = true;
    const f = s.family === 4 ? this.v4 : this.v6;
    if (f) {
      // Unlink from its key chain.
      let head = f.udp.get(s.key);
      if (head === s) {
        if (s.next) f.udp.set(s.key, s.next);
        else f.udp.delete(s.key);
      } else {
        while (head && head.next !== s) head = head.next;
        if (head) head.next = s.next;
      }
    }
    this.counters.udpOpen--;
    try {
      s.handler?.close();
    } catch (err) {
      this.logger.warn?.(`udp handler close threw: ${(err as Error).message}`);
    }
  }

  /** ICMP / ICMPv6: echo requests are answered in place (mode 'reply'); anything else is dropped. */
  private icmpEcho(v: 4 | 6, d: Uint8Array, srcOff: number, dstOff: number): boolean {
    const drops = this.counters.drops;
    const pv = this.pv;
    if (!pv.verifyTransportChecksum()) {
      drops.badChecksum++;
      return false;
    }
    if ((v === 4 ? pv.icmpv4.type : pv.icmpv6.type) !== (v === 4 ? 8 : 128)) {
      drops.icmpOther++; // replies, errors, router solicitations, MLD reports… the TUN has no neighbours
      return false;
    }
    if (!this.icmpReply || !this.allowEcho(v, d, srcOff, dstOff)) {
      drops.icmpOff++;
      return false;
    }
    echoReplyInPlace(pv);
    this.counters.icmpEchoReplies++;
    return true;
  }

  private allowEcho(v: 4 | 6, d: Uint8Array, srcOff: number, dstOff: number): boolean {
    const hook = this.handler.icmpEcho;
    if (!hook) return true;
    try {
      return hook.call(this.handler, {
        family: v,
        source: formatIp(d, srcOff, v),
        destination: formatIp(d, dstOff, v),
      });
    } catch {
      return false;
    }
  }

  /** The NAT address (the stack's own) and the loop prefixes: nothing sent there can leave the TUN. */
  private loopDestination(f: Family, d: Uint8Array, dstOff: number): boolean {
    return bytesEqual(d, dstOff, f.nat, 0, f.alen) || this.loopPrefixes.contains(f.v, d, dstOff);
  }

  // ---- the listener side ----------------------------------------------------------------------------

  private accept(f: Family, sock: net.Socket): void {
    const t = f.table;
    const port = sock.remotePort ?? 0;
    const remote = sock.remoteAddress ? parseIp(sock.remoteAddress) : undefined;
    const fromNat =
      remote !== undefined && remote.length === f.alen && bytesEqual(remote, 0, f.nat, 0, f.alen);
    if (this.closed || this.closing || !fromNat || t.state[port] !== EMBRYONIC) {
      this.counters.drops.tcpUnmappedAccept++;
      sock.resetAndDestroy();
      return;
    }
    t.state[port] = OPEN;
    // Handlers (and the stack) reset through this; Node's own fails while a FIN is queued (see tcp-reset.ts).
    sock.resetAndDestroy = () => {
      resetTcpSocket(sock, this.sockets);
      return sock;
    };
    t.sockets[port] = sock;
    this.counters.tcpOpen++;
    const base = port * 16;
    const info = {
      family: f.v,
      source: { address: formatIp(t.src, base, f.v), port: t.sport[port]! },
      destination: { address: formatIp(t.dst, base, f.v), port: t.dport[port]! },
    };
    sock.once('close', () => {
      if (t.sockets[port] !== sock) return;
      t.sockets[port] = undefined;
      t.state[port] = CLOSING;
      t.lastSeen[port] = performance.now();
      this.counters.tcpOpen--;
    });
    try {
      this.handler.tcp(sock as TcpConnection, info);
    } catch (err) {
      this.logger.warn?.(`tcp handler threw: ${(err as Error).message}`);
      sock.resetAndDestroy();
    }
  }

  private sweep(): void {
    const now = performance.now();
    this.now = now;
    for (const f of [this.v4, this.v6]) {
      if (!f) continue;
      const t = f.table;
      if (t.count > 0) {
        for (let p = t.portMin; p <= t.portMax; p++) {
          const s = t.state[p];
          if (s === FREE) continue;
          const idle = now - t.lastSeen[p]!;
          if (s === EMBRYONIC) {
            if (idle > EMBRYONIC_TIMEOUT_MS) t.release(p);
          } else if (s === OPEN) {
            if (idle > this.tcpIdleTimeoutMs && t.sockets[p]) resetSocket(t.sockets[p]!);
          } else {
            const done = (t.flags[p]! & RST_SEEN) !== 0 || (t.flags[p]! & 3) === 3;
            if (idle > (done ? CLOSED_LINGER_MS : CLOSING_LINGER_MS)) t.release(p);
          }
        }
      }
      if (f.udp.size > 0) {
        for (const head of [...f.udp.values()]) {
          for (let s: UdpSessionImpl | undefined = head; s; ) {
            const next: UdpSessionImpl | undefined = s.next;
            if (now - s.lastSeen > this.udpTimeoutMs) this.closeUdp(s);
            s = next;
          }
        }
      }
    }
  }
}

/** RST to the client (the kernel sends it when the socket is destroyed this way). */
function resetSocket(sock: { destroy(): void; resetAndDestroy?(): unknown }): void {
  if (sock.resetAndDestroy) sock.resetAndDestroy();
  else sock.destroy();
}

/** Number key of a UDP source: exact for IPv4 (address·65536 + port), a hash for IPv6 (chained). */
function udpKey(d: Uint8Array, off: number, alen: number, port: number): number {
  if (alen === 4)
    return (((d[off]! << 24) | (d[off + 1]! << 16) | (d[off + 2]! << 8) | d[off + 3]!) >>> 0) * 65536 + port;
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ d[off + i]!, 0x01000193);
  return (h >>> 0) * 65536 + port;
}

/** Creates the system stack over `device`. Call start() after the TUN's addresses are configured. */
export function createStack(options: StackOptions): Stack {
  return new SystemStack(options);
}

/**
 * Finishes an offload partial checksum in place (what a NIC would do): the TCP/UDP header directly follows
 * the IP header (the device flags nothing else) and its checksum field holds the pseudo-header sum.
 */
function completePartialChecksum(d: Uint8Array, o: number, len: number): void {
  const v6 = d[o]! >> 4 === 6;
  const l4 = o + (v6 ? 40 : (d[o]! & 0x0f) * 4);
  const proto = v6 ? d[o + 6]! : d[o + 9]!;
  const at = l4 + (proto === PROTO_TCP ? 16 : 6);
  const end = o + len;
  if (at + 2 > end) return;
  let sum = checksumFinish(checksumPartial(d, l4, end - l4));
  if (sum === 0 && proto === PROTO_UDP) sum = 0xffff;
  d[at] = sum >>> 8;
  d[at + 1] = sum;
}
