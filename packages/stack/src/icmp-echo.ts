import { echoReplyInPlace, type PacketView } from '@ztun/packet';
import type { Handler } from './handler.js';
import type { StackCounters } from './options.js';
import type { PacketContext } from './packet-context.js';
import { formatIp } from './wire.js';

// ICMP / ICMPv6 from the TUN: echo requests are answered in place (icmp: 'reply', RFC 792 / RFC 4443
// §4.2) unless the handler's icmpEcho hook vetoes them; anything else is dropped.

export interface IcmpEchoOptions {
  counters: StackCounters;
  /** The stack's parser, holding the packet of the context. */
  pv: PacketView;
  handler: Handler;
  reply: boolean;
}

export class IcmpEcho {
  private readonly counters: StackCounters;
  private readonly pv: PacketView;
  private readonly handler: Handler;
  private readonly reply: boolean;

  constructor(options: IcmpEchoOptions) {
    this.counters = options.counters;
    this.pv = options.pv;
    this.handler = options.handler;
    this.reply = options.reply;
  }

  /** True when the packet of `c` became an echo reply in place (write it back). */
  answer(c: PacketContext): boolean {
    const drops = this.counters.drops;
    const pv = this.pv;
    const v = c.family.v;
    if (!pv.verifyTransportChecksum()) {
      drops.badChecksum++;
      return false;
    }
    if ((v === 4 ? pv.icmpv4.type : pv.icmpv6.type) !== (v === 4 ? 8 : 128)) {
      drops.icmpOther++; // replies, errors, router solicitations, MLD reports… the TUN has no neighbours
      return false;
    }
    if (!this.reply || !this.allowed(c)) {
      drops.icmpOff++;
      return false;
    }
    echoReplyInPlace(pv);
    this.counters.icmpEchoReplies++;
    return true;
  }

  private allowed(c: PacketContext): boolean {
    const hook = this.handler.icmpEcho;
    if (!hook) return true;
    const v = c.family.v;
    try {
      return hook.call(this.handler, {
        family: v,
        source: formatIp(c.data, c.srcOff, v),
        destination: formatIp(c.data, c.dstOff, v),
      });
    } catch {
      return false;
    }
  }
}
