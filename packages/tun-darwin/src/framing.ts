/**
 * The utun packet header: every datagram read from or written to a utun socket starts with the protocol
 * family as a 32-bit big-endian number — 00 00 00 02 for IPv4, 00 00 00 1e (AF_INET6 = 30 on darwin) for
 * IPv6 (xnu if_utun.c:2060-2064). Read strips exactly 4 bytes, always (seed 001 skipped them only when the
 * first two bytes were zero, a guess). Pure functions, no allocation on the per-packet paths.
 */
import { AF_INET, AF_INET6, UTUN_HEADER_BYTES } from './constants.js';

/** The family for an IP packet by its version nibble: AF_INET (2), AF_INET6 (30), or 0 if neither. */
export function utunFamilyOf(packet: Uint8Array, offset = 0, length = packet.length - offset): number {
  if (length < 1) return 0;
  const version = packet[offset]! >> 4;
  return version === 4 ? AF_INET : version === 6 ? AF_INET6 : 0;
}

/** Writes the 4-byte header (network byte order). */
export function writeUtunHeader(out: Uint8Array, offset: number, family: number): void {
  out[offset] = (family >>> 24) & 0xff;
  out[offset + 1] = (family >>> 16) & 0xff;
  out[offset + 2] = (family >>> 8) & 0xff;
  out[offset + 3] = family & 0xff;
}

/** Reads the 4-byte header (network byte order). */
export function readUtunHeader(buf: Uint8Array, offset = 0): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

/**
 * Copies `packet` behind its header into `out` at `outOffset`; returns the datagram length, or 0 when the
 * packet is neither IPv4 nor IPv6 or does not fit.
 */
export function frameUtunPacketInto(
  packet: Uint8Array,
  packetOffset: number,
  packetLength: number,
  out: Uint8Array,
  outOffset: number,
): number {
  const family = utunFamilyOf(packet, packetOffset, packetLength);
  if (family === 0 || outOffset + UTUN_HEADER_BYTES + packetLength > out.length) return 0;
  writeUtunHeader(out, outOffset, family);
  out.set(packet.subarray(packetOffset, packetOffset + packetLength), outOffset + UTUN_HEADER_BYTES);
  return UTUN_HEADER_BYTES + packetLength;
}

/** Allocating convenience for the slow path and tests: header + packet, or null for a non-IP packet. */
export function frameUtunPacket(packet: Uint8Array): Uint8Array | null {
  const out = new Uint8Array(UTUN_HEADER_BYTES + packet.length);
  return frameUtunPacketInto(packet, 0, packet.length, out, 0) === 0 ? null : out;
}

export type UtunDatagramCheck = 'ok' | 'short' | 'unknown-family' | 'family-mismatch';

/**
 * Checks one datagram read from utun: at least header + 1 byte, a header of AF_INET or AF_INET6, and an IP
 * version nibble that agrees with it.
 */
export function checkUtunDatagram(buf: Uint8Array, offset: number, length: number): UtunDatagramCheck {
  if (length <= UTUN_HEADER_BYTES) return 'short';
  const family = readUtunHeader(buf, offset);
  if (family !== AF_INET && family !== AF_INET6) return 'unknown-family';
  return utunFamilyOf(buf, offset + UTUN_HEADER_BYTES, length - UTUN_HEADER_BYTES) === family
    ? 'ok'
    : 'family-mismatch';
}

/** Accepted packets of one batch of reads, after stripping the headers (counts of what was dropped). */
export interface StripResult {
  count: number;
  bytes: number;
  dropped: number;
}

/**
 * Turns `datagramCount` datagrams read into fixed slots of `slab` (slot i at i × slotSize, its length in
 * `datagramLengths[i]`) into a packet batch: `offsets`/`lengths` get one entry per accepted packet,
 * pointing past the header — no copy. A datagram that filled its slot completely was truncated by the read
 * (slots are one byte larger than the largest packet) and is dropped, as are short and unknown ones.
 */
export function stripUtunBatch(
  slab: Uint8Array,
  slotSize: number,
  datagramLengths: Uint32Array,
  datagramCount: number,
  offsets: Uint32Array,
  lengths: Uint32Array,
): StripResult {
  let count = 0;
  let bytes = 0;
  let dropped = 0;
  for (let i = 0; i < datagramCount; i++) {
    const start = i * slotSize;
    const length = datagramLengths[i]!;
    if (length >= slotSize || checkUtunDatagram(slab, start, length) !== 'ok') {
      dropped++;
      continue;
    }
    offsets[count] = start + UTUN_HEADER_BYTES;
    lengths[count] = length - UTUN_HEADER_BYTES;
    bytes += length - UTUN_HEADER_BYTES;
    count++;
  }
  return { count, bytes, dropped };
}
