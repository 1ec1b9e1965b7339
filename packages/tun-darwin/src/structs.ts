/**
 * Byte encoders for the structs tun-darwin passes to the kernel (64-bit darwin layouts, host byte order =
 * little-endian except addresses and ports). Pure functions: golden-byte tests run on any OS.
 */
import { encodeSockaddr, formatIp, parseIp, prefixMask } from '@ztun/routing-darwin';
import {
  AF_SYS_CONTROL,
  AF_SYSTEM,
  IFNAMSIZ,
  IN6_IFF_NODAD,
  IN6_IFF_SECURED,
  MAX_KCTL_NAME,
  ND6_INFINITE_LIFETIME,
  SIZEOF_CTL_INFO,
  SIZEOF_IFALIASREQ,
  SIZEOF_IFREQ,
  SIZEOF_IN6_ALIASREQ,
  SIZEOF_SOCKADDR_CTL,
} from './constants.js';
import { UtunInputError } from './errors.js';

function ascii(text: string, max: number, what: string): Uint8Array {
  if (!/^[\x21-\x7e]*$/.test(text) || text.length === 0 || text.length >= max) {
    throw new UtunInputError(`bad ${what}: ${JSON.stringify(text)} (1-${max - 1} printable ASCII bytes)`);
  }
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** struct ctl_info (100 bytes): ctl_id u32 @0 (filled by the kernel), ctl_name[96] @4. */
export function encodeCtlInfo(name: string): Uint8Array {
  const out = new Uint8Array(SIZEOF_CTL_INFO);
  out.set(ascii(name, MAX_KCTL_NAME, 'control name'), 4);
  return out;
}

export function decodeCtlInfo(buf: Uint8Array): { id: number; name: string } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const nameBytes = buf.subarray(4, 4 + MAX_KCTL_NAME);
  const end = nameBytes.indexOf(0);
  return {
    id: view.getUint32(0, true),
    name: String.fromCharCode(...nameBytes.subarray(0, end < 0 ? nameBytes.length : end)),
  };
}

/**
 * struct sockaddr_ctl (32 bytes): sc_len 32, sc_family AF_SYSTEM (32), ss_sysaddr AF_SYS_CONTROL (2),
 * sc_id, sc_unit (0 = the kernel picks the first free utun; N+1 = utunN), sc_reserved[5].
 */
export function encodeSockaddrCtl(ctlId: number, unit: number): Uint8Array {
  if (!Number.isInteger(unit) || unit < 0 || unit > 0xffffffff)
    throw new UtunInputError(`bad utun unit: ${unit}`);
  const out = new Uint8Array(SIZEOF_SOCKADDR_CTL);
  const view = new DataView(out.buffer);
  out[0] = SIZEOF_SOCKADDR_CTL;
  out[1] = AF_SYSTEM;
  view.setUint16(2, AF_SYS_CONTROL, true);
  view.setUint32(4, ctlId >>> 0, true);
  view.setUint32(8, unit, true);
  return out;
}

/** ifr_name[16] of an ifreq / ifaliasreq / in6_aliasreq. */
function writeIfName(out: Uint8Array, name: string): void {
  out.set(ascii(name, IFNAMSIZ, 'interface name'), 0);
}

/** struct ifreq (32 bytes) with ifr_mtu (int @16): SIOCSIFMTU / SIOCGIFMTU. */
export function encodeIfreqMtu(name: string, mtu: number): Uint8Array {
  if (!Number.isInteger(mtu) || mtu < 0 || mtu > 0x7fffffff) throw new UtunInputError(`bad MTU: ${mtu}`);
  const out = new Uint8Array(SIZEOF_IFREQ);
  writeIfName(out, name);
  new DataView(out.buffer).setInt32(16, mtu, true);
  return out;
}

/** struct ifreq (32 bytes) with ifr_flags (short @16): SIOCSIFFLAGS / SIOCGIFFLAGS. */
export function encodeIfreqFlags(name: string, flags: number): Uint8Array {
  const out = new Uint8Array(SIZEOF_IFREQ);
  writeIfName(out, name);
  new DataView(out.buffer).setUint16(16, flags & 0xffff, true);
  return out;
}

export function decodeIfreqFlags(buf: Uint8Array): number {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint16(16, true);
}

export function decodeIfreqMtu(buf: Uint8Array): number {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getInt32(16, true);
}

export interface InterfaceAddress {
  /** `198.18.0.1/15` or `fd00:18::1/64`. */
  cidr: string;
  /** Point-to-point peer. IPv4: default is the local address itself (as sing-tun does). IPv6: only with /128. */
  peer?: string;
}

function parseInterfaceAddress(address: InterfaceAddress) {
  const slash = address.cidr.indexOf('/');
  const ip = parseIp(slash < 0 ? address.cidr : address.cidr.slice(0, slash));
  const lengthText = slash < 0 ? undefined : address.cidr.slice(slash + 1);
  const max = ip?.family === 'inet6' ? 128 : 32;
  const prefixLength =
    lengthText === undefined ? max : /^[0-9]{1,3}$/.test(lengthText) ? Number(lengthText) : -1;
  if (ip === null || ip.zone !== undefined || prefixLength < 0 || prefixLength > max) {
    throw new UtunInputError(`bad interface address: ${JSON.stringify(address.cidr)}`);
  }
  let peer: Uint8Array | undefined;
  if (address.peer !== undefined) {
    const p = parseIp(address.peer);
    if (p === null || p.family !== ip.family || p.zone !== undefined) {
      throw new UtunInputError(`bad peer ${JSON.stringify(address.peer)} for ${address.cidr}`);
    }
    peer = p.bytes;
  }
  return { family: ip.family, bytes: ip.bytes, prefixLength, peer };
}

/** The family of an interface address (`inet` / `inet6`); throws UtunInputError when it does not parse. */
export function interfaceAddressFamily(address: InterfaceAddress): 'inet' | 'inet6' {
  return parseInterfaceAddress(address).family;
}

/**
 * struct ifaliasreq (64 bytes) for SIOCAIFADDR on an AF_INET socket: ifra_name @0, ifra_addr @16,
 * ifra_broadaddr (the destination on point-to-point utun) @32, ifra_mask @48 — each a full sockaddr_in.
 */
export function encodeIfaliasreq(name: string, address: InterfaceAddress): Uint8Array {
  const a = parseInterfaceAddress(address);
  if (a.family !== 'inet') throw new UtunInputError(`SIOCAIFADDR takes IPv4, got ${address.cidr}`);
  const out = new Uint8Array(SIZEOF_IFALIASREQ);
  writeIfName(out, name);
  encodeSockaddr({ family: 'inet', address: formatIp(a.bytes) }, out, 16);
  encodeSockaddr({ family: 'inet', address: formatIp(a.peer ?? a.bytes) }, out, 32);
  encodeSockaddr({ family: 'inet', address: formatIp(prefixMask('inet', a.prefixLength)) }, out, 48);
  return out;
}

/**
 * struct in6_aliasreq (128 bytes, 64-bit) for SIOCAIFADDR_IN6 on an AF_INET6 socket: ifra_name @0,
 * ifra_addr @16, ifra_dstaddr @44 (left empty unless a /128 has a peer — xnu refuses a destination with any
 * other prefix length), ifra_prefixmask @72, ifra_flags @100 (IN6_IFF_NODAD|IN6_IFF_SECURED, as sing-tun),
 * ifra_lifetime @104 {expire, preferred, vltime, pltime} with infinite lifetimes.
 */
export function encodeIn6Aliasreq(name: string, address: InterfaceAddress): Uint8Array {
  const a = parseInterfaceAddress(address);
  if (a.family !== 'inet6') throw new UtunInputError(`SIOCAIFADDR_IN6 takes IPv6, got ${address.cidr}`);
  if (a.peer !== undefined && a.prefixLength !== 128) {
    throw new UtunInputError(`an IPv6 peer needs a /128 address (xnu), got ${address.cidr}`);
  }
  const out = new Uint8Array(SIZEOF_IN6_ALIASREQ);
  const view = new DataView(out.buffer);
  writeIfName(out, name);
  encodeSockaddr({ family: 'inet6', address: formatIp(a.bytes) }, out, 16);
  if (a.peer) encodeSockaddr({ family: 'inet6', address: formatIp(a.peer) }, out, 44);
  encodeSockaddr({ family: 'inet6', address: formatIp(prefixMask('inet6', a.prefixLength)) }, out, 72);
  view.setInt32(100, IN6_IFF_NODAD | IN6_IFF_SECURED, true);
  // ia6t_expire and ia6t_preferred (time_t, 8 bytes each) stay 0.
  view.setUint32(104 + 16, ND6_INFINITE_LIFETIME, true);
  view.setUint32(104 + 20, ND6_INFINITE_LIFETIME, true);
  return out;
}
