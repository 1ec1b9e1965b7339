import {
  buildIcmp,
  buildUdp,
  checksumFinish,
  checksumPartial,
  formatIPv4,
  formatIPv6,
  Icmpv4UnreachableCode,
  Icmpv6UnreachableCode,
  type IpSpec,
  ipv4FromBytes,
  tryParseIp,
} from '@ztun/packet';

// The stack's own packets (UDP replies, ICMP errors) and address text, on top of @ztun/packet's builders and
// address helpers. The per-packet NAT rewrite works in place with incremental checksums (tcp-path.ts).

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

/**
 * Parses IPv4 or IPv6 text (a `%zone` suffix is ignored) into 4 or 16 bytes; undefined when it is not one.
 * @ztun/packet's `tryParseIp` with zones allowed, kept under this name for the stack's public API.
 */
export function parseIp(text: string): Uint8Array | undefined {
  return tryParseIp(text, { allowZone: true });
}

/** Text form of 4 (IPv4) or 16 (IPv6, RFC 5952) bytes at `off`. */
export function formatIp(buf: Uint8Array, off: number, family: 4 | 6): string {
  return family === 4 ? formatIPv4(ipv4FromBytes(buf, off)) : formatIPv6(buf, off);
}

/** @ztun/packet's IP header spec from 4- or 16-byte addresses. */
export function ipSpec(src: Uint8Array, dst: Uint8Array): IpSpec {
  if (src.length === 4) return { version: 4, source: ipv4FromBytes(src), destination: ipv4FromBytes(dst) };
  return { version: 6, source: src, destination: dst };
}

/** A complete IPv4/IPv6 UDP datagram with valid checksums. */
export function buildUdpPacket(
  src: Uint8Array,
  sport: number,
  dst: Uint8Array,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const out = new Uint8Array((src.length === 4 ? 20 : 40) + 8 + payload.length);
  const n = buildUdp(out, 0, ipSpec(src, dst), { sourcePort: sport, destinationPort: dport }, payload);
  if (n !== out.length) throw new RangeError(`UDP datagram of ${payload.length} bytes does not fit`);
  return out;
}

/**
 * ICMP (v4: type 3) / ICMPv6 (type 1) destination unreachable quoting `quote` (the offending packet's IP
 * header and at least 8 bytes of its transport header), sent from `src` to `dst`.
 */
export function buildUnreachable(
  src: Uint8Array,
  dst: Uint8Array,
  quote: Uint8Array,
  reason: 'port' | 'host' | 'prohibited',
): Uint8Array {
  const v4 = src.length === 4;
  const out = new Uint8Array((v4 ? 20 : 40) + 8 + quote.length);
  const code = v4
    ? reason === 'port'
      ? Icmpv4UnreachableCode.Port
      : reason === 'host'
        ? Icmpv4UnreachableCode.Host
        : Icmpv4UnreachableCode.AdminProhibited
    : reason === 'port'
      ? Icmpv6UnreachableCode.Port
      : reason === 'host'
        ? Icmpv6UnreachableCode.Address
        : Icmpv6UnreachableCode.AdminProhibited;
  const n = buildIcmp(out, 0, ipSpec(src, dst), { type: v4 ? 3 : 1, code, restOfHeader: 0 }, quote);
  if (n !== out.length) throw new RangeError('ICMP error does not fit');
  return out;
}

/** IP + 8-byte UDP header of a datagram src:sport → dst:dport (what an ICMP error quotes). */
export function udpQuote(src: Uint8Array, sport: number, dst: Uint8Array, dport: number): Uint8Array {
  const out = new Uint8Array((src.length === 4 ? 20 : 40) + 8);
  buildUdp(out, 0, ipSpec(src, dst), { sourcePort: sport, destinationPort: dport });
  return out;
}

/** `n` bytes of `a` at aOff equal those of `b` at bOff (addresses compared in place, no allocation). */
export function bytesEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/** Offset of the TCP/UDP checksum field of a packet flagged partial (right after the IP header), or -1. */
export function partialChecksumAt(d: Uint8Array, o: number, len: number): number {
  const v6 = d[o]! >> 4 === 6;
  const l4 = o + (v6 ? 40 : (d[o]! & 0x0f) * 4);
  const at = l4 + ((v6 ? d[o + 6]! : d[o + 9]!) === PROTO_TCP ? 16 : 6);
  return at + 2 > o + len ? -1 : at;
}

/**
 * Finishes an offload partial checksum in place (what a NIC would do): the TCP/UDP header directly follows
 * the IP header (the device flags nothing else) and its checksum field holds the pseudo-header sum.
 */
export function completePartialChecksum(d: Uint8Array, o: number, len: number): void {
  const at = partialChecksumAt(d, o, len);
  if (at < 0) return;
  const v6 = d[o]! >> 4 === 6;
  const l4 = o + (v6 ? 40 : (d[o]! & 0x0f) * 4);
  const proto = v6 ? d[o + 6]! : d[o + 9]!;
  let sum = checksumFinish(checksumPartial(d, l4, o + len - l4));
  if (sum === 0 && proto === PROTO_UDP) sum = 0xffff;
  d[at] = sum >>> 8;
  d[at + 1] = sum;
}
