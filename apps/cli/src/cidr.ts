import { isIPv4, isIPv6 } from 'node:net';

// Just enough address handling to validate flags and build the plan. Kept here (not @ztun/packet) so the
// CLI's parsing does not depend on a package that is still being written; it is not on any hot path.

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

/** Address bytes (4 or 16) of a valid IPv4/IPv6 literal. */
export function addressBytes(address: string): Uint8Array {
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  if (!isIPv6(address)) throw new CidrError(`'${address}' is not an IPv4 or IPv6 address`);
  let text = address;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const b = dotted[1]!.split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(fill).fill('0'), ...tailGroups];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

/** Canonical text of 4 or 16 address bytes (RFC 5952 for IPv6). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // Longest run (≥ 2) of zero groups becomes '::'.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses `ADDRESS/LEN` (or a bare address, meaning a host prefix when `bareIsHost`). */
export function parseCidr(text: string, opts: { bareIsHost?: boolean } = {}): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addr = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const family: Family | 0 = isIPv4(addr) ? 4 : isIPv6(addr) && !addr.includes('%') ? 6 : 0;
  if (family === 0) throw new CidrError(`'${text}' is not a CIDR: '${addr}' is not an IPv4 or IPv6 address`);
  const max = family === 4 ? 32 : 128;
  let prefixLength = max;
  if (slash < 0) {
    if (!opts.bareIsHost) throw new CidrError(`'${text}' is not a CIDR: missing '/prefix-length'`);
  } else {
    const lenText = trimmed.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
      throw new CidrError(`'${text}' is not a CIDR: prefix length must be 0..${max}`);
    }
    prefixLength = Number(lenText);
  }
  return { family, address: formatAddress(addressBytes(addr)), prefixLength };
}

/** The network of a prefix (host bits cleared). */
export function networkOf(cidr: Cidr): Cidr {
  const bytes = addressBytes(cidr.address);
  for (let bit = cidr.prefixLength; bit < bytes.length * 8; bit++) {
    bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  }
  return { family: cidr.family, address: formatAddress(bytes), prefixLength: cidr.prefixLength };
}

export function formatCidr(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefixLength}`;
}

/** True when `address` lies inside `prefix`. */
export function cidrContains(prefix: Cidr, address: string): boolean {
  const a = addressBytes(address);
  const p = addressBytes(prefix.address);
  if (a.length !== p.length) return false;
  for (let bit = 0; bit < prefix.prefixLength; bit++) {
    const mask = 0x80 >> (bit & 7);
    if ((a[bit >> 3]! & mask) !== (p[bit >> 3]! & mask)) return false;
  }
  return true;
}
