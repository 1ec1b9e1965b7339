import { NetlinkDecodeError } from '../errors.js';
import {
  NLA_F_NESTED,
  NLA_TYPE_MASK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
} from './constants.js';

// Netlink framing: nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid } in host byte order, then a
// fixed family header, then rtattr TLVs { u16 len; u16 type; payload } each padded to 4 bytes.

/** Netlink integers are in host byte order; addresses inside attributes are in network order. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export const align4 = (n: number): number => (n + 3) & ~3;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Builds one netlink message: header, fixed family struct, attributes (nested ones too). */
export class MessageBuilder {
  // Small on purpose: V8 keeps typed arrays of ≤ 64 bytes on the JS heap, which is far cheaper than an
  // off-heap backing store; most requests fit, larger ones grow.
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  private len = NLMSG_HDRLEN;
  private readonly nests: number[] = [];

  constructor(
    readonly type: number,
    readonly flags: number,
  ) {}

  private reserve(n: number): number {
    const at = this.len;
    const need = at + align4(n);
    if (need > this.buf.length) {
      const next = new Uint8Array(Math.max(need, this.buf.length * 2));
      next.set(this.buf);
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.len = need;
    return at;
  }

  /** Appends the family header (ifinfomsg, rtmsg…), padded to 4 bytes. */
  struct(bytes: Uint8Array): this {
    const at = this.reserve(bytes.length);
    this.buf.set(bytes, at);
    return this;
  }

  attr(type: number, payload: Uint8Array): this {
    const at = this.reserve(4 + payload.length);
    this.view.setUint16(at, 4 + payload.length, HOST_LITTLE_ENDIAN);
    this.view.setUint16(at + 2, type, HOST_LITTLE_ENDIAN);
    this.buf.set(payload, at + 4);
    return this;
  }

  u8(type: number, v: number): this {
    const at = this.reserve(5);
    this.view.setUint16(at, 5, HOST_LITTLE_ENDIAN);
    this.view.setUint16(at + 2, type, HOST_LITTLE_ENDIAN);
    this.buf[at + 4] = v;
    return this;
  }

  u32(type: number, v: number): this {
    const at = this.reserve(8);
    this.view.setUint16(at, 8, HOST_LITTLE_ENDIAN);
    this.view.setUint16(at + 2, type, HOST_LITTLE_ENDIAN);
    this.view.setUint32(at + 4, v >>> 0, HOST_LITTLE_ENDIAN);
    return this;
  }

  /** NUL-terminated string, as the kernel's NLA_STRING / NLA_NUL_STRING policies expect. */
  string(type: number, s: string): this {
    const enc = textEncoder.encode(s);
    const b = new Uint8Array(enc.length + 1);
    b.set(enc);
    return this.attr(type, b);
  }

  /** Opens a nested attribute; close it with endNested(). */
  beginNested(type: number): this {
    const at = this.reserve(4);
    this.view.setUint16(at + 2, type | NLA_F_NESTED, HOST_LITTLE_ENDIAN);
    this.nests.push(at);
    return this;
  }

  endNested(): this {
    const at = this.nests.pop();
    if (at === undefined) throw new Error('endNested without beginNested');
    this.view.setUint16(at, this.len - at, HOST_LITTLE_ENDIAN);
    return this;
  }

  /** The finished message with sequence number and port id filled in. */
  finish(seq: number, pid = 0): Uint8Array {
    if (this.nests.length) throw new Error('unclosed nested attribute');
    const out = this.buf.slice(0, this.len);
    const v = new DataView(out.buffer);
    v.setUint32(0, this.len, HOST_LITTLE_ENDIAN);
    v.setUint16(4, this.type, HOST_LITTLE_ENDIAN);
    v.setUint16(6, this.flags, HOST_LITTLE_ENDIAN);
    v.setUint32(8, seq >>> 0, HOST_LITTLE_ENDIAN);
    v.setUint32(12, pid >>> 0, HOST_LITTLE_ENDIAN);
    return out;
  }
}

export interface NetlinkMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  /** Everything after the 16-byte header (a view into the datagram). */
  readonly payload: Uint8Array;
}

export function dataView(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Splits one received datagram into its netlink messages. */
export function parseMessages(datagram: Uint8Array): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  const v = dataView(datagram);
  let off = 0;
  while (off + NLMSG_HDRLEN <= datagram.length) {
    const len = v.getUint32(off, HOST_LITTLE_ENDIAN);
    if (len < NLMSG_HDRLEN || off + len > datagram.length) {
      throw new NetlinkDecodeError(`netlink message at offset ${off} has bad length ${len}`);
    }
    out.push({
      type: v.getUint16(off + 4, HOST_LITTLE_ENDIAN),
      flags: v.getUint16(off + 6, HOST_LITTLE_ENDIAN),
      seq: v.getUint32(off + 8, HOST_LITTLE_ENDIAN),
      pid: v.getUint32(off + 12, HOST_LITTLE_ENDIAN),
      payload: datagram.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  if (off < datagram.length && datagram.length - off >= 4) {
    // Fewer than 16 bytes left but more than padding: a truncated header.
    throw new NetlinkDecodeError(`netlink datagram has ${datagram.length - off} trailing bytes`);
  }
  return out;
}

/** Attributes by type (flags masked off). A repeated type keeps the last one. */
export type Attrs = Map<number, Uint8Array>;

/** Parses rtattr TLVs from `b` (e.g. a message payload after its fixed header, or a nested attribute). */
export function parseAttrs(b: Uint8Array): Attrs {
  const attrs: Attrs = new Map();
  const v = dataView(b);
  let off = 0;
  while (off + 4 <= b.length) {
    const len = v.getUint16(off, HOST_LITTLE_ENDIAN);
    const type = v.getUint16(off + 2, HOST_LITTLE_ENDIAN) & NLA_TYPE_MASK;
    if (len < 4 || off + len > b.length) {
      throw new NetlinkDecodeError(`attribute type ${type} at offset ${off} has bad length ${len}`);
    }
    attrs.set(type, b.subarray(off + 4, off + len));
    off += align4(len);
  }
  return attrs;
}

/** parseAttrs for optional nested content: a malformed nest yields no attributes instead of failing the message. */
export function parseNestedAttrs(b: Uint8Array): Attrs {
  try {
    return parseAttrs(b);
  } catch (err) {
    if (err instanceof NetlinkDecodeError) return new Map();
    throw err;
  }
}

export function attrU32(a: Uint8Array | undefined): number | undefined {
  if (!a || a.length < 4) return undefined;
  return dataView(a).getUint32(0, HOST_LITTLE_ENDIAN);
}

export function attrU8(a: Uint8Array | undefined): number | undefined {
  return a && a.length >= 1 ? a[0] : undefined;
}

export function attrString(a: Uint8Array | undefined): string | undefined {
  if (!a) return undefined;
  const nul = a.indexOf(0);
  return textDecoder.decode(nul < 0 ? a : a.subarray(0, nul));
}

export interface ErrorPayload {
  /** 0 for an ack, otherwise a positive errno. */
  readonly errno: number;
  /** Sequence number of the request this answers (from the echoed header). */
  readonly seq: number;
  /** NLMSGERR_ATTR_MSG from extended acks. */
  readonly kernelMessage: string | undefined;
  /** NLMSGERR_ATTR_OFFS: offset of the offending attribute in the request. */
  readonly badAttrOffset: number | undefined;
}

/** Decodes NLMSG_ERROR: { int error; struct nlmsghdr request [+ payload unless capped]; [ext-ack TLVs] }. */
export function parseError(msg: NetlinkMessage): ErrorPayload {
  const p = msg.payload;
  if (p.length < 4 + NLMSG_HDRLEN) throw new NetlinkDecodeError('NLMSG_ERROR payload too short');
  const v = dataView(p);
  const error = v.getInt32(0, HOST_LITTLE_ENDIAN);
  const reqLen = v.getUint32(4, HOST_LITTLE_ENDIAN);
  const seq = v.getUint32(4 + 8, HOST_LITTLE_ENDIAN);
  let kernelMessage: string | undefined;
  let badAttrOffset: number | undefined;
  if (msg.flags & NLM_F_ACK_TLVS) {
    const tlvStart = 4 + (msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(reqLen));
    if (tlvStart <= p.length) {
      const attrs = parseAttrs(p.subarray(tlvStart));
      kernelMessage = attrString(attrs.get(NLMSGERR_ATTR_MSG));
      badAttrOffset = attrU32(attrs.get(NLMSGERR_ATTR_OFFS));
    }
  }
  return { errno: -error, seq, kernelMessage, badAttrOffset };
}

/** The `int error` of NLMSG_DONE (0, or a negative errno when the dump itself failed). */
export function parseDoneErrno(msg: NetlinkMessage): number {
  if (msg.payload.length < 4) return 0;
  return -dataView(msg.payload).getInt32(0, HOST_LITTLE_ENDIAN);
}

/** Little helper for fixed family headers. */
export class StructWriter {
  readonly bytes: Uint8Array;
  private readonly v: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.v = new DataView(this.bytes.buffer);
  }
  u8(off: number, x: number): this {
    this.v.setUint8(off, x);
    return this;
  }
  u16(off: number, x: number): this {
    this.v.setUint16(off, x, HOST_LITTLE_ENDIAN);
    return this;
  }
  u32(off: number, x: number): this {
    this.v.setUint32(off, x >>> 0, HOST_LITTLE_ENDIAN);
    return this;
  }
  i32(off: number, x: number): this {
    this.v.setInt32(off, x, HOST_LITTLE_ENDIAN);
    return this;
  }
}
