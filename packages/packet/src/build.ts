/**
 * Builders: write a whole packet (IP header + transport header + payload, checksums done) into a caller's
 * buffer at an offset and return its length — or 0 when it does not fit (nothing useful is written then).
 * Spec objects may be reused between calls; the builders do not keep them.
 *
 * Payload: a `Uint8Array` is copied after the headers; a number `n` means "n payload bytes are already in
 * place after the headers" (zero-copy: reserve room for the headers and write the payload first).
 */
import {
  checksumFinish,
  checksumPartial,
  checksumUpdate16,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
} from './checksum.js';
import { ICMP_HEADER_LENGTH } from './icmp.js';
import { IPV4_HEADER_LENGTH } from './ipv4.js';
import { IPV6_HEADER_LENGTH } from './ipv6.js';
import type { PacketView } from './packet.js';
import { TCP_HEADER_LENGTH, TcpFlags } from './tcp.js';
import { UDP_HEADER_LENGTH } from './udp.js';

export interface IPv4Spec {
  version: 4;
  /** uint32, e.g. 0x0a000001 for 10.0.0.1 */
  source: number;
  destination: number;
  /** Default 64. */
  ttl?: number;
  /** Default 0. */
  identification?: number;
  /** Default true. */
  dontFragment?: boolean;
  /** Type of service (DSCP << 2 | ECN). Default 0. */
  tos?: number;
}

export interface IPv6Spec {
  version: 6;
  /** 16 bytes at `sourceOffset` (default 0). */
  source: Uint8Array;
  sourceOffset?: number;
  destination: Uint8Array;
  destinationOffset?: number;
  /** Default 64. */
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
}

export type IpSpec = IPv4Spec | IPv6Spec;

export interface TcpSpec {
  sourcePort: number;
  destinationPort: number;
  sequenceNumber?: number;
  acknowledgmentNumber?: number;
  /** {@link TcpFlags} bits. */
  flags: number;
  /** Default 65535. */
  window?: number;
  urgentPointer?: number;
  /** Raw option bytes; padded with zeros (EOL) to a multiple of 4. At most 40 bytes. */
  options?: Uint8Array;
}

export interface UdpSpec {
  sourcePort: number;
  destinationPort: number;
}

export interface IcmpSpec {
  type: number;
  code?: number;
  /** Bytes 4–7 as a uint32; ignored when identifier/sequence are given. */
  restOfHeader?: number;
  identifier?: number;
  sequence?: number;
}

export type Payload = Uint8Array | number;

function payloadLength(p: Payload | undefined): number {
  return p === undefined ? 0 : typeof p === 'number' ? p : p.length;
}

function ipHeaderLength(ip: IpSpec): number {
  return ip.version === 4 ? IPV4_HEADER_LENGTH : IPV6_HEADER_LENGTH;
}

function w16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 8;
  buf[at + 1] = v;
}
function w32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = v >>> 16;
  buf[at + 2] = v >>> 8;
  buf[at + 3] = v;
}

/**
 * Writes an IPv4 or IPv6 header (IPv4 header checksum included) for `upperLength` bytes of `protocol`.
 * Returns the header length, or 0 when it does not fit or the packet would exceed the length field.
 */
export function writeIpHeader(
  buf: Uint8Array,
  offset: number,
  ip: IpSpec,
  protocol: number,
  upperLength: number,
): number {
  if (ip.version === 4) {
    const total = IPV4_HEADER_LENGTH + upperLength;
    if (total > 0xffff || offset < 0 || offset + IPV4_HEADER_LENGTH > buf.length) return 0;
    buf[offset] = 0x45;
    buf[offset + 1] = ip.tos ?? 0;
    w16(buf, offset + 2, total);
    w16(buf, offset + 4, ip.identification ?? 0);
    w16(buf, offset + 6, ip.dontFragment === false ? 0 : 0x4000);
    buf[offset + 8] = ip.ttl ?? 64;
    buf[offset + 9] = protocol;
    w16(buf, offset + 10, 0);
    w32(buf, offset + 12, ip.source);
    w32(buf, offset + 16, ip.destination);
    w16(buf, offset + 10, checksumFinish(checksumPartial(buf, offset, IPV4_HEADER_LENGTH)));
    return IPV4_HEADER_LENGTH;
  }
  if (upperLength > 0xffff || offset < 0 || offset + IPV6_HEADER_LENGTH > buf.length) return 0;
  const tc = ip.trafficClass ?? 0;
  const fl = ip.flowLabel ?? 0;
  buf[offset] = 0x60 | ((tc >> 4) & 0x0f);
  buf[offset + 1] = ((tc & 0x0f) << 4) | ((fl >> 16) & 0x0f);
  w16(buf, offset + 2, fl & 0xffff);
  w16(buf, offset + 4, upperLength);
  buf[offset + 6] = protocol;
  buf[offset + 7] = ip.hopLimit ?? 64;
  buf.set(ip.source.subarray(ip.sourceOffset ?? 0, (ip.sourceOffset ?? 0) + 16), offset + 8);
  buf.set(ip.destination.subarray(ip.destinationOffset ?? 0, (ip.destinationOffset ?? 0) + 16), offset + 24);
  return IPV6_HEADER_LENGTH;
}

function pseudoSum(
  buf: Uint8Array,
  ipOffset: number,
  ip: IpSpec,
  protocol: number,
  upperLength: number,
): number {
  if (ip.version === 4) return pseudoHeaderSumV4(ip.source, ip.destination, protocol, upperLength);
  return pseudoHeaderSumV6(buf, ipOffset + 8, ipOffset + 24, protocol, upperLength);
}

function placePayload(buf: Uint8Array, at: number, payload: Payload | undefined): void {
  if (payload !== undefined && typeof payload !== 'number' && payload.length > 0) buf.set(payload, at);
}

/** Builds IPv4/IPv6 + TCP. Returns the packet length or 0. */
export function buildTcp(
  buf: Uint8Array,
  offset: number,
  ip: IpSpec,
  tcp: TcpSpec,
  payload?: Payload,
): number {
  const optLen = tcp.options ? (tcp.options.length + 3) & ~3 : 0;
  if (optLen > 40) return 0;
  const tcpHeader = TCP_HEADER_LENGTH + optLen;
  const upper = tcpHeader + payloadLength(payload);
  const ipLen = ipHeaderLength(ip);
  const total = ipLen + upper;
  if (offset < 0 || offset + total > buf.length) return 0;
  if (writeIpHeader(buf, offset, ip, 6, upper) === 0) return 0;
  const t = offset + ipLen;
  w16(buf, t, tcp.sourcePort);
  w16(buf, t + 2, tcp.destinationPort);
  w32(buf, t + 4, tcp.sequenceNumber ?? 0);
  w32(buf, t + 8, tcp.acknowledgmentNumber ?? 0);
  w16(buf, t + 12, ((tcpHeader >> 2) << 12) | (tcp.flags & 0x1ff));
  w16(buf, t + 14, tcp.window ?? 0xffff);
  w16(buf, t + 16, 0);
  w16(buf, t + 18, tcp.urgentPointer ?? 0);
  if (tcp.options) {
    buf.set(tcp.options, t + TCP_HEADER_LENGTH);
    buf.fill(0, t + TCP_HEADER_LENGTH + tcp.options.length, t + tcpHeader);
  }
  placePayload(buf, t + tcpHeader, payload);
  w16(buf, t + 16, checksumFinish(checksumPartial(buf, t, upper, pseudoSum(buf, offset, ip, 6, upper))));
  return total;
}

/** Builds IPv4/IPv6 + UDP. Returns the packet length or 0. */
export function buildUdp(
  buf: Uint8Array,
  offset: number,
  ip: IpSpec,
  udp: UdpSpec,
  payload?: Payload,
): number {
  const upper = UDP_HEADER_LENGTH + payloadLength(payload);
  const ipLen = ipHeaderLength(ip);
  const total = ipLen + upper;
  if (offset < 0 || offset + total > buf.length || upper > 0xffff) return 0;
  if (writeIpHeader(buf, offset, ip, 17, upper) === 0) return 0;
  const u = offset + ipLen;
  w16(buf, u, udp.sourcePort);
  w16(buf, u + 2, udp.destinationPort);
  w16(buf, u + 4, upper);
  w16(buf, u + 6, 0);
  placePayload(buf, u + UDP_HEADER_LENGTH, payload);
  const c = checksumFinish(checksumPartial(buf, u, upper, pseudoSum(buf, offset, ip, 17, upper)));
  w16(buf, u + 6, c === 0 ? 0xffff : c);
  return total;
}

/** Builds IPv4 + ICMPv4 or IPv6 + ICMPv6 (by `ip.version`). Returns the packet length or 0. */
export function buildIcmp(
  buf: Uint8Array,
  offset: number,
  ip: IpSpec,
  icmp: IcmpSpec,
  payload?: Payload,
): number {
  const upper = ICMP_HEADER_LENGTH + payloadLength(payload);
  const ipLen = ipHeaderLength(ip);
  const total = ipLen + upper;
  const protocol = ip.version === 4 ? 1 : 58;
  if (offset < 0 || offset + total > buf.length) return 0;
  if (writeIpHeader(buf, offset, ip, protocol, upper) === 0) return 0;
  const c = offset + ipLen;
  buf[c] = icmp.type;
  buf[c + 1] = icmp.code ?? 0;
  w16(buf, c + 2, 0);
  if (icmp.identifier !== undefined || icmp.sequence !== undefined) {
    w16(buf, c + 4, icmp.identifier ?? 0);
    w16(buf, c + 6, icmp.sequence ?? 0);
  } else {
    w32(buf, c + 4, icmp.restOfHeader ?? 0);
  }
  placePayload(buf, c + ICMP_HEADER_LENGTH, payload);
  const initial = ip.version === 4 ? 0 : pseudoSum(buf, offset, ip, 58, upper);
  w16(buf, c + 2, checksumFinish(checksumPartial(buf, c, upper, initial)));
  return total;
}

/** RFC 1812 §4.3.2.3: an ICMPv4 error quotes as much as fits in 576 bytes. */
export const ICMPV4_ERROR_MAX = 576;
/** RFC 4443 §2.4(c): an ICMPv6 error must not exceed the minimum IPv6 MTU. */
export const ICMPV6_ERROR_MAX = 1280;

/**
 * Builds an ICMP error (ICMPv4 if `ip.version` is 4, else ICMPv6) that quotes the offending packet
 * `offending[offendingOffset, +offendingLength)`, truncated so the whole error stays within 576 (v4) or
 * 1280 (v6) bytes. The caller chooses source/destination (normally: a router/our address → the
 * offending packet's source).
 */
export function buildIcmpError(
  buf: Uint8Array,
  offset: number,
  ip: IpSpec,
  icmp: IcmpSpec,
  offending: Uint8Array,
  offendingOffset = 0,
  offendingLength: number = offending.length - offendingOffset,
): number {
  const max = ip.version === 4 ? ICMPV4_ERROR_MAX : ICMPV6_ERROR_MAX;
  const room = max - ipHeaderLength(ip) - ICMP_HEADER_LENGTH;
  const start = Math.max(0, offendingOffset);
  const quoted = Math.max(0, Math.min(offendingLength, room, offending.length - start));
  const bodyAt = offset + ipHeaderLength(ip) + ICMP_HEADER_LENGTH;
  if (offset < 0 || bodyAt + quoted > buf.length) return 0;
  // `buf` must not overlap the offending packet: the IP header is written after the quote.
  buf.set(offending.subarray(start, start + quoted), bodyAt);
  return buildIcmp(buf, offset, ip, icmp, quoted);
}

/**
 * ICMPv4 destination unreachable (type 3) from `source` (uint32) back to the offending packet's source.
 * `code`: see Icmpv4UnreachableCode; for code 4 (fragmentation needed) pass `mtu`.
 * Returns 0 if the offending bytes are not an IPv4 header or it does not fit.
 */
export function buildIcmpv4Unreachable(
  buf: Uint8Array,
  offset: number,
  source: number,
  code: number,
  offending: Uint8Array,
  offendingOffset = 0,
  offendingLength: number = offending.length - offendingOffset,
  mtu = 0,
): number {
  if (offendingLength < IPV4_HEADER_LENGTH || offending[offendingOffset]! >> 4 !== 4) return 0;
  const o = offendingOffset + 12;
  const dst =
    ((offending[o]! << 24) | (offending[o + 1]! << 16) | (offending[o + 2]! << 8) | offending[o + 3]!) >>> 0;
  return buildIcmpError(
    buf,
    offset,
    { version: 4, source, destination: dst, dontFragment: false },
    { type: 3, code, restOfHeader: mtu & 0xffff },
    offending,
    offendingOffset,
    offendingLength,
  );
}

/**
 * ICMPv6 destination unreachable (type 1) from `source[sourceOffset..+16]` back to the offending packet's
 * source. `code`: see Icmpv6UnreachableCode. Returns 0 if the offending bytes are not IPv6 or do not fit.
 */
export function buildIcmpv6Unreachable(
  buf: Uint8Array,
  offset: number,
  source: Uint8Array,
  sourceOffset: number,
  code: number,
  offending: Uint8Array,
  offendingOffset = 0,
  offendingLength: number = offending.length - offendingOffset,
): number {
  if (offendingLength < IPV6_HEADER_LENGTH || offending[offendingOffset]! >> 4 !== 6) return 0;
  return buildIcmpError(
    buf,
    offset,
    {
      version: 6,
      source,
      sourceOffset,
      destination: offending,
      destinationOffset: offendingOffset + 8,
    },
    { type: 1, code, restOfHeader: 0 },
    offending,
    offendingOffset,
    offendingLength,
  );
}

/**
 * Builds the RST that answers the segment in `pv` (RFC 9293 §3.10.7.1 "reset generation"): addresses and
 * ports swapped; if the segment had ACK, RST with seq = its ack; otherwise RST|ACK with seq 0 and
 * ack = its seq + its length (SYN and FIN count one). Returns 0 for a segment that is itself an RST, not TCP,
 * or when it does not fit. `buf` may be the segment's own buffer (an in-place reply): every field is read
 * before anything is written.
 */
export function buildTcpRst(buf: Uint8Array, offset: number, pv: PacketView): number {
  if (pv.transport !== 6) return 0;
  const t = pv.tcp;
  if (t.rst) return 0;
  const spec: TcpSpec = {
    sourcePort: t.destinationPort,
    destinationPort: t.sourcePort,
    flags: TcpFlags.RST,
    window: 0,
  };
  if (t.ack) {
    spec.sequenceNumber = t.acknowledgmentNumber;
  } else {
    spec.sequenceNumber = 0;
    spec.acknowledgmentNumber =
      (t.sequenceNumber + t.payloadLength + (t.syn ? 1 : 0) + (t.fin ? 1 : 0)) >>> 0;
    spec.flags = TcpFlags.RST | TcpFlags.ACK;
  }
  return buildTcp(buf, offset, replyIpSpecCopied(pv), spec);
}

// Scratch for replies built over their own request: the addresses are copied out before being overwritten.
const replyAddresses = new Uint8Array(32);
const replyV4: IPv4Spec = { version: 4, source: 0, destination: 0 };
const replyV6: IPv6Spec = {
  version: 6,
  source: replyAddresses,
  sourceOffset: 0,
  destination: replyAddresses,
  destinationOffset: 16,
};

/** Like {@link replyIpSpec} but safe when the reply overwrites the request; the spec is reused per call. */
function replyIpSpecCopied(pv: PacketView): IpSpec {
  if (pv.version === 4) {
    replyV4.source = pv.ipv4.destination;
    replyV4.destination = pv.ipv4.source;
    return replyV4;
  }
  const v = pv.ipv6;
  replyAddresses.set(v.buf.subarray(v.destinationOffset, v.destinationOffset + 16), 0);
  replyAddresses.set(v.buf.subarray(v.sourceOffset, v.sourceOffset + 16), 16);
  return replyV6;
}

/** IP spec for a reply to `pv`: source and destination swapped. For IPv6 the spec points into pv's buffer. */
export function replyIpSpec(pv: PacketView): IpSpec {
  if (pv.version === 4) return { version: 4, source: pv.ipv4.destination, destination: pv.ipv4.source };
  const v = pv.ipv6;
  return {
    version: 6,
    source: v.buf,
    sourceOffset: v.destinationOffset,
    destination: v.buf,
    destinationOffset: v.sourceOffset,
  };
}

/**
 * Builds the echo reply to the echo request in `pv` (ICMPv4 type 8 or ICMPv6 type 128) into `buf` at
 * `offset`, copying identifier, sequence and data. Returns the length, or 0 if `pv` is not an echo request
 * or it does not fit. `buf` must not overlap the request (use {@link echoReplyInPlace} for that).
 */
export function buildEchoReply(buf: Uint8Array, offset: number, pv: PacketView): number {
  if (pv.transport === 1 && pv.icmpv4.type === 8) {
    const r = pv.icmpv4;
    return buildIcmp(
      buf,
      offset,
      replyIpSpec(pv),
      { type: 0, code: 0, identifier: r.identifier, sequence: r.sequence },
      r.buf.subarray(r.payloadOffset, r.offset + r.length),
    );
  }
  if (pv.transport === 58 && pv.icmpv6.type === 128) {
    const r = pv.icmpv6;
    return buildIcmp(
      buf,
      offset,
      replyIpSpec(pv),
      { type: 129, code: 0, identifier: r.identifier, sequence: r.sequence },
      r.buf.subarray(r.payloadOffset, r.offset + r.length),
    );
  }
  return 0;
}

/**
 * Turns the echo request in `pv` into its reply in place: swaps addresses, sets the reply type and TTL /
 * hop limit 64, fixes checksums incrementally. Returns false if `pv` is not an echo request.
 */
export function echoReplyInPlace(pv: PacketView): boolean {
  if (pv.transport === 1 && pv.icmpv4.type === 8) {
    const ip = pv.ipv4;
    const src = ip.source;
    ip.source = ip.destination;
    ip.destination = src; // a swap leaves the header sum unchanged
    const oldTtlWord = (ip.ttl << 8) | ip.protocol;
    ip.ttl = 64;
    ip.headerChecksum = checksumUpdate16(ip.headerChecksum, oldTtlWord, (64 << 8) | ip.protocol);
    const icmp = pv.icmpv4;
    const oldTypeWord = (icmp.type << 8) | icmp.code;
    icmp.type = 0;
    icmp.checksum = checksumUpdate16(icmp.checksum, oldTypeWord, icmp.code);
    return true;
  }
  if (pv.transport === 58 && pv.icmpv6.type === 128) {
    const ip = pv.ipv6;
    const b = ip.buf;
    const s = ip.sourceOffset;
    const d = ip.destinationOffset;
    for (let i = 0; i < 16; i++) {
      const x = b[s + i]!;
      b[s + i] = b[d + i]!;
      b[d + i] = x; // the pseudo-header sum is unchanged by a swap
    }
    ip.hopLimit = 64;
    const icmp = pv.icmpv6;
    const oldTypeWord = (icmp.type << 8) | icmp.code;
    icmp.type = 129;
    icmp.checksum = checksumUpdate16(icmp.checksum, oldTypeWord, (129 << 8) | icmp.code);
    return true;
  }
  return false;
}
