import { formatIp, Cidr as Prefix, tryParseCidr, tryParseIp } from '@ztun/packet';

// The CLI's flag-level view of prefixes (text in, text out, a CidrError naming the flag value), on top of
// @ztun/packet's parsers and RFC 5952 formatter. Not on any hot path.

export type Family = 4 | 6;

export interface Cidr {
  readonly family: Family;
  /** The address as written (canonical form), e.g. 198.18.0.1 or fd00::1. */
  readonly address: string;
  readonly prefixLength: number;
}

export class CidrError extends Error {
  override readonly name = 'CidrError';
}

/** Address bytes (4 or 16) of a valid IPv4/IPv6 literal (an IPv6 `%zone` is accepted and dropped). */
export function addressBytes(address: string): Uint8Array {
  const bytes = tryParseIp(address, { allowZone: true });
  if (!bytes) throw new CidrError(`'${address}' is not an IPv4 or IPv6 address`);
  return bytes;
}

/** 4 or 6 for an IPv4 or IPv6 literal (an IPv6 `%zone` allowed), 0 for anything else (a host name). */
export function ipFamily(text: string): 0 | Family {
  const bytes = tryParseIp(text, { allowZone: true });
  return bytes === undefined ? 0 : bytes.length === 4 ? 4 : 6;
}

/** Canonical text of 4 or 16 address bytes (RFC 5952 for IPv6, ::ffff:a.b.c.d for IPv4-mapped: §5). */
export function formatAddress(bytes: Uint8Array): string {
  return formatIp(bytes);
}

/** Parses `ADDRESS/LEN` (or a bare address, meaning a host prefix when `bareIsHost`). */
export function parseCidr(text: string, opts: { bareIsHost?: boolean } = {}): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addr = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const bytes = tryParseIp(addr);
  if (!bytes) throw new CidrError(`'${text}' is not a CIDR: '${addr}' is not an IPv4 or IPv6 address`);
  if (slash < 0 && !opts.bareIsHost) throw new CidrError(`'${text}' is not a CIDR: missing '/prefix-length'`);
  const parsed = tryParseCidr(trimmed);
  if (parsed instanceof Error) {
    throw new CidrError(`'${text}' is not a CIDR: prefix length must be 0..${bytes.length * 8}`);
  }
  return { family: parsed.version, address: formatIp(parsed.bytes), prefixLength: parsed.prefixLength };
}

function toPrefix(cidr: Cidr): Prefix {
  return new Prefix(addressBytes(cidr.address), cidr.prefixLength);
}

/** The network of a prefix (host bits cleared). */
export function networkOf(cidr: Cidr): Cidr {
  return {
    family: cidr.family,
    address: formatIp(toPrefix(cidr).networkAddress()),
    prefixLength: cidr.prefixLength,
  };
}

export function formatCidr(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefixLength}`;
}

/** True when `address` lies inside `prefix` (an address of the other family never does). */
export function cidrContains(prefix: Cidr, address: string): boolean {
  return toPrefix(prefix).contains(addressBytes(address));
}
