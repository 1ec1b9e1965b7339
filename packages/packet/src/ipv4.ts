import {
  checksumFinish,
  checksumPartial,
  checksumUpdate16,
  internetChecksum,
  pseudoHeaderSumV4At,
} from './checksum.js';
import { clampLength, type Decoded, PacketError, ParseCode } from './errors.js';

export const IPV4_HEADER_LENGTH = 20;

const EMPTY = new Uint8Array(0);

/**
 * Zero-copy view of an IPv4 packet. Re-point it with {@link IPv4View.reset} (no allocation); it validates
 * version, IHL and total length, and afterwards every accessor stays within
 * `[offset, offset + totalLength)` — bytes after the total length (link padding) are never part of it.
 *
 * Setters write in place and do NOT fix checksums: call {@link IPv4View.updateHeaderChecksum} after
 * changing header fields, or use the incremental helpers in `nat.ts` for addresses.
 */
export class IPv4View {
  buf: Uint8Array = EMPTY;
  /** Offset of the IPv4 header in `buf`. */
  offset = 0;
  /** Validated packet length (the total-length field). 0 when the last reset failed. */
  length = 0;
  /** Validated header length in bytes (IHL * 4). */
  headerLength = 0;

  constructor(buf?: Uint8Array, offset = 0, length?: number) {
    if (buf) this.reset(buf, offset, length ?? buf.length - offset);
  }

  /**
   * Points the view at `length` bytes of `buf` from `offset`. Returns {@link ParseCode}.Ok (0) or an error
   * code; on error the view is emptied (reads return 0, writes go nowhere).
   */
  reset(buf: Uint8Array, offset = 0, length: number = buf.length - offset): number {
    const code = this.check(buf, offset, length);
    if (code !== 0) {
      this.buf = EMPTY;
      this.offset = 0;
      this.length = 0;
      this.headerLength = 0;
      return code;
    }
    this.buf = buf;
    this.offset = offset;
    this.headerLength = (buf[offset]! & 0x0f) << 2;
    this.length = (buf[offset + 2]! << 8) | buf[offset + 3]!;
    return 0;
  }

  private check(buf: Uint8Array, offset: number, length: number): number {
    length = clampLength(buf, offset, length);
    if (length < IPV4_HEADER_LENGTH) return ParseCode.Truncated;
    const b0 = buf[offset]!;
    if (b0 >> 4 !== 4) return ParseCode.BadVersion;
    const ihl = (b0 & 0x0f) << 2;
    if (ihl < IPV4_HEADER_LENGTH) return ParseCode.BadHeaderLength;
    if (ihl > length) return ParseCode.Truncated;
    const total = (buf[offset + 2]! << 8) | buf[offset + 3]!;
    if (total < ihl) return ParseCode.BadTotalLength;
    if (total > length) return ParseCode.TotalLengthBeyondBuffer;
    return 0;
  }

  /** True when the last reset succeeded. */
  get valid(): boolean {
    return this.length !== 0;
  }

  private u16(at: number): number {
    return (this.buf[this.offset + at]! << 8) | this.buf[this.offset + at + 1]!;
  }
  private setU16(at: number, v: number): void {
    if (this.length === 0) return;
    this.buf[this.offset + at] = v >>> 8;
    this.buf[this.offset + at + 1] = v;
  }
  private u32(at: number): number {
    const b = this.buf;
    const o = this.offset + at;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }
  private setU32(at: number, v: number): void {
    if (this.length === 0) return;
    const b = this.buf;
    const o = this.offset + at;
    b[o] = v >>> 24;
    b[o + 1] = v >>> 16;
    b[o + 2] = v >>> 8;
    b[o + 3] = v;
  }

  get version(): number {
    return this.buf[this.offset]! >> 4;
  }
  /** IHL field (header length in 32-bit words). Read-only: changing it means moving the payload; rebuild instead. */
  get ihl(): number {
    return this.buf[this.offset]! & 0x0f;
  }
  /** Type-of-service byte (DSCP << 2 | ECN). */
  get tos(): number {
    return this.buf[this.offset + 1]! | 0;
  }
  set tos(v: number) {
    if (this.length !== 0) this.buf[this.offset + 1] = v;
  }
  get dscp(): number {
    return this.tos >> 2;
  }
  set dscp(v: number) {
    this.tos = ((v & 0x3f) << 2) | (this.tos & 3);
  }
  get ecn(): number {
    return this.tos & 3;
  }
  set ecn(v: number) {
    this.tos = (this.tos & 0xfc) | (v & 3);
  }
  /** Total-length field. Setting it does not change the view's validated `length`. */
  get totalLength(): number {
    return this.u16(2);
  }
  set totalLength(v: number) {
    this.setU16(2, v);
  }
  get identification(): number {
    return this.u16(4);
  }
  set identification(v: number) {
    this.setU16(4, v);
  }
  /** The 3 flag bits (reserved, DF, MF) as a number 0..7. */
  get flags(): number {
    return this.buf[this.offset + 6]! >> 5;
  }
  set flags(v: number) {
    this.setU16(6, ((v & 7) << 13) | (this.u16(6) & 0x1fff));
  }
  get dontFragment(): boolean {
    return (this.buf[this.offset + 6]! & 0x40) !== 0;
  }
  set dontFragment(v: boolean) {
    this.flags = v ? this.flags | 2 : this.flags & ~2;
  }
  get moreFragments(): boolean {
    return (this.buf[this.offset + 6]! & 0x20) !== 0;
  }
  set moreFragments(v: boolean) {
    this.flags = v ? this.flags | 1 : this.flags & ~1;
  }
  /** Fragment offset field, in units of 8 bytes. */
  get fragmentOffset(): number {
    return this.u16(6) & 0x1fff;
  }
  set fragmentOffset(v: number) {
    this.setU16(6, (this.u16(6) & 0xe000) | (v & 0x1fff));
  }
  /** True when this packet is a fragment (MF set or a non-zero fragment offset). */
  get isFragment(): boolean {
    return (this.u16(6) & 0x3fff) !== 0;
  }
  get ttl(): number {
    return this.buf[this.offset + 8]! | 0;
  }
  set ttl(v: number) {
    if (this.length !== 0) this.buf[this.offset + 8] = v;
  }
  get protocol(): number {
    return this.buf[this.offset + 9]! | 0;
  }
  set protocol(v: number) {
    if (this.length !== 0) this.buf[this.offset + 9] = v;
  }
  get headerChecksum(): number {
    return this.u16(10);
  }
  set headerChecksum(v: number) {
    this.setU16(10, v);
  }
  /** Source address as a uint32 (network order value, e.g. 10.0.0.1 = 0x0a000001). */
  get source(): number {
    return this.u32(12);
  }
  set source(v: number) {
    this.setU32(12, v);
  }
  get destination(): number {
    return this.u32(16);
  }
  set destination(v: number) {
    this.setU32(16, v);
  }
  /** Offset in `buf` of the 4 source-address bytes. */
  get sourceOffset(): number {
    return this.offset + 12;
  }
  get destinationOffset(): number {
    return this.offset + 16;
  }
  /** Offset in `buf` of the options (0 bytes when IHL = 5). */
  get optionsOffset(): number {
    return this.offset + IPV4_HEADER_LENGTH;
  }
  get optionsLength(): number {
    return this.headerLength > IPV4_HEADER_LENGTH ? this.headerLength - IPV4_HEADER_LENGTH : 0;
  }
  /** Offset in `buf` of the payload (transport header). */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  get payloadLength(): number {
    return this.length - this.headerLength;
  }

  /** Checksum with the field read as zero (it is zeroed and restored: exact for every input). */
  private checksumWithFieldZeroed(initial: number): number {
    const b = this.buf;
    const at = this.offset + 10;
    const hi = b[at]!;
    const lo = b[at + 1]!;
    b[at] = 0;
    b[at + 1] = 0;
    const c = checksumFinish(checksumPartial(b, this.offset, this.headerLength, initial));
    b[at] = hi;
    b[at + 1] = lo;
    return c;
  }

  /** Computes the header checksum over the current header bytes (checksum field treated as zero). */
  computeHeaderChecksum(): number {
    if (this.length === 0) return 0;
    return this.checksumWithFieldZeroed(0);
  }
  /** Writes the freshly computed header checksum. */
  updateHeaderChecksum(): void {
    this.setU16(10, this.computeHeaderChecksum());
  }
  /** True when the header checksum is correct. */
  verifyHeaderChecksum(): boolean {
    return this.length !== 0 && internetChecksum(this.buf, this.offset, this.headerLength) === 0;
  }
  /** Decrements TTL and fixes the header checksum incrementally. Returns the new TTL. */
  decrementTtl(): number {
    if (this.length === 0) return 0;
    const o = this.offset + 8;
    const oldWord = (this.buf[o]! << 8) | this.buf[o + 1]!;
    const ttl = (this.buf[o]! - 1) & 0xff;
    this.buf[o] = ttl;
    this.headerChecksum = checksumUpdate16(this.headerChecksum, oldWord, (ttl << 8) | this.buf[o + 1]!);
    return ttl;
  }
  /** Pseudo-header sum for the transport checksum, over this packet's addresses and protocol. */
  pseudoHeaderSum(upperLength: number = this.payloadLength, protocol: number = this.protocol): number {
    return pseudoHeaderSumV4At(this.buf, this.offset + 12, this.offset + 16, protocol, upperLength);
  }
}

/** Cold-path decode: a new {@link IPv4View} or a typed error. */
export function decodeIPv4(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
): Decoded<IPv4View> {
  const view = new IPv4View();
  const code = view.reset(buf, offset, length);
  if (code !== 0) return { ok: false, error: PacketError.fromCode(code, 'ipv4', offset) };
  return { ok: true, view };
}
