import type { PacketBatch, PacketView, TunDevice } from '@ztun/packet';
import type { IcmpEcho } from './icmp-echo.js';
import type { StackCounters } from './options.js';
import { type Clock, type Family, PacketContext } from './packet-context.js';
import type { PcapSink } from './pcap.js';
import type { TcpPath } from './tcp-path.js';
import type { UdpSessionTable } from './udp-sessions.js';
import {
  completePartialChecksum,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  partialChecksumAt,
} from './wire.js';

// The packet path: every packet of a batch read from the device is validated once (one reused PacketView),
// dispatched by protocol with a reused PacketContext, and — when it is rewritten or answered in place —
// written back in one writeBatch for the whole batch (no per-packet allocation).

export interface PacketPathOptions {
  device: TunDevice;
  pcap: PcapSink | undefined;
  counters: StackCounters;
  clock: Clock;
  pv: PacketView;
  v4: Family | undefined;
  v6: Family | undefined;
  tcp: TcpPath;
  udp: UdpSessionTable;
  icmp: IcmpEcho;
}

export class PacketPath {
  private readonly device: TunDevice;
  private readonly pcap: PcapSink | undefined;
  private readonly counters: StackCounters;
  private readonly clock: Clock;
  private readonly pv: PacketView;
  private readonly v4: Family | undefined;
  private readonly v6: Family | undefined;
  private readonly tcp: TcpPath;
  private readonly udp: UdpSessionTable;
  private readonly icmp: IcmpEcho;
  private readonly ctx = new PacketContext();
  private outOffsets = new Uint32Array(256);
  private outLengths = new Uint32Array(256);
  private outFlags = new Uint8Array(256);
  private outGso = new Uint16Array(256);
  private readonly outBatch: {
    count: number;
    data: Uint8Array;
    offsets: Uint32Array;
    lengths: Uint32Array;
    flags: Uint8Array | undefined;
    gsoSize: Uint16Array | undefined;
  } = {
    count: 0,
    data: new Uint8Array(0),
    offsets: this.outOffsets,
    lengths: this.outLengths,
    flags: undefined,
    gsoSize: undefined,
  };

  constructor(o: PacketPathOptions) {
    this.device = o.device;
    this.pcap = o.pcap;
    this.counters = o.counters;
    this.clock = o.clock;
    this.pv = o.pv;
    this.v4 = o.v4;
    this.v6 = o.v6;
    this.tcp = o.tcp;
    this.udp = o.udp;
    this.icmp = o.icmp;
  }

  /** Handles a batch read from the device and writes back, as one batch, what goes back into it. */
  batch(batch: PacketBatch): void {
    this.clock.now = performance.now();
    const count = batch.count;
    if (this.outOffsets.length < count) {
      this.outOffsets = new Uint32Array(count * 2);
      this.outLengths = new Uint32Array(count * 2);
      this.outFlags = new Uint8Array(count * 2);
      this.outGso = new Uint16Array(count * 2);
      this.outBatch.offsets = this.outOffsets;
      this.outBatch.lengths = this.outLengths;
    }
    const data = batch.data;
    const offsets = batch.offsets;
    const lengths = batch.lengths;
    // Checksum offload (docs/architecture.md): bit 0 = the transport checksum holds only the pseudo sum.
    const flags = batch.flags;
    // TSO: gsoSize[i] > 0 = a TCP super-packet. Its IP length fields already cover the whole of it and nothing
    // here limits a packet to the MTU, so it is rewritten as one packet and written back as one.
    const gso = batch.gsoSize;
    const c = this.counters;
    const pcap = this.pcap;
    let n = 0;
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const off = offsets[i]!;
      const len = lengths[i]!;
      c.rxPackets++;
      c.rxBytes += len;
      const partial = flags !== undefined && (flags[i]! & 1) !== 0;
      if (pcap) capture(pcap, data, off, len, partial);
      const out = this.packet(data, off, len, partial);
      if (out > 0) {
        this.outOffsets[n] = off;
        this.outLengths[n] = out;
        // The flag bits (partial, a super-packet's ECN) and the GSO size go back as they came.
        this.outFlags[n] = flags !== undefined ? flags[i]! : 0;
        this.outGso[n] = gso !== undefined ? gso[i]! : 0;
        bytes += out;
        n++;
        if (pcap) capture(pcap, data, off, out, partial);
      }
    }
    this.udp.flush(data);
    if (n > 0) {
      c.txPackets += n;
      c.txBytes += bytes;
      const ob = this.outBatch;
      ob.count = n;
      ob.data = data;
      ob.flags = flags ? this.outFlags : undefined;
      ob.gsoSize = gso ? this.outGso : undefined;
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

/**
 * Records a packet: a capture shows complete checksums, so a partial one is finished for the record (one pass,
 * only while capturing) and its partial sum put back for the device. A TCP super-packet is recorded whole, as
 * tcpdump shows it on a TSO interface (longer than the MTU; snaplen 256 KiB), its checksum finished as one
 * packet's.
 */
function capture(pcap: PcapSink, d: Uint8Array, o: number, len: number, partial: boolean): void {
  if (!partial) {
    pcap.record(d.subarray(o, o + len));
    return;
  }
  const at = partialChecksumAt(d, o, len);
  const hi = at >= 0 ? d[at]! : 0;
  const lo = at >= 0 ? d[at + 1]! : 0;
  completePartialChecksum(d, o, len);
  pcap.record(d.subarray(o, o + len));
  if (at >= 0) {
    d[at] = hi;
    d[at + 1] = lo;
  }
}
