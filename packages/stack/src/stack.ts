import type net from 'node:net';
import { type PacketBatch, PacketView, type StackSockets, type TunDevice } from '@ztun/packet';
import type { Handler } from './handler.js';
import { handlerFromOutbound } from './handler-from-outbound.js';
import { IcmpEcho } from './icmp-echo.js';
import { listen } from './listener.js';
import { LoopPrefixes } from './loop-prefixes.js';
import { TcpNatTable } from './nat.js';
import {
  type FamilyAddresses,
  newCounters,
  resolveAddresses,
  resolveFamily,
  type StackCounters,
  type StackLogger,
  type StackOptions,
} from './options.js';
import { type Clock, type Family, PacketContext } from './packet-context.js';
import { createPcapSink, type PcapSink } from './pcap.js';
import { portableSockets } from './sockets.js';
import { TcpPath } from './tcp-path.js';
import { UdpSessionTable } from './udp-sessions.js';
import { completePartialChecksum, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from './wire.js';

// The system stack: reads the device's batches, NATs TCP onto the kernel listeners (nat.ts, listener.ts),
// hands UDP datagrams to their sessions (udp-sessions.ts), answers pings, and writes each batch back.

export type {
  DropReason,
  FamilyAddresses,
  StackCounters,
  StackLogger,
  StackOptions,
} from './options.js';
export { resolveAddresses } from './options.js';

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

/** Longest close() waits for the resets it sends to come back through the TUN and be written out. */
const RST_DELIVERY_BOUND_MS = 2_000;

class SystemStack implements Stack {
  readonly counters: StackCounters = newCounters();
  private readonly clock: Clock = { now: 0 };
  private readonly device: TunDevice;
  private readonly handler: Handler;
  private readonly sockets: StackSockets;
  private readonly v4: Family | undefined;
  private readonly v6: Family | undefined;
  private readonly tcp: TcpPath;
  private readonly udp: UdpSessionTable;
  private readonly icmp: IcmpEcho;
  private readonly tcpIdleTimeoutMs: number;
  private readonly backlog: number;
  private readonly logger: StackLogger;
  private readonly pcap: PcapSink | undefined;
  private readonly servers: net.Server[] = [];
  /** The one parser every packet goes through, and where the packet is (both reused: no allocation). */
  private readonly pv = new PacketView();
  private readonly ctx = new PacketContext();
  private outOffsets = new Uint32Array(256);
  private outLengths = new Uint32Array(256);
  private outFlags = new Uint8Array(256);
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
    const addresses = resolveAddresses(options);
    const table = { maxTcp: options.maxTcpSessions ?? 60_000, ports: options.natPortRange ?? [1024, 65535] };
    const family = (v: 4 | 6, a: FamilyAddresses): Family => {
      const r = resolveFamily(v, a);
      const [portMin, portMax] = table.ports;
      const nat = new TcpNatTable({ addressLength: r.alen, maxSessions: table.maxTcp, portMin, portMax });
      return { ...r, table: nat, listenPort: 0 };
    };
    this.v4 = addresses.ipv4 ? family(4, addresses.ipv4) : undefined;
    this.v6 = addresses.ipv6 ? family(6, addresses.ipv6) : undefined;
    const loopPrefixes = LoopPrefixes.from(options, addresses);
    if (!this.v4 && !this.v6)
      throw new TypeError('createStack: addresses needs an IPv4 and/or an IPv6 address');
    this.tcpIdleTimeoutMs = options.tcpIdleTimeoutMs ?? 3_600_000;
    this.backlog = options.listenBacklog ?? 4096;
    this.logger = logger;
    this.pcap = options.pcap ? createPcapSink(options.pcap) : undefined;
    const emit = (packet: Uint8Array) => this.emit(packet);
    const { counters, clock, pv } = this;
    this.tcp = new TcpPath({ counters, clock, pv, loopPrefixes, emit });
    this.icmp = new IcmpEcho({ counters, pv, handler, reply: (options.icmp ?? 'reply') === 'reply' });
    this.udp = new UdpSessionTable({
      handler,
      counters,
      clock,
      emit,
      pv,
      loopPrefixes,
      maxSessions: options.maxUdpSessions ?? 8192,
      timeoutMs: options.udpTimeoutMs ?? 60_000,
      logger,
    });
    const v4 = this.v4;
    const v6 = this.v6;
    Object.defineProperty(this.counters, 'tcpNatEntries', {
      enumerable: true,
      get: () => (v4?.table.count ?? 0) + (v6?.table.count ?? 0),
    });
  }

  get listenPorts(): { ipv4?: number; ipv6?: number } {
    return { ipv4: this.v4?.listenPort, ipv6: this.v6?.listenPort };
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('stack already started');
    if (this.closed || this.closing) throw new Error('stack is closed');
    this.started = true;
    const listenerOptions = {
      handler: this.handler,
      sockets: this.sockets,
      counters: this.counters,
      logger: this.logger,
      backlog: this.backlog,
      closing: () => this.closed || this.closing !== undefined,
    };
    for (const f of [this.v4, this.v6]) {
      if (!f) continue;
      try {
        this.servers.push(await listen(f, listenerOptions));
      } catch (err) {
        await this.close();
        throw err;
      }
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
      if (f) for (const port of f.table.resetOpen()) reset.push({ table: f.table, port });
    }
    if (reset.length > 0 && this.started) await this.resetsWrittenOut(reset);
    this.closed = true;
    for (const f of [this.v4, this.v6]) f?.table.releaseAll();
    this.udp.closeAll();
    for (const server of this.servers) await new Promise<void>((resolve) => server.close(() => resolve()));
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
      reset.every(({ table, port }) => table.rstSeen(port)) && !((device.writeQueueLength ?? 0) > 0);
    while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  }

  private sweep(): void {
    const now = performance.now();
    this.clock.now = now;
    for (const f of [this.v4, this.v6]) f?.table.sweep(now, this.tcpIdleTimeoutMs);
    this.udp.sweep();
  }

  /** Writes one packet the stack built. */
  private emit(packet: Uint8Array): void {
    if (this.closed) return;
    this.counters.txPackets++;
    this.counters.txBytes += packet.length;
    this.pcap?.record(packet);
    this.device.write(packet);
  }

  // ---- the packet path ---------------------------------------------------------------------------------

  private onBatch(batch: PacketBatch): void {
    if (this.closed) return;
    this.clock.now = performance.now();
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
    const c = this.ctx;
    c.family = f;
    c.data = d;
    c.offset = o;
    c.l4 = pv.transportOffset;
    c.l4Length = pv.transportLength;
    c.srcOff = srcOff;
    c.dstOff = srcOff + f.alen;
    c.partial = partial;
    switch (pv.transport) {
      case PROTO_TCP:
        return this.tcp.segment(c) ? total : 0;
      case PROTO_UDP:
        this.udp.datagram(c);
        return 0;
      case PROTO_ICMP:
      case PROTO_ICMPV6:
        return this.icmp.answer(c) ? total : 0;
      default:
        drops.unsupported++;
        return 0;
    }
  }
}

/** Creates the system stack over `device`. Call start() after the TUN's addresses are configured. */
export function createStack(options: StackOptions): Stack {
  return new SystemStack(options);
}
