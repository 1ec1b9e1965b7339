import { checksumFinish, checksumPartial } from './checksum.js';
import { clampLength, type Decoded, PacketError, ParseCode } from './errors.js';

export const ICMP_HEADER_LENGTH = 8;

/** ICMPv4 types used by the builders. */
export const Icmpv4Type = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  Echo: 8,
  TimeExceeded: 11,
} as const;

/** ICMPv4 destination-unreachable codes. */
export const Icmpv4UnreachableCode = {
  Net: 0,
  Host: 1,
  Protocol: 2,
  Port: 3,
  FragmentationNeeded: 4,
  AdminProhibited: 13,
} as const;

export const Icmpv6Type = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  EchoRequest: 128,
  EchoReply: 129,
} as const;

export const Icmpv6UnreachableCode = {
  NoRoute: 0,
  AdminProhibited: 1,
  BeyondScope: 2,
  Address: 3,
  Port: 4,
} as const;

const EMPTY = new Uint8Array(0);

/**
 * Zero-copy view of an ICMPv4 or ICMPv6 message (same 8-byte header shape: type, code, checksum, and
 * 4 bytes whose meaning depends on the type — identifier/sequence for echo, MTU for too-big…).
 * `length` is the whole message (the IP payload). ICMPv4's checksum covers the message only (pass 0 as the
 * pseudo sum); ICMPv6's also covers the IPv6 pseudo header (`ip6.pseudoHeaderSum()`).
 */
export class IcmpView {
  buf: Uint8Array = EMPTY;
  offset = 0;
  length = 0;

  constructor(buf?: Uint8Array, offset = 0, length?: number) {
    if (buf) this.reset(buf, offset, length ?? buf.length - offset);
  }

  reset(buf: Uint8Array, offset = 0, length: number = buf.length - offset): number {
    length = clampLength(buf, offset, length);
    if (length < ICMP_HEADER_LENGTH) {
      this.buf = EMPTY;
      this.offset = 0;
      this.length = 0;
      return ParseCode.Truncated;
    }
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    return 0;
  }

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

  get type(): number {
    return this.buf[this.offset]! | 0;
  }
  set type(v: number) {
    if (this.length !== 0) this.buf[this.offset] = v;
  }
  get code(): number {
    return this.buf[this.offset + 1]! | 0;
  }
  set code(v: number) {
    if (this.length !== 0) this.buf[this.offset + 1] = v;
  }
  get checksum(): number {
    return this.u16(2);
  }
  set checksum(v: number) {
    this.setU16(2, v);
  }
  /** Echo identifier (bytes 4–5). */
  get identifier(): number {
    return this.u16(4);
  }
  set identifier(v: number) {
    this.setU16(4, v);
  }
  /** Echo sequence number (bytes 6–7). */
  get sequence(): number {
    return this.u16(6);
  }
  set sequence(v: number) {
    this.setU16(6, v);
  }
  /** Bytes 4–7 as a uint32 (rest of header: MTU for too-big / frag-needed, pointer…). */
  get restOfHeader(): number {
    const b = this.buf;
    const o = this.offset + 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }
  set restOfHeader(v: number) {
    this.setU16(4, v >>> 16);
    this.setU16(6, v & 0xffff);
  }
  /** Offset in `buf` of the body after the 8-byte header (echo data, or the quoted packet of an error). */
  get payloadOffset(): number {
    return this.offset + ICMP_HEADER_LENGTH;
  }
  get payloadLength(): number {
    return this.length - ICMP_HEADER_LENGTH;
  }

  /** Checksum with the field read as zero (it is zeroed and restored: exact for every input). */
  private checksumWithFieldZeroed(initial: number): number {
    const b = this.buf;
    const at = this.offset + 2;
    const hi = b[at]!;
    const lo = b[at + 1]!;
    b[at] = 0;
    b[at + 1] = 0;
    const c = checksumFinish(checksumPartial(b, this.offset, this.length, initial));
    b[at] = hi;
    b[at + 1] = lo;
    return c;
  }

  computeChecksum(pseudoSum = 0): number {
    if (this.length === 0) return 0;
    return this.checksumWithFieldZeroed(pseudoSum);
  }
  updateChecksum(pseudoSum = 0): void {
    this.checksum = this.computeChecksum(pseudoSum);
  }
  verifyChecksum(pseudoSum = 0): boolean {
    return (
      this.length !== 0 &&
      checksumFinish(checksumPartial(this.buf, this.offset, this.length, pseudoSum)) === 0
    );
  }
}

/** ICMPv4 message view. Checksum methods need no pseudo-header sum. */
export class Icmpv4View extends IcmpView {
  get isEcho(): boolean {
    return this.type === Icmpv4Type.Echo || this.type === Icmpv4Type.EchoReply;
  }
  /** True for error messages that quote an offending packet (unreachable, time exceeded, …). */
  get isError(): boolean {
    const t = this.type;
    return t === 3 || t === 4 || t === 5 || t === 11 || t === 12;
  }
}

/** ICMPv6 message view. Checksum methods need `ip6.pseudoHeaderSum()`. */
export class Icmpv6View extends IcmpView {
  get isEcho(): boolean {
    return this.type === Icmpv6Type.EchoRequest || this.type === Icmpv6Type.EchoReply;
  }
  /** Error messages are types 0–127 (RFC 4443). */
  get isError(): boolean {
    return this.type < 128;
  }
}

export function decodeIcmpv4(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
): Decoded<Icmpv4View> {
  const view = new Icmpv4View();
  const code = view.reset(buf, offset, length);
  if (code !== 0) return { ok: false, error: PacketError.fromCode(code, 'icmpv4', offset) };
  return { ok: true, view };
}

export function decodeIcmpv6(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
): Decoded<Icmpv6View> {
  const view = new Icmpv6View();
  const code = view.reset(buf, offset, length);
  if (code !== 0) return { ok: false, error: PacketError.fromCode(code, 'icmpv6', offset) };
  return { ok: true, view };
}
