/**
 * Address text at the API edge, on top of @ztun/packet's parsers (strict dotted quads, RFC 4291/5952
 * IPv6). Adds what the routing API needs around them: a `%zone` on IPv6 gateways and the family tag.
 * Only used when building messages, never per packet.
 */
import { AddressError, formatIp as formatIpBytes, splitZone, tryParseCidr, tryParseIp } from '@ztun/packet';

export type IpFamily = 'inet' | 'inet6';

export interface ParsedIp {
  family: IpFamily;
  bytes: Uint8Array;
  /** IPv6 zone after `%` (name or number), if any. */
  zone?: string;
}

export interface ParsedPrefix {
  family: IpFamily;
  bytes: Uint8Array;
  prefixLength: number;
}

/** Parses `192.0.2.1`, `fd00::1` or `fe80::1%en0`; null when the text is not an address. */
export function parseIp(text: string): ParsedIp | null {
  const [address, zone] = splitZone(text);
  if (zone === '') return null;
  const bytes = tryParseIp(address);
  if (bytes === undefined || (zone !== undefined && bytes.length === 4)) return null;
  if (bytes.length === 4) return { family: 'inet', bytes };
  return zone === undefined ? { family: 'inet6', bytes } : { family: 'inet6', bytes, zone };
}

/** Parses `10.0.0.0/8`, `fd00::/8`, or a bare address (a host prefix). Host bits must be zero. */
export function parsePrefix(text: string): ParsedPrefix | null {
  const cidr = tryParseCidr(text, { strict: true });
  if (cidr instanceof AddressError) return null;
  return {
    family: cidr.version === 4 ? 'inet' : 'inet6',
    bytes: cidr.bytes,
    prefixLength: cidr.prefixLength,
  };
}

/** The netmask bytes of a prefix length. */
export function prefixMask(family: IpFamily, prefixLength: number): Uint8Array {
  const mask = new Uint8Array(family === 'inet' ? 4 : 16);
  for (let i = 0; i < mask.length; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - i * 8));
    mask[i] = (0xff00 >> bits) & 0xff;
  }
  return mask;
}

/** The prefix length of a contiguous netmask, or null when the mask has holes. */
export function maskPrefixLength(mask: Uint8Array): number | null {
  let length = 0;
  let ended = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      if (byte & (1 << bit)) {
        if (ended) return null;
        length++;
      } else {
        ended = true;
      }
    }
  }
  return length;
}

/** 4 bytes → dotted quad, 16 bytes → RFC 5952 text. */
export function formatIp(bytes: Uint8Array): string {
  return formatIpBytes(bytes);
}
