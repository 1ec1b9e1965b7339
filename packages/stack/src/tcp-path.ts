import { buildTcp, type PacketView, rewriteTcpEndpointsAt, TcpFlags, type TcpSpec } from '@ztun/packet';
import type { LoopPrefixes } from './loop-prefixes.js';
import type { StackCounters } from './options.js';
import { ownSockets } from './own-sockets.js';
import type { Clock, PacketContext } from './packet-context.js';
import { bytesEqual, ipSpec } from './wire.js';

// The TCP packet path, in place in the device's batch: client flows are rewritten onto the kernel listener
// (src → natAddress:natPort, dst → tunAddress:listenPort) and listener replies back, so they look like they
// come from the original destination. The session states are the NAT table's (nat.ts).

export interface TcpPathOptions {
  counters: StackCounters;
  clock: Clock;
  /** The stack's parser, holding the packet of the context. */
  pv: PacketView;
  loopPrefixes: LoopPrefixes;
  /** Writes a packet the stack built (the RSTs). */
  emit: (packet: Uint8Array) => void;
}

export class TcpPath {
  private readonly counters: StackCounters;
  private readonly clock: Clock;
  private readonly pv: PacketView;
  private readonly loopPrefixes: LoopPrefixes;
  private readonly emit: (packet: Uint8Array) => void;

  constructor(options: TcpPathOptions) {
    this.counters = options.counters;
    this.clock = options.clock;
    this.pv = options.pv;
    this.loopPrefixes = options.loopPrefixes;
    this.emit = options.emit;
  }

  /** NATs the segment of `c` in place: true to write it back, false when it was dropped (or answered). */
  segment(c: PacketContext): boolean {
    const drops = this.counters.drops;
    const { family: f, data: d, l4 } = c;
    const sport = (d[l4]! << 8) | d[l4 + 1]!;
    const dport = (d[l4 + 2]! << 8) | d[l4 + 3]!;
    c.sport = sport;
    c.dport = dport;
    const flags = d[l4 + 13]!;
    const t = f.table;
    const now = this.clock.now;
    if (
      sport === f.listenPort &&
      bytesEqual(d, c.srcOff, f.tun, 0, f.alen) &&
      bytesEqual(d, c.dstOff, f.nat, 0, f.alen)
    ) {
      // Listener → client: the destination port is the NAT port.
      if (!t.fromListener(dport, flags, now)) {
        drops.tcpNoSession++;
        return false;
      }
      const base = dport * 16;
      rewriteTcpEndpointsAt(
        d,
        c.offset,
        f.v,
        l4,
        t.dst,
        base,
        t.dport[dport]!,
        t.src,
        base,
        t.sport[dport]!,
        c.partial,
      );
      return true;
    }
    // Client → destination.
    let port = t.clientSession(c, flags);
    if (port < 0) {
      if ((flags & 0x12) !== 0x02) {
        drops.tcpNoSession++;
        if (!(flags & 4)) this.sendRst(c, flags);
        return false;
      }
      if (this.loopPrefixes.refuses(c) || ownSockets.isOwnTcp(f.v, d, c.srcOff, sport, c.dstOff, dport)) {
        // A flow that could only loop (see LoopPrefixes.refuses), or an outbound's own connection that a
        // route sent back into the TUN: refuse it, so the outbound's connect fails instead of nesting forever.
        drops.loop++;
        this.sendRst(c, flags);
        return false;
      }
      port = t.open(c, now);
      if (port < 0) {
        drops.tcpTableFull++;
        this.sendRst(c, flags);
        return false;
      }
      this.counters.tcpTotal++;
    }
    t.fromClient(port, flags, now);
    rewriteTcpEndpointsAt(d, c.offset, f.v, l4, f.nat, 0, port, f.tun, 0, f.listenPort, c.partial);
    return true;
  }

  /** Answers a client segment nobody can take with a RST (RFC 9293 §3.10.7.1 reset generation). */
  private sendRst(c: PacketContext, flags: number): void {
    const tcp = this.pv.tcp;
    const { family: f, data: d } = c;
    const ip = ipSpec(d.subarray(c.dstOff, c.dstOff + f.alen), d.subarray(c.srcOff, c.srcOff + f.alen));
    const out = new Uint8Array((f.v === 4 ? 20 : 40) + 20);
    const spec: TcpSpec =
      flags & TcpFlags.ACK
        ? {
            sourcePort: c.dport,
            destinationPort: c.sport,
            sequenceNumber: tcp.acknowledgmentNumber,
            flags: TcpFlags.RST,
          }
        : {
            sourcePort: c.dport,
            destinationPort: c.sport,
            acknowledgmentNumber:
              (tcp.sequenceNumber +
                c.l4Length -
                tcp.headerLength + // validated by PacketView: 20 ≤ doff ≤ l4len
                (flags & TcpFlags.SYN ? 1 : 0) +
                (flags & TcpFlags.FIN ? 1 : 0)) >>>
              0,
            flags: TcpFlags.RST | TcpFlags.ACK,
          };
    buildTcp(out, 0, ip, { ...spec, window: 0 });
    this.emit(out);
  }
}
