import { pseudoHeaderSumV6 } from './checksum.js';
import { clampLength, type Decoded, PacketError, ParseCode } from './errors.js';

export const IPV6_HEADER_LENGTH = 40;

/** IPv6 next-header values this package knows how to walk or stops at. */
export const IPv6NextHeader = {
  HopByHop: 0,
  Routing: 43,
  Fragment: 44,
  Esp: 50,
  Ah: 51,
  NoNextHeader: 59,
  DestinationOptions: 60,
} as const;

const EMPTY = new Uint8Array(0);

/**
 * Zero-copy view of an IPv6 packet. {@link IPv6View.reset} validates the fixed header and the payload
 * length, then walks the extension headers (hop-by-hop, routing, fragment, destination options, AH) to the
 * upper-layer header; ESP and no-next-header end the walk (they are reported as the upper protocol).
 * A non-first fragment (fragment offset > 0) also ends the walk: its upper-layer header is elsewhere.
 *
 * Every accessor stays within `[offset, offset + 40 + payloadLength)`. Jumbograms (RFC 2675: payload
 * length 0 and a jumbo option) are not supported: their hop-by-hop header lies beyond the zero payload
 * length, so they are reported as BadExtensionChain.
 */
export class IPv6View {
  buf: Uint8Array = EMPTY;
  offset = 0;
  /** Validated packet length: 40 + payload length. 0 when the last reset failed. */
  length = 0;
  /** Upper-layer protocol after the extension headers (6 TCP, 17 UDP, 58 ICMPv6, 50 ESP, 59 none…). */
  upperProtocol = -1;
  /** Offset in `buf` of the upper-layer header. */
  upperOffset = 0;
  /** Bytes from `upperOffset` to the end of the packet. */
  upperLength = 0;
  /** Offset in `buf` of the next-header byte that names the upper protocol (to rewrite it in place). */
  upperNextHeaderOffset = 0;
  /** Offset in `buf` of the fragment extension header, or -1 when there is none. */
  fragmentHeaderOffset = -1;
  /** Number of extension headers walked. */
  extensionCount = 0;

  constructor(buf?: Uint8Array, offset = 0, length?: number) {
    if (buf) this.reset(buf, offset, length ?? buf.length - offset);
  }

  /** Points the view at `buf[offset, offset+length)`. Returns 0 or a {@link ParseCode}; on error the view is emptied. */
  reset(buf: Uint8Array, offset = 0, length: number = buf.length - offset): number {
    const code = this.walk(buf, offset, clampLength(buf, offset, length));
    if (code !== 0) {
      this.buf = EMPTY;
      this.offset = 0;
      this.length = 0;
      this.upperProtocol = -1;
      this.upperOffset = 0;
      this.upperLength = 0;
      this.upperNextHeaderOffset = 0;
      this.fragmentHeaderOffset = -1;
      this.extensionCount = 0;
    }
    return code;
  }

  private walk(buf: Uint8Array, offset: number, length: number): number {
    if (length < IPV6_HEADER_LENGTH) return ParseCode.Truncated;
    if (buf[offset]! >> 4 !== 6) return ParseCode.BadVersion;
    const payloadLength = (buf[offset + 4]! << 8) | buf[offset + 5]!;
    const total = IPV6_HEADER_LENGTH + payloadLength;
    if (total > length) return ParseCode.TotalLengthBeyondBuffer;
    const end = offset + total;
    let next = buf[offset + 6]!;
    let nextAt = offset + 6;
    let pos = offset + IPV6_HEADER_LENGTH;
    let count = 0;
    let fragment = -1;
    for (;;) {
      if (next === 0 || next === 43 || next === 60) {
        if (next === 0 && count !== 0) return ParseCode.BadExtensionChain;
        if (pos + 8 > end) return ParseCode.BadExtensionChain;
        const len = (buf[pos + 1]! + 1) << 3;
        if (pos + len > end) return ParseCode.BadExtensionChain;
        nextAt = pos;
        next = buf[pos]!;
        pos += len;
      } else if (next === 44) {
        if (pos + 8 > end) return ParseCode.BadExtensionChain;
        if (fragment !== -1) return ParseCode.BadExtensionChain;
        fragment = pos;
        nextAt = pos;
        next = buf[pos]!;
        pos += 8;
        // A non-first fragment carries no upper-layer header: stop here.
        if ((((buf[fragment + 2]! << 8) | buf[fragment + 3]!) & 0xfff8) !== 0) {
          count++;
          break;
        }
      } else if (next === 51) {
        // AH: length in 4-octet units minus 2 (RFC 4302).
        if (pos + 8 > end) return ParseCode.BadExtensionChain;
        const len = (buf[pos + 1]! + 2) << 2;
        if (pos + len > end) return ParseCode.BadExtensionChain;
        nextAt = pos;
        next = buf[pos]!;
        pos += len;
      } else {
        break;
      }
      count++;
    }
    this.buf = buf;
    this.offset = offset;
    this.length = total;
    this.upperProtocol = next;
    this.upperOffset = pos;
    this.upperLength = end - pos;
    this.upperNextHeaderOffset = nextAt;
    this.fragmentHeaderOffset = fragment;
    this.extensionCount = count;
    return 0;
  }

  get valid(): boolean {
    return this.length !== 0;
  }

  get version(): number {
    return this.buf[this.offset]! >> 4;
  }
  get trafficClass(): number {
    const b = this.buf;
    const o = this.offset;
    return ((b[o]! & 0x0f) << 4) | (b[o + 1]! >> 4);
  }
  set trafficClass(v: number) {
    if (this.length === 0) return;
    const b = this.buf;
    const o = this.offset;
    b[o] = 0x60 | ((v >> 4) & 0x0f);
    b[o + 1] = ((v & 0x0f) << 4) | (b[o + 1]! & 0x0f);
  }
  get flowLabel(): number {
    const b = this.buf;
    const o = this.offset;
    return ((b[o + 1]! & 0x0f) << 16) | (b[o + 2]! << 8) | b[o + 3]!;
  }
  set flowLabel(v: number) {
    if (this.length === 0) return;
    const b = this.buf;
    const o = this.offset;
    b[o + 1] = (b[o + 1]! & 0xf0) | ((v >> 16) & 0x0f);
    b[o + 2] = v >> 8;
    b[o + 3] = v;
  }
  /** Payload-length field. Setting it does not change the view's validated `length`. */
  get payloadLength(): number {
    return (this.buf[this.offset + 4]! << 8) | this.buf[this.offset + 5]!;
  }
  set payloadLength(v: number) {
    if (this.length === 0) return;
    this.buf[this.offset + 4] = v >> 8;
    this.buf[this.offset + 5] = v;
  }
  /** Next-header field of the fixed header. */
  get nextHeader(): number {
    return this.buf[this.offset + 6]! | 0;
  }
  set nextHeader(v: number) {
    if (this.length !== 0) this.buf[this.offset + 6] = v;
  }
  get hopLimit(): number {
    return this.buf[this.offset + 7]! | 0;
  }
  set hopLimit(v: number) {
    if (this.length !== 0) this.buf[this.offset + 7] = v;
  }
  /** Offset in `buf` of the 16 source-address bytes. */
  get sourceOffset(): number {
    return this.offset + 8;
  }
  /** Offset in `buf` of the 16 destination-address bytes. */
  get destinationOffset(): number {
    return this.offset + 24;
  }
  /** Copies the source address into `out[outOffset..+16]`; returns `out`. */
  copySource(out: Uint8Array = new Uint8Array(16), outOffset = 0): Uint8Array {
    if (this.length !== 0) out.set(this.buf.subarray(this.offset + 8, this.offset + 24), outOffset);
    return out;
  }
  copyDestination(out: Uint8Array = new Uint8Array(16), outOffset = 0): Uint8Array {
    if (this.length !== 0) out.set(this.buf.subarray(this.offset + 24, this.offset + 40), outOffset);
    return out;
  }
  /** Writes the source address from `src[srcOffset..+16]` (no checksum fix-up; see nat helpers). */
  setSource(src: Uint8Array, srcOffset = 0): void {
    if (this.length === 0) return;
    for (let i = 0; i < 16; i++) this.buf[this.offset + 8 + i] = src[srcOffset + i]!;
  }
  setDestination(src: Uint8Array, srcOffset = 0): void {
    if (this.length === 0) return;
    for (let i = 0; i < 16; i++) this.buf[this.offset + 24 + i] = src[srcOffset + i]!;
  }
  /** Offset in `buf` of the payload after the fixed header (first extension header, if any). */
  get payloadOffset(): number {
    return this.offset + IPV6_HEADER_LENGTH;
  }

  /** True when a fragment header is present. */
  get isFragment(): boolean {
    return this.fragmentHeaderOffset >= 0;
  }
  /** Fragment offset in units of 8 bytes (0 without a fragment header). */
  get fragmentOffset(): number {
    const f = this.fragmentHeaderOffset;
    if (f < 0) return 0;
    return ((this.buf[f + 2]! << 8) | this.buf[f + 3]!) >> 3;
  }
  get moreFragments(): boolean {
    const f = this.fragmentHeaderOffset;
    return f >= 0 && (this.buf[f + 3]! & 1) === 1;
  }
  get fragmentIdentification(): number {
    const f = this.fragmentHeaderOffset;
    if (f < 0) return 0;
    const b = this.buf;
    return ((b[f + 4]! << 24) | (b[f + 5]! << 16) | (b[f + 6]! << 8) | b[f + 7]!) >>> 0;
  }

  /** Pseudo-header sum for the upper-layer checksum (TCP, UDP, ICMPv6). */
  pseudoHeaderSum(upperLength: number = this.upperLength, nextHeader: number = this.upperProtocol): number {
    return pseudoHeaderSumV6(this.buf, this.offset + 8, this.offset + 24, nextHeader, upperLength);
  }
}

/** Cold-path decode: a new {@link IPv6View} or a typed error. */
export function decodeIPv6(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
): Decoded<IPv6View> {
  const view = new IPv6View();
  const code = view.reset(buf, offset, length);
  if (code !== 0) return { ok: false, error: PacketError.fromCode(code, 'ipv6', offset) };
  return { ok: true, view };
}
