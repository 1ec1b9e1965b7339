import {
  AF_INET,
  AF_INET6,
  AF_LINK,
  SIZEOF_SOCKADDR_DL,
  SIZEOF_SOCKADDR_IN,
  SIZEOF_SOCKADDR_IN6,
  SIZEOF_SOCKADDR_STORAGE,
} from './constants.js';
import { RouteInputError, RouteMessageError } from './errors.js';
import { formatIp, type IpFamily, parseIp } from './ip.js';

/** sockaddr_in (16 bytes): len, family 2, port (BE), address, zero[8]. */
export interface InetSockaddr {
  family: 'inet';
  address: string;
  port?: number;
}

/** sockaddr_in6 (28 bytes): len, family 30, port (BE), flowinfo (BE), address, scope_id (host order). */
export interface Inet6Sockaddr {
  family: 'inet6';
  address: string;
  port?: number;
  flowinfo?: number;
  scopeId?: number;
}

/** sockaddr_dl (≥ 20 bytes): len, family 18, index (host order), type, nlen, alen, slen, data. */
export interface LinkSockaddr {
  family: 'link';
  index: number;
  /** sdl_type (IFT_*), e.g. 1 for utun (IFT_OTHER) in a kernel capture. */
  type?: number;
  name?: string;
  /** Link-layer address bytes (sdl_alen of them). */
  linkAddress?: Uint8Array;
}

/** A zero-length sockaddr whose family is neither inet nor inet6 (it still occupies 4 bytes). */
export interface EmptySockaddr {
  family: 'empty';
}

/** Any other family, kept as its raw bytes (sa_len of them, sa_len included). */
export interface OtherSockaddr {
  family: 'other';
  familyCode: number;
  bytes: Uint8Array;
}

export type RouteSockaddr = InetSockaddr | Inet6Sockaddr | LinkSockaddr | EmptySockaddr | OtherSockaddr;

/**
 * XNU's ROUNDUP32 (bsd/net/rtsock.c:162-164): sockaddrs are padded to 4 bytes, and a zero length still
 * takes 4 bytes.
 */
export function roundup32(length: number): number {
  return length > 0 ? 1 + ((length - 1) | 3) : 4;
}

function addressBytes(address: string, family: IpFamily): Uint8Array {
  const ip = parseIp(address);
  if (ip === null || ip.family !== family) {
    throw new RouteInputError(
      `not an ${family === 'inet' ? 'IPv4' : 'IPv6'} address: ${JSON.stringify(address)}`,
    );
  }
  return ip.bytes;
}

function checkUint(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new RouteInputError(`${what} out of range: ${value}`);
  return value;
}

/** The number of bytes encodeSockaddr writes before padding (the sa_len it emits). */
export function sockaddrLength(sa: RouteSockaddr): number {
  switch (sa.family) {
    case 'inet':
      return SIZEOF_SOCKADDR_IN;
    case 'inet6':
      return SIZEOF_SOCKADDR_IN6;
    case 'link': {
      const name = sa.name === undefined ? 0 : Buffer.byteLength(sa.name, 'latin1');
      const alen = sa.linkAddress?.length ?? 0;
      // Like the kernel (V2 capture) and route(8): never shorter than the C struct (20 bytes).
      return Math.max(SIZEOF_SOCKADDR_DL, 8 + name + alen);
    }
    case 'empty':
      return 0;
    case 'other':
      return sa.bytes.length;
  }
}

/**
 * Writes one sockaddr at `offset` and zero padding up to ROUNDUP32; returns the bytes consumed.
 * The caller sizes `out` with roundup32(sockaddrLength(sa)).
 */
export function encodeSockaddr(sa: RouteSockaddr, out: Uint8Array, offset: number): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const length = sockaddrLength(sa);
  const space = roundup32(length);
  out.fill(0, offset, offset + space);
  switch (sa.family) {
    case 'inet': {
      out[offset] = SIZEOF_SOCKADDR_IN;
      out[offset + 1] = AF_INET;
      view.setUint16(offset + 2, checkUint(sa.port ?? 0, 0xffff, 'port'), false);
      out.set(addressBytes(sa.address, 'inet'), offset + 4);
      break;
    }
    case 'inet6': {
      out[offset] = SIZEOF_SOCKADDR_IN6;
      out[offset + 1] = AF_INET6;
      view.setUint16(offset + 2, checkUint(sa.port ?? 0, 0xffff, 'port'), false);
      view.setUint32(offset + 4, checkUint(sa.flowinfo ?? 0, 0xffffffff, 'flowinfo'), false);
      out.set(addressBytes(sa.address, 'inet6'), offset + 8);
      view.setUint32(offset + 24, checkUint(sa.scopeId ?? 0, 0xffffffff, 'scope id'), true);
      break;
    }
    case 'link': {
      const name = sa.name === undefined ? new Uint8Array(0) : Buffer.from(sa.name, 'latin1');
      const alen = sa.linkAddress?.length ?? 0;
      if (name.length > 255 || alen > 255 || length > SIZEOF_SOCKADDR_STORAGE) {
        throw new RouteInputError('sockaddr_dl name/address too long');
      }
      out[offset] = length;
      out[offset + 1] = AF_LINK;
      view.setUint16(offset + 2, checkUint(sa.index, 0xffff, 'interface index'), true);
      out[offset + 4] = checkUint(sa.type ?? 0, 0xff, 'sdl_type');
      out[offset + 5] = name.length;
      out[offset + 6] = alen;
      out[offset + 7] = 0;
      out.set(name, offset + 8);
      if (sa.linkAddress) out.set(sa.linkAddress, offset + 8 + name.length);
      break;
    }
    case 'empty':
      break;
    case 'other': {
      if (sa.bytes.length > SIZEOF_SOCKADDR_STORAGE)
        throw new RouteInputError('sockaddr longer than 128 bytes');
      out.set(sa.bytes, offset);
      out[offset] = sa.bytes.length;
      if (sa.bytes.length > 1) out[offset + 1] = checkUint(sa.familyCode, 0xff, 'family');
      break;
    }
  }
  return space;
}

export type DecodedSockaddr =
  | { ok: true; value: RouteSockaddr; next: number }
  | { ok: false; error: RouteMessageError };

function isLinkLocalScoped(bytes: Uint8Array): boolean {
  // fe80::/10 unicast and ff02::/16 (link-local multicast), where KAME embeds the scope in bytes 2-3.
  return (
    (bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80) || (bytes[0] === 0xff && (bytes[1]! & 0x0f) === 0x02)
  );
}

/**
 * Decodes the sockaddr at `offset`. `end` is the end of the enclosing message. `maskFamily` is set for
 * netmask slots (RTAX_NETMASK/GENMASK): the kernel's radix masks are compact (sa_len counts only
 * through the last non-zero byte) and their family byte is unreliable (rn_addmask fills bytes 1..3 of
 * an IPv4 mask with 0xff), so the family comes from the destination instead.
 *
 * Addresses sit at their struct offsets (sin_addr @4, sin6_addr @8) whatever sa_len says; bytes past
 * sa_len read as zero. A link-local IPv6 address with the ifindex embedded in bytes 2-3 (KAME, as the
 * kernel emits it) is returned with those bytes cleared and the index as scopeId.
 */
export function decodeSockaddr(
  buf: Uint8Array,
  offset: number,
  end: number,
  maskFamily?: IpFamily,
): DecodedSockaddr {
  end = Math.min(end, buf.length);
  if (!(offset >= 0) || offset >= end) {
    return {
      ok: false,
      error: new RouteMessageError('SOCKADDR_OVERRUN', 'sockaddr starts past the message', offset),
    };
  }
  const saLen = buf[offset]!;
  if (offset + saLen > end) {
    return {
      ok: false,
      error: new RouteMessageError(
        'SOCKADDR_OVERRUN',
        `sockaddr sa_len ${saLen} runs past the message`,
        offset,
      ),
    };
  }
  if (saLen > SIZEOF_SOCKADDR_STORAGE) {
    return {
      ok: false,
      error: new RouteMessageError(
        'BAD_SOCKADDR',
        `sockaddr sa_len ${saLen} > sizeof(sockaddr_storage)`,
        offset,
      ),
    };
  }
  // The padded slot may be cut short only at the very end of a buffer (no padding after the last one).
  const next = Math.min(offset + roundup32(saLen), end);
  const familyByte = offset + 1 < end ? buf[offset + 1]! : 0;
  const byteAt = (i: number) => (i < saLen ? buf[offset + i]! : 0);
  const family: number = maskFamily
    ? familyByte === AF_INET || familyByte === AF_INET6
      ? familyByte
      : maskFamily === 'inet'
        ? AF_INET
        : AF_INET6
    : familyByte;

  if (family === AF_INET) {
    const bytes = new Uint8Array(4);
    for (let i = 0; i < 4; i++) bytes[i] = byteAt(4 + i);
    const port = (byteAt(2) << 8) | byteAt(3);
    const value: InetSockaddr = { family: 'inet', address: formatIp(bytes) };
    if (port !== 0 && !maskFamily) value.port = port;
    return { ok: true, value, next };
  }
  if (family === AF_INET6) {
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) bytes[i] = byteAt(8 + i);
    const port = (byteAt(2) << 8) | byteAt(3);
    const flowinfo = ((byteAt(4) << 24) | (byteAt(5) << 16) | (byteAt(6) << 8) | byteAt(7)) >>> 0;
    let scopeId = (byteAt(24) | (byteAt(25) << 8) | (byteAt(26) << 16) | (byteAt(27) << 24)) >>> 0;
    if (!maskFamily && isLinkLocalScoped(bytes) && (bytes[2] !== 0 || bytes[3] !== 0)) {
      if (scopeId === 0) scopeId = (bytes[2]! << 8) | bytes[3]!;
      bytes[2] = 0;
      bytes[3] = 0;
    }
    const value: Inet6Sockaddr = { family: 'inet6', address: formatIp(bytes) };
    if (!maskFamily) {
      // Masks have no port, flow or scope of their own (bytes 1-3 of a radix mask are 0xff filler).
      if (port !== 0) value.port = port;
      if (flowinfo !== 0) value.flowinfo = flowinfo;
      if (scopeId !== 0) value.scopeId = scopeId;
    }
    return { ok: true, value, next };
  }
  if (saLen === 0) return { ok: true, value: { family: 'empty' }, next };
  if (family === AF_LINK) {
    const nlen = byteAt(5);
    const alen = byteAt(6);
    const slen = byteAt(7);
    if (8 + nlen + alen + slen > saLen) {
      return {
        ok: false,
        error: new RouteMessageError(
          'BAD_SOCKADDR',
          `sockaddr_dl nlen ${nlen} + alen ${alen} + slen ${slen} exceed sdl_len ${saLen}`,
          offset,
        ),
      };
    }
    const value: LinkSockaddr = { family: 'link', index: byteAt(2) | (byteAt(3) << 8) };
    const type = byteAt(4);
    if (type !== 0) value.type = type;
    if (nlen > 0) value.name = Buffer.from(buf.subarray(offset + 8, offset + 8 + nlen)).toString('latin1');
    if (alen > 0) value.linkAddress = buf.slice(offset + 8 + nlen, offset + 8 + nlen + alen);
    return { ok: true, value, next };
  }
  return {
    ok: true,
    value: { family: 'other', familyCode: familyByte, bytes: buf.slice(offset, offset + saLen) },
    next,
  };
}
