import { checksumFinish, checksumPartial } from './checksum.js';
import { clampLength, type Decoded, PacketError, ParseCode } from './errors.js';

export const UDP_HEADER_LENGTH = 8;

const EMPTY = new Uint8Array(0);

/**
 * Zero-copy view of a UDP datagram. `reset(buf, offset, length)` takes the transport length available (the
 * IP payload length) and validates the UDP length field against it: the view's `length` is the UDP length
 * field, so trailing bytes beyond it are never part of the payload.
 *
 * Checksum note: over IPv4 a zero checksum means "none"; a computed 0 is sent as 0xffff (RFC 768) — the
 * methods here do that. Over IPv6 the checksum is mandatory.
 */
export class UdpView {
  buf: Uint8Array = EMPTY;
  offset = 0;
  /** The validated UDP length (header + payload). 0 when the last reset failed. */
  length = 0;

  constructor(buf?: Uint8Array, offset = 0, length?: number) {
    if (buf) this.reset(buf, offset, length ?? buf.length - offset);
  }

  reset(buf: Uint8Array, offset = 0, length: number = buf.length - offset): number {
    length = clampLength(buf, offset, length);
    let code = 0;
    if (length < UDP_HEADER_LENGTH) code = ParseCode.Truncated;
    else {
      const udpLength = (buf[offset + 4]! << 8) | buf[offset + 5]!;
      if (udpLength < UDP_HEADER_LENGTH) code = ParseCode.BadTotalLength;
      else if (udpLength > length) code = ParseCode.TotalLengthBeyondBuffer;
      else {
        this.buf = buf;
        this.offset = offset;
        this.length = udpLength;
        return 0;
      }
    }
    this.buf = EMPTY;
    this.offset = 0;
    this.length = 0;
    return code;
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

  get sourcePort(): number {
    return this.u16(0);
  }
  set sourcePort(v: number) {
    this.setU16(0, v);
  }
  get destinationPort(): number {
    return this.u16(2);
  }
  set destinationPort(v: number) {
    this.setU16(2, v);
  }
  /** The UDP length field. Setting it does not change the view's validated `length`. */
  get lengthField(): number {
    return this.u16(4);
  }
  set lengthField(v: number) {
    this.setU16(4, v);
  }
  get checksum(): number {
    return this.u16(6);
  }
  set checksum(v: number) {
    this.setU16(6, v);
  }
  get payloadOffset(): number {
    return this.offset + UDP_HEADER_LENGTH;
  }
  get payloadLength(): number {
    return this.length - UDP_HEADER_LENGTH;
  }

  /** Checksum with the field read as zero (it is zeroed and restored: exact for every input). */
  private checksumWithFieldZeroed(initial: number): number {
    const b = this.buf;
    const at = this.offset + 6;
    const hi = b[at]!;
    const lo = b[at + 1]!;
    b[at] = 0;
    b[at + 1] = 0;
    const c = checksumFinish(checksumPartial(b, this.offset, this.length, initial));
    b[at] = hi;
    b[at + 1] = lo;
    return c;
  }

  /** Checksum over pseudo header + datagram (field treated as zero); a result of 0 is returned as 0xffff. */
  computeChecksum(pseudoSum: number): number {
    if (this.length === 0) return 0;
    const c = this.checksumWithFieldZeroed(pseudoSum);
    return c === 0 ? 0xffff : c;
  }
  updateChecksum(pseudoSum: number): void {
    this.checksum = this.computeChecksum(pseudoSum);
  }
  /** True when the checksum is correct, or absent (0) and `zeroAllowed` (IPv4). */
  verifyChecksum(pseudoSum: number, zeroAllowed = false): boolean {
    if (this.length === 0) return false;
    if (this.checksum === 0) return zeroAllowed;
    return checksumFinish(checksumPartial(this.buf, this.offset, this.length, pseudoSum)) === 0;
  }
}

export function decodeUdp(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
): Decoded<UdpView> {
  const view = new UdpView();
  const code = view.reset(buf, offset, length);
  if (code !== 0) return { ok: false, error: PacketError.fromCode(code, 'udp', offset) };
  return { ok: true, view };
}
