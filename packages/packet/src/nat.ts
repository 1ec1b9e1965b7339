/**
 * In-place NAT rewrites with RFC 1624 incremental checksum fix-ups: O(1) in the payload size.
 * Each function takes a {@link PacketView} that parsed the packet (reset returned 0).
 *
 * Fragments: the transport checksum is fixed only when the transport header is in this packet (an
 * unfragmented packet or a first fragment); non-first fragments carry no transport checksum to fix.
 */
import { checksumUpdate16, checksumUpdate32, checksumUpdateBytes } from './checksum.js';
import type { PacketView } from './packet.js';

/**
 * Offset in `buf` of the transport checksum field that covers the IP pseudo header, or -1 when there is
 * none in this packet (non-first fragment, unknown protocol, too short, ICMPv4).
 */
function pseudoCoveredChecksumAt(pv: PacketView): number {
  let at: number;
  const p = pv.protocol;
  if (p === 6) at = 16;
  else if (p === 17) at = 6;
  else if (p === 58 && pv.version === 6) at = 2;
  else return -1;
  if (pv.version === 4 ? pv.ipv4.fragmentOffset !== 0 : pv.ipv6.fragmentOffset !== 0) return -1;
  if (pv.transportLength < at + 2) return -1;
  return pv.transportOffset + at;
}

function readU16(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}
function writeU16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 8;
  buf[at + 1] = v;
}

/** Applies an already-computed update to the transport checksum at `at`, honouring UDP's zero rule. */
function storeTransportChecksum(pv: PacketView, buf: Uint8Array, at: number, updated: number): void {
  if (pv.protocol === 17) {
    // IPv4 UDP with checksum 0 means "no checksum": keep it that way. A computed 0 is sent as 0xffff.
    if (pv.version === 4 && readU16(buf, at) === 0) return;
    if (updated === 0) updated = 0xffff;
  }
  writeU16(buf, at, updated);
}

function rewriteIPv4Address(pv: PacketView, fieldAt: number, address: number): void {
  if (pv.version !== 4) return;
  const buf = pv.ipv4.buf;
  const old =
    ((buf[fieldAt]! << 24) | (buf[fieldAt + 1]! << 16) | (buf[fieldAt + 2]! << 8) | buf[fieldAt + 3]!) >>> 0;
  address >>>= 0;
  if (old === address) return;
  buf[fieldAt] = address >>> 24;
  buf[fieldAt + 1] = address >>> 16;
  buf[fieldAt + 2] = address >>> 8;
  buf[fieldAt + 3] = address;
  const ipSumAt = pv.ipv4.offset + 10;
  writeU16(buf, ipSumAt, checksumUpdate32(readU16(buf, ipSumAt), old, address));
  const at = pseudoCoveredChecksumAt(pv);
  if (at >= 0) storeTransportChecksum(pv, buf, at, checksumUpdate32(readU16(buf, at), old, address));
}

/** Sets the IPv4 source address (uint32); fixes the header and TCP/UDP checksums incrementally. */
export function rewriteIPv4Source(pv: PacketView, address: number): void {
  rewriteIPv4Address(pv, pv.ipv4.offset + 12, address);
}

/** Sets the IPv4 destination address (uint32); fixes the header and TCP/UDP checksums incrementally. */
export function rewriteIPv4Destination(pv: PacketView, address: number): void {
  rewriteIPv4Address(pv, pv.ipv4.offset + 16, address);
}

function rewriteIPv6Address(
  pv: PacketView,
  fieldAt: number,
  address: Uint8Array,
  addressOffset: number,
): void {
  if (pv.version !== 6) return;
  const buf = pv.ipv6.buf;
  const at = pseudoCoveredChecksumAt(pv);
  if (at >= 0) {
    // Update from the old bytes before overwriting them.
    const updated = checksumUpdateBytes(readU16(buf, at), buf, fieldAt, address, addressOffset, 16);
    for (let i = 0; i < 16; i++) buf[fieldAt + i] = address[addressOffset + i]!;
    storeTransportChecksum(pv, buf, at, updated);
  } else {
    for (let i = 0; i < 16; i++) buf[fieldAt + i] = address[addressOffset + i]!;
  }
}

/** Sets the IPv6 source address from `address[addressOffset..+16]`; fixes TCP/UDP/ICMPv6 checksums. */
export function rewriteIPv6Source(pv: PacketView, address: Uint8Array, addressOffset = 0): void {
  rewriteIPv6Address(pv, pv.ipv6.offset + 8, address, addressOffset);
}

/** Sets the IPv6 destination address from `address[addressOffset..+16]`; fixes TCP/UDP/ICMPv6 checksums. */
export function rewriteIPv6Destination(pv: PacketView, address: Uint8Array, addressOffset = 0): void {
  rewriteIPv6Address(pv, pv.ipv6.offset + 24, address, addressOffset);
}

function rewritePort(pv: PacketView, portAt: number, port: number): boolean {
  if (pv.transport !== 6 && pv.transport !== 17) return false;
  const buf = pv.version === 4 ? pv.ipv4.buf : pv.ipv6.buf;
  const at = pv.transportOffset + portAt;
  const old = readU16(buf, at);
  port &= 0xffff;
  writeU16(buf, at, port);
  const sumAt = pv.transportOffset + (pv.transport === 6 ? 16 : 6);
  storeTransportChecksum(pv, buf, sumAt, checksumUpdate16(readU16(buf, sumAt), old, port));
  return true;
}

/** Sets the TCP/UDP source port, fixing the checksum. Returns false when the packet has no TCP/UDP header. */
export function rewriteSourcePort(pv: PacketView, port: number): boolean {
  return rewritePort(pv, 0, port);
}

/** Sets the TCP/UDP destination port, fixing the checksum. Returns false when there is no TCP/UDP header. */
export function rewriteDestinationPort(pv: PacketView, port: number): boolean {
  return rewritePort(pv, 2, port);
}

/** Sets the ICMP echo identifier (ICMPv4 or ICMPv6 echo), fixing the checksum. Returns false otherwise. */
export function rewriteIcmpEchoIdentifier(pv: PacketView, identifier: number): boolean {
  const view = pv.transport === 1 ? pv.icmpv4 : pv.transport === 58 ? pv.icmpv6 : null;
  if (view === null || !view.isEcho) return false;
  const old = view.identifier;
  view.identifier = identifier & 0xffff;
  view.checksum = checksumUpdate16(view.checksum, old, identifier & 0xffff);
  return true;
}

/** One's-complement "replace old by new" delta of a 32-bit value (two 16-bit words). */
function delta32(oldValue: number, newValue: number): number {
  return (~(oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff) + (newValue >>> 16) + (newValue & 0xffff);
}

/** Applies an accumulated delta (< 2^24) to a checksum: ~(~checksum + delta), folded. */
function applyDelta(checksum: number, delta: number): number {
  let s = (~checksum & 0xffff) + delta;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * Rewrites both IPv4 addresses and, when the packet has a TCP/UDP header, both ports — with ONE
 * incremental update of the IPv4 header checksum and one of the transport checksum (the common full-NAT
 * case, cheaper than four separate calls). Returns true when ports were written too.
 */
export function rewriteIPv4Endpoints(
  pv: PacketView,
  source: number,
  sourcePort: number,
  destination: number,
  destinationPort: number,
): boolean {
  if (pv.version !== 4) return false;
  const buf = pv.ipv4.buf;
  const o = pv.ipv4.offset;
  const oldSrc = ((buf[o + 12]! << 24) | (buf[o + 13]! << 16) | (buf[o + 14]! << 8) | buf[o + 15]!) >>> 0;
  const oldDst = ((buf[o + 16]! << 24) | (buf[o + 17]! << 16) | (buf[o + 18]! << 8) | buf[o + 19]!) >>> 0;
  source >>>= 0;
  destination >>>= 0;
  buf[o + 12] = source >>> 24;
  buf[o + 13] = source >>> 16;
  buf[o + 14] = source >>> 8;
  buf[o + 15] = source;
  buf[o + 16] = destination >>> 24;
  buf[o + 17] = destination >>> 16;
  buf[o + 18] = destination >>> 8;
  buf[o + 19] = destination;
  const addrDelta = delta32(oldSrc, source) + delta32(oldDst, destination);
  writeU16(buf, o + 10, applyDelta(readU16(buf, o + 10), addrDelta));
  return fixTransport(pv, buf, addrDelta, sourcePort, destinationPort);
}

/**
 * Rewrites both IPv6 addresses (16 bytes each from the given buffers) and, when the packet has a TCP/UDP
 * header, both ports — one incremental update of the transport checksum. Returns true when ports were
 * written too. The new addresses must not overlap the packet's own address fields.
 */
export function rewriteIPv6Endpoints(
  pv: PacketView,
  source: Uint8Array,
  sourceOffset: number,
  sourcePort: number,
  destination: Uint8Array,
  destinationOffset: number,
  destinationPort: number,
): boolean {
  if (pv.version !== 6) return false;
  const buf = pv.ipv6.buf;
  const s = pv.ipv6.offset + 8;
  const d = pv.ipv6.offset + 24;
  let addrDelta = 0;
  for (let i = 0; i < 16; i += 2) {
    addrDelta +=
      (~((buf[s + i]! << 8) | buf[s + i + 1]!) & 0xffff) +
      ((source[sourceOffset + i]! << 8) | source[sourceOffset + i + 1]!) +
      (~((buf[d + i]! << 8) | buf[d + i + 1]!) & 0xffff) +
      ((destination[destinationOffset + i]! << 8) | destination[destinationOffset + i + 1]!);
  }
  for (let i = 0; i < 16; i++) {
    buf[s + i] = source[sourceOffset + i]!;
    buf[d + i] = destination[destinationOffset + i]!;
  }
  return fixTransport(pv, buf, addrDelta, sourcePort, destinationPort);
}

/** Writes ports (TCP/UDP only) and applies address + port deltas to the pseudo-header-covered checksum. */
function fixTransport(
  pv: PacketView,
  buf: Uint8Array,
  addrDelta: number,
  sourcePort: number,
  destinationPort: number,
): boolean {
  const at = pseudoCoveredChecksumAt(pv);
  let delta = addrDelta;
  let ports = false;
  if (pv.transport === 6 || pv.transport === 17) {
    const t = pv.transportOffset;
    sourcePort &= 0xffff;
    destinationPort &= 0xffff;
    delta += (~readU16(buf, t) & 0xffff) + sourcePort + (~readU16(buf, t + 2) & 0xffff) + destinationPort;
    writeU16(buf, t, sourcePort);
    writeU16(buf, t + 2, destinationPort);
    ports = true;
  }
  if (at >= 0) storeTransportChecksum(pv, buf, at, applyDelta(readU16(buf, at), delta));
  return ports;
}

/**
 * Raw-offset full NAT of a TCP segment, for callers that parsed the packet themselves (the stack's per-packet
 * path): writes both addresses (4 bytes for IPv4, 16 for IPv6, read from `source`/`destination` at their
 * offsets) and both ports, then applies ONE incremental update to the IPv4 header checksum and one to the
 * TCP checksum. The caller guarantees that the IP header at `ipOffset` and 20 bytes of TCP header at
 * `tcpOffset` lie inside `buf`, and that the packet is not a fragment.
 *
 * `partial`: the TCP checksum field holds a checksum-offload partial sum (Linux CHECKSUM_PARTIAL /
 * virtio_net_hdr NEEDS_CSUM: the folded, NOT complemented pseudo-header sum; whoever completes it sums from
 * the TCP header to the end). The address delta is then ADDED to that sum (the ports are summed by whoever
 * completes it) instead of applied to a finished checksum.
 */
export function rewriteTcpEndpointsAt(
  buf: Uint8Array,
  ipOffset: number,
  version: 4 | 6,
  tcpOffset: number,
  source: Uint8Array,
  sourceOffset: number,
  sourcePort: number,
  destination: Uint8Array,
  destinationOffset: number,
  destinationPort: number,
  partial = false,
): void {
  const alen = version === 4 ? 4 : 16;
  const s = ipOffset + (version === 4 ? 12 : 8);
  const d = s + alen;
  let delta = 0;
  for (let i = 0; i < alen; i += 2) {
    delta +=
      (~readU16(buf, s + i) & 0xffff) +
      readU16(source, sourceOffset + i) +
      (~readU16(buf, d + i) & 0xffff) +
      readU16(destination, destinationOffset + i);
  }
  for (let i = 0; i < alen; i++) {
    buf[s + i] = source[sourceOffset + i]!;
    buf[d + i] = destination[destinationOffset + i]!;
  }
  if (version === 4) writeU16(buf, ipOffset + 10, applyDelta(readU16(buf, ipOffset + 10), delta));
  sourcePort &= 0xffff;
  destinationPort &= 0xffff;
  const sumAt = tcpOffset + 16;
  if (partial) {
    // The partial sum covers the pseudo header only: the ports lie in the range the completer sums itself.
    writeU16(buf, sumAt, addToPartialSum(readU16(buf, sumAt), delta));
    writeU16(buf, tcpOffset, sourcePort);
    writeU16(buf, tcpOffset + 2, destinationPort);
    return;
  }
  delta +=
    (~readU16(buf, tcpOffset) & 0xffff) +
    sourcePort +
    (~readU16(buf, tcpOffset + 2) & 0xffff) +
    destinationPort;
  writeU16(buf, tcpOffset, sourcePort);
  writeU16(buf, tcpOffset + 2, destinationPort);
  writeU16(buf, sumAt, applyDelta(readU16(buf, sumAt), delta));
}

/** RFC 1624 for an uncomplemented (partial) sum: fold(sum + delta). */
function addToPartialSum(sum: number, delta: number): number {
  let s = sum + delta;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s;
}
