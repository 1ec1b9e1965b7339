// The simulated XNU's own reading and writing of routing messages, written from xnu's headers and
// rtsock.c independently of @ztun/routing-darwin's codec (a model that reused the product's codec would
// agree with any mistake in it). Layouts: xnu bsd/net/route.h (rt_msghdr, 92 bytes), bsd/net/if_dl.h
// (sockaddr_dl), netinet/in.h and netinet6/in6.h; padding: rtsock.c ROUNDUP32.

export const RTM_VERSION = 5;
export const RTM_ADD = 0x1;
export const RTM_DELETE = 0x2;
export const RTM_CHANGE = 0x3;
export const RTM_GET = 0x4;
export const RTM_IFINFO = 0xe;
export const RTF_UP = 0x1;
export const RTF_GATEWAY = 0x2;
export const RTF_HOST = 0x4;
export const RTF_DONE = 0x40;
export const RTF_STATIC = 0x800;
export const RTF_PROTO1 = 0x8000;
export const RTF_IFSCOPE = 0x1000000;
export const RTA_DST = 0x1;
export const RTA_GATEWAY = 0x2;
export const RTA_NETMASK = 0x4;
export const RTA_IFP = 0x10;
export const AF_INET = 2;
export const AF_LINK = 18;
export const AF_INET6 = 30;
export const HEADER_BYTES = 92;

/** xnu's errno numbers the model answers with (bsd/sys/errno.h). */
export const XnuErrno = {
  EPERM: 1,
  ESRCH: 3,
  EINTR: 4,
  EBADF: 9,
  EEXIST: 17,
  EINVAL: 22,
  EAGAIN: 35,
  EPROTONOSUPPORT: 43,
  ENETUNREACH: 51,
  ENOBUFS: 55,
  EOPNOTSUPP: 102,
} as const;

export type XnuSockaddr =
  | { kind: 'inet'; family: 4 | 6; addr: Uint8Array; scopeId: number }
  | { kind: 'link'; index: number; name: string }
  /** Raw bytes of a sockaddr the model does not interpret (netmasks are read against the dst's family). */
  | { kind: 'raw'; bytes: Uint8Array };

export interface XnuMessage {
  type: number;
  index: number;
  flags: number;
  pid: number;
  seq: number;
  errno: number;
  /** By RTAX slot: 0 DST, 1 GATEWAY, 2 NETMASK, 4 IFP … */
  addrs: (XnuSockaddr | undefined)[];
}

export const roundup32 = (n: number): number => (n > 0 ? 1 + ((n - 1) | 3) : 4);

function readSockaddr(b: Uint8Array, at: number): XnuSockaddr {
  const len = b[at]!;
  const family = b[at + 1]!;
  const bytes = b.slice(at, at + len);
  if (family === AF_INET && len >= 8)
    return { kind: 'inet', family: 4, addr: b.slice(at + 4, at + 8), scopeId: 0 };
  if (family === AF_INET6 && len >= 28) {
    const scopeId = new DataView(b.buffer, b.byteOffset + at + 24, 4).getUint32(0, true);
    return { kind: 'inet', family: 6, addr: b.slice(at + 8, at + 24), scopeId };
  }
  if (family === AF_LINK && len >= 8) {
    const index = b[at + 2]! | (b[at + 3]! << 8);
    const nlen = b[at + 5]!;
    return { kind: 'link', index, name: Buffer.from(b.subarray(at + 8, at + 8 + nlen)).toString('latin1') };
  }
  return { kind: 'raw', bytes };
}

/** Mask bytes of a netmask sockaddr for `family`, reading only what sa_len covers (compact masks). */
export function maskBytes(sa: XnuSockaddr | undefined, family: 4 | 6): Uint8Array | undefined {
  if (sa === undefined) return undefined;
  const out = new Uint8Array(family === 4 ? 4 : 16);
  if (sa.kind === 'inet') {
    out.set(sa.addr.subarray(0, out.length));
    return out;
  }
  if (sa.kind !== 'raw') return undefined;
  const start = family === 4 ? 4 : 8;
  for (let i = 0; i < out.length && start + i < sa.bytes.length; i++) out[i] = sa.bytes[start + i]!;
  return out;
}

/** Parses one message as route_output does; an errno for what rtsock.c refuses (EINVAL, EPROTONOSUPPORT). */
export function decodeMessage(b: Uint8Array): { message: XnuMessage } | { refused: number } {
  if (b.length < HEADER_BYTES) return { refused: XnuErrno.EINVAL };
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  if (v.getUint16(0, true) !== b.length) return { refused: XnuErrno.EINVAL }; // rtsock.c:353-357
  if (b[2] !== RTM_VERSION) return { refused: XnuErrno.EPROTONOSUPPORT }; // rtsock.c:375-378
  const msg: XnuMessage = {
    type: b[3]!,
    index: v.getUint16(4, true),
    flags: v.getInt32(8, true),
    pid: v.getInt32(16, true),
    seq: v.getInt32(20, true),
    errno: v.getInt32(24, true),
    addrs: [],
  };
  const present = v.getInt32(12, true);
  let at = HEADER_BYTES;
  for (let slot = 0; slot < 8; slot++) {
    if ((present & (1 << slot)) === 0) continue;
    if (at >= b.length) return { refused: XnuErrno.EINVAL };
    const len = b[at]!;
    if (len === 0) break; // rtsock.c:1248-1251: a zero sa_len stops parsing
    if (at + len > b.length) return { refused: XnuErrno.EINVAL };
    msg.addrs[slot] = readSockaddr(b, at);
    at += roundup32(len);
  }
  return { message: msg };
}

function writeSockaddr(sa: XnuSockaddr, compactMaskFamily?: 4 | 6): Uint8Array {
  if (sa.kind === 'raw') return sa.bytes;
  if (sa.kind === 'link') {
    const name = Buffer.from(sa.name, 'latin1');
    const out = new Uint8Array(Math.max(20, 8 + name.length)); // the kernel emits ≥ 20 (if_dl.h)
    out[0] = out.length;
    out[1] = AF_LINK;
    out[2] = sa.index & 0xff;
    out[3] = sa.index >> 8;
    out[5] = name.length;
    out.set(name, 8);
    return out;
  }
  const full = new Uint8Array(sa.family === 4 ? 16 : 28);
  full[1] = sa.family === 4 ? AF_INET : AF_INET6;
  full.set(sa.addr, sa.family === 4 ? 4 : 8);
  if (sa.family === 6) new DataView(full.buffer).setUint32(24, sa.scopeId, true);
  full[0] = full.length;
  if (compactMaskFamily === undefined) return full;
  // Kernel netmasks are compact: sa_len stops at the last non-zero byte (golang/net address_darwin_test.go).
  let last = -1;
  for (let i = 2; i < full.length; i++) if (full[i] !== 0) last = i;
  const out = full.slice(0, Math.max(last + 1, 4));
  out[0] = last < 0 ? 0 : last + 1;
  return out;
}

/** Encodes a message as the kernel emits it (echoes, RTM_GET replies, NET_RT_DUMP entries). */
export function encodeMessage(m: XnuMessage, maskFamily?: 4 | 6): Uint8Array {
  const parts: Uint8Array[] = [];
  let present = 0;
  m.addrs.forEach((sa, slot) => {
    if (!sa) return;
    present |= 1 << slot;
    parts.push(writeSockaddr(sa, slot === 2 ? maskFamily : undefined));
  });
  const total = HEADER_BYTES + parts.reduce((n, p) => n + roundup32(p.length === 0 ? 0 : p[0]!), 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint16(0, total, true);
  out[2] = RTM_VERSION;
  out[3] = m.type;
  v.setUint16(4, m.index, true);
  v.setInt32(8, m.flags, true);
  v.setInt32(12, present, true);
  v.setInt32(16, m.pid, true);
  v.setInt32(20, m.seq, true);
  v.setInt32(24, m.errno, true);
  let at = HEADER_BYTES;
  for (const p of parts) {
    out.set(p, at);
    at += roundup32(p[0]!);
  }
  return out;
}

/** An if_msghdr-sized message of another type (RTM_IFINFO…): what a route socket also carries. */
export function interfaceMessage(type: number, index: number): Uint8Array {
  const out = new Uint8Array(112);
  new DataView(out.buffer).setUint16(0, out.length, true);
  out[2] = RTM_VERSION;
  out[3] = type;
  new DataView(out.buffer).setUint16(12, index, true);
  return out;
}
