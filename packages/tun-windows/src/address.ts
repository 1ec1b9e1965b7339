/**
 * Addresses and prefixes for the IP Helper rows: thin adapters over @ztun/packet's parsers that carry the
 * family and turn its AddressError into this package's TunError (INVALID_ARGUMENT).
 */
import { AddressError, formatIp as formatBytes, parseIp as parseBytes, tryParseCidr } from '@ztun/packet';
import { TunError } from './errors.js';

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

export interface IpPrefix extends IpAddress {
  readonly prefixLength: number;
}

export function parseIp(text: string): IpAddress {
  try {
    const bytes = parseBytes(text);
    return { family: bytes.length === 4 ? 4 : 6, bytes };
  } catch (err) {
    if (err instanceof AddressError) throw new TunError('INVALID_ARGUMENT', 'IP address', err.message);
    throw err;
  }
}

/**
 * "198.18.0.1/15", "fd00::/8"; a bare address is a host prefix (/32, /128), as in @ztun/packet.
 * With `requireNetwork` (route destinations) host bits must be zero.
 */
export function parsePrefix(text: string, requireNetwork = false): IpPrefix {
  const r = tryParseCidr(text, { strict: requireNetwork });
  if (r instanceof AddressError) throw new TunError('INVALID_ARGUMENT', 'IP prefix', r.message);
  return { family: r.version, bytes: r.bytes, prefixLength: r.prefixLength };
}

export function formatIp(family: IpFamily, bytes: Uint8Array): string {
  return formatBytes(bytes.subarray(0, family === 4 ? 4 : 16));
}
