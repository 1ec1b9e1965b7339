import { checksumFinish, checksumPartial, checksumUpdate16 } from './checksum.js';
import { clampLength, type Decoded, PacketError, ParseCode } from './errors.js';
import { findOption } from './options.js';

export const TCP_HEADER_LENGTH = 20;

/** TCP flag bits as found in the low 9 bits of header bytes 12–13. */
export const TcpFlags = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
  /** Former ECN nonce bit (RFC 3540, historic). */
  NS: 0x100,
} as const;

/** TCP option kinds. */
export const TcpOption = {
  End: 0,
  Nop: 1,
  Mss: 2,
  WindowScale: 3,
  SackPermitted: 4,
  Sack: 5,
  Timestamps: 8,
} as const;

const EMPTY = new Uint8Array(0);

/**
 * Zero-copy view of a TCP segment. `reset(buf, offset, length)` takes the transport length (the IP payload
 * length, from the IP view) and validates the data offset; accessors stay within `[offset, offset+length)`.
 * Checksum methods take the pseudo-header sum from the IP view (`ip.pseudoHeaderSum()`).
 */
export class TcpView {
  buf: Uint8Array = EMPTY;
  offset = 0;
  /** Segment length (header + payload). 0 when the last reset failed. */
  length = 0;
  /** Validated header length in bytes (data offset * 4). */
  headerLength = 0;

  constructor(buf?: Uint8Array, offset = 0, length?: number) {
    if (buf) this.reset(buf, offset, length ?? buf.length - offset);
  }

  reset(buf: Uint8Array, offset = 0, length: number = buf.length - offset): number {
    length = clampLength(buf, offset, length);
    let code = 0;
    if (length < TCP_HEADER_LENGTH) code = ParseCode.Truncated;
    else {
      const hl = (buf[offset + 12]! >> 4) << 2;
      if (hl < TCP_HEADER_LENGTH) code = ParseCode.BadHeaderLength;
      else if (hl > length) code = ParseCode.BadHeaderLength;
      else {
        this.buf = buf;
        this.offset = offset;
        this.length = length;
        this.headerLength = hl;
        return 0;
      }
    }
    this.buf = EMPTY;
    this.offset = 0;
    this.length = 0;
    this.headerLength = 0;
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
  get sequenceNumber(): number {
    return this.u32(4);
  }
  set sequenceNumber(v: number) {
    this.setU32(4, v);
  }
  get acknowledgmentNumber(): number {
    return this.u32(8);
  }
  set acknowledgmentNumber(v: number) {
    this.setU32(8, v);
  }
  /** Data-offset field (header length in 32-bit words). */
  get dataOffset(): number {
    return this.buf[this.offset + 12]! >> 4;
  }
  /** The 9 flag bits (see {@link TcpFlags}). */
  get flags(): number {
    return this.u16(12) & 0x1ff;
  }
  set flags(v: number) {
    this.setU16(12, (this.u16(12) & 0xfe00) | (v & 0x1ff));
  }
  get fin(): boolean {
    return (this.buf[this.offset + 13]! & 0x01) !== 0;
  }
  get syn(): boolean {
    return (this.buf[this.offset + 13]! & 0x02) !== 0;
  }
  get rst(): boolean {
    return (this.buf[this.offset + 13]! & 0x04) !== 0;
  }
  get psh(): boolean {
    return (this.buf[this.offset + 13]! & 0x08) !== 0;
  }
  get ack(): boolean {
    return (this.buf[this.offset + 13]! & 0x10) !== 0;
  }
  get urg(): boolean {
    return (this.buf[this.offset + 13]! & 0x20) !== 0;
  }
  get ece(): boolean {
    return (this.buf[this.offset + 13]! & 0x40) !== 0;
  }
  get cwr(): boolean {
    return (this.buf[this.offset + 13]! & 0x80) !== 0;
  }
  get window(): number {
    return this.u16(14);
  }
  set window(v: number) {
    this.setU16(14, v);
  }
  get checksum(): number {
    return this.u16(16);
  }
  set checksum(v: number) {
    this.setU16(16, v);
  }
  get urgentPointer(): number {
    return this.u16(18);
  }
  set urgentPointer(v: number) {
    this.setU16(18, v);
  }
  /** Offset in `buf` of the options. */
  get optionsOffset(): number {
    return this.offset + TCP_HEADER_LENGTH;
  }
  get optionsLength(): number {
    return this.headerLength - TCP_HEADER_LENGTH;
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  get payloadLength(): number {
    return this.length - this.headerLength;
  }

  /** Offset in `buf` of option `kind`'s kind byte, or -1. */
  findOption(kind: number): number {
    if (this.length === 0) return -1;
    return findOption(this.buf, this.offset + TCP_HEADER_LENGTH, this.headerLength - TCP_HEADER_LENGTH, kind);
  }
  /** The MSS option value, or -1 when absent or malformed. */
  get mss(): number {
    const at = this.findOption(TcpOption.Mss);
    if (at < 0 || this.buf[at + 1] !== 4) return -1;
    return (this.buf[at + 2]! << 8) | this.buf[at + 3]!;
  }
  /**
   * Writes the MSS option value in place, fixing the checksum incrementally. Returns false when there is
   * no well-formed MSS option.
   */
  setMss(value: number): boolean {
    const at = this.findOption(TcpOption.Mss);
    if (at < 0 || this.buf[at + 1] !== 4) return false;
    const old = (this.buf[at + 2]! << 8) | this.buf[at + 3]!;
    this.buf[at + 2] = value >>> 8;
    this.buf[at + 3] = value;
    // The option starts at an even offset within the segment only if `at - offset` is even; otherwise the
    // value straddles two checksum words, so update both words it touches.
    if (((at - this.offset) & 1) === 0) {
      this.checksum = checksumUpdate16(this.checksum, old, value & 0xffff);
    } else {
      const b = this.buf;
      const w0old = (4 << 8) | (old >>> 8);
      const w0new = (4 << 8) | ((value >>> 8) & 0xff);
      const w1old = ((old & 0xff) << 8) | b[at + 4]!;
      const w1new = ((value & 0xff) << 8) | b[at + 4]!;
      // A trailing byte past the header is part of the checksum too; it is unchanged so it cancels out.
      this.checksum = checksumUpdate16(checksumUpdate16(this.checksum, w0old, w0new), w1old, w1new);
    }
    return true;
  }
  /** Lowers the MSS option to `max` if it is larger (checksum fixed). Returns true when it changed. */
  clampMss(max: number): boolean {
    const current = this.mss;
    if (current < 0 || current <= max) return false;
    return this.setMss(max);
  }
  /** Window-scale shift, or -1. */
  get windowScale(): number {
    const at = this.findOption(TcpOption.WindowScale);
    if (at < 0 || this.buf[at + 1] !== 3) return -1;
    return this.buf[at + 2]! | 0;
  }

  /** Checksum with the field read as zero (it is zeroed and restored: exact for every input). */
  private checksumWithFieldZeroed(initial: number): number {
    const b = this.buf;
    const at = this.offset + 16;
    const hi = b[at]!;
    const lo = b[at + 1]!;
    b[at] = 0;
    b[at + 1] = 0;
    const c = checksumFinish(checksumPartial(b, this.offset, this.length, initial));
    b[at] = hi;
    b[at + 1] = lo;
    return c;
  }

  /** Checksum over pseudo header (`pseudoSum`) + segment, with the checksum field treated as zero. */
  computeChecksum(pseudoSum: number): number {
    if (this.length === 0) return 0;
    return this.checksumWithFieldZeroed(pseudoSum);
  }
  /** Computes and writes the checksum. */
  updateChecksum(pseudoSum: number): void {
    this.checksum = this.computeChecksum(pseudoSum);
  }
  verifyChecksum(pseudoSum: number): boolean {
    return (
      this.length !== 0 &&
      checksumFinish(checksumPartial(this.buf, this.offset, this.length, pseudoSum)) === 0
    );
  }
}

/** Cold-path decode of a TCP segment of `length` bytes (header + payload). */
export function decodeTcp(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
): Decoded<TcpView> {
  const view = new TcpView();
  const code = view.reset(buf, offset, length);
  if (code !== 0) return { ok: false, error: PacketError.fromCode(code, 'tcp', offset) };
  return { ok: true, view };
}
