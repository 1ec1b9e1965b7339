import { formatIp as packetFormatIp, tryParseCidr } from '@ztun/packet';

// The family-tagged view of @ztun/packet's address helpers that the codec works with.

/** 4 = IPv4, 6 = IPv6. */
export type Family = 4 | 6;

export interface IpAddress {
  readonly family: Family;
  /** Network byte order, 4 or 16 bytes. */
  readonly bytes: Uint8Array;
}

export interface IpPrefix extends IpAddress {
  readonly prefixLength: number;
}

/** Parses `addr/len` (or a bare address, meaning a host prefix); undefined when malformed. */
export function parseCidr(s: string): IpPrefix | undefined {
  const c = tryParseCidr(s);
  if (c instanceof Error) return undefined;
  return { family: c.version, bytes: c.bytes, prefixLength: c.prefixLength };
}

/** Parses a plain IPv4 or IPv6 address (no prefix length); undefined when it is not one. */
export function parseIp(s: string): IpAddress | undefined {
  if (s.includes('/')) return undefined;
  const p = parseCidr(s);
  return p ? { family: p.family, bytes: p.bytes } : undefined;
}

/** True when bits beyond prefixLength are all zero. */
export function isNetworkAddress(p: IpPrefix): boolean {
  for (let bit = p.prefixLength; bit < p.bytes.length * 8; bit++) {
    if (p.bytes[bit >> 3]! & (0x80 >> (bit & 7))) return false;
  }
  return true;
}

/** Canonical text: dotted quad, or RFC 5952 IPv6. Other lengths are described, never thrown on. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length !== 4 && bytes.length !== 16) return `<${bytes.length}-byte address>`;
  return packetFormatIp(bytes);
}
