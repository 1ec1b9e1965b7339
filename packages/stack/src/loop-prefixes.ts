import { AddressError, type Cidr, ipv4FromBytes, tryParseCidr } from '@ztun/packet';
import type { PacketContext } from './packet-context.js';
import { bytesEqual } from './wire.js';

/** The stack's options as far as the loop prefixes go (kept apart so this file needs nothing of options.ts). */
interface LoopPrefixOptions {
  loopPrefixes?: readonly string[];
  loopExceptions?: readonly string[];
  handler?: unknown;
}

interface TunAddress {
  tunAddress: string;
  prefix?: number;
}

/**
 * Destinations an outbound socket must never be sent to, because the kernel would route it straight back
 * into the TUN (StackOptions.loopPrefixes). Parsed once into @ztun/packet prefixes; the per-packet check
 * compares numbers (IPv4) or bytes (IPv6) in place.
 */
export class LoopPrefixes {
  private constructor(
    private readonly v4: readonly Cidr[],
    private readonly v6: readonly Cidr[],
    private readonly except?: LoopPrefixes,
  ) {}

  /** From the options; by default the TUN's own prefixes when the stack drives an outbound, else none. */
  static from(options: LoopPrefixOptions, addresses: { ipv4?: TunAddress; ipv6?: TunAddress }): LoopPrefixes {
    let texts = options.loopPrefixes;
    if (texts === undefined) {
      const own: string[] = [];
      if (!options.handler) {
        if (addresses.ipv4) own.push(`${addresses.ipv4.tunAddress}/${addresses.ipv4.prefix ?? 32}`);
        if (addresses.ipv6) own.push(`${addresses.ipv6.tunAddress}/${addresses.ipv6.prefix ?? 128}`);
      }
      texts = own;
    }
    const [v4, v6] = parseAll(texts, 'loopPrefixes');
    const ex = options.loopExceptions?.length
      ? parseAll(options.loopExceptions, 'loopExceptions')
      : undefined;
    return new LoopPrefixes(v4, v6, ex ? new LoopPrefixes(ex[0], ex[1]) : undefined);
  }

  /** True when the address of family `v` at `d[off…]` is inside one of the prefixes (and no exception). */
  contains(v: 4 | 6, d: Uint8Array, off: number): boolean {
    return this.within(v, d, off) && !this.except?.within(v, d, off);
  }

  private within(v: 4 | 6, d: Uint8Array, off: number): boolean {
    if (v === 4) {
      const list = this.v4;
      if (list.length === 0) return false;
      const a = ipv4FromBytes(d, off);
      for (let i = 0; i < list.length; i++) if (list[i]!.containsIPv4(a)) return true;
      return false;
    }
    const list = this.v6;
    for (let i = 0; i < list.length; i++) if (list[i]!.containsIPv6(d, off)) return true;
    return false;
  }

  /**
   * The destination of the packet in `c` can only loop: the NAT address (the stack's own) or inside one of
   * the prefixes — nothing sent there can leave the TUN.
   */
  refuses(c: PacketContext): boolean {
    const f = c.family;
    return bytesEqual(c.data, c.dstOff, f.nat, 0, f.alen) || this.contains(f.v, c.data, c.dstOff);
  }
}

function parseAll(texts: readonly string[], what: string): [Cidr[], Cidr[]] {
  const v4: Cidr[] = [];
  const v6: Cidr[] = [];
  for (const text of texts) {
    const c = tryParseCidr(text);
    if (c instanceof AddressError) throw new TypeError(`createStack: ${what}: ${c.message}`);
    (c.version === 4 ? v4 : v6).push(c);
  }
  return [v4, v6];
}
