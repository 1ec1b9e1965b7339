/**
 * IPv4/IPv6 addresses and prefixes. Hot paths use numbers (IPv4 as uint32) and bytes compared in place;
 * strings only at the edges (parse once at configuration time, format for logs).
 */

export type AddressErrorKind =
  | 'bad-ipv4'
  | 'bad-ipv6'
  | 'bad-address'
  | 'bad-cidr'
  | 'bad-prefix-length'
  | 'host-bits-set'
  | 'out-of-range';

/** Bad address / prefix input. Thrown by `parse*`, returned by `tryParse*`. */
export class AddressError extends Error {
  override readonly name = 'AddressError';
  constructor(
    readonly kind: AddressErrorKind,
    readonly input: string,
    message: string,
  ) {
    super(message);
  }
}

// ---------- IPv4 ----------

/** Parses strict dotted-quad text ("10.0.0.1"; no leading zeros, no shorthand) to a uint32, or -1. */
export function tryParseIPv4(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return -1; // leading zero
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** Parses dotted-quad text to a uint32; throws {@link AddressError} ('bad-ipv4'). */
export function parseIPv4(text: string): number {
  const v = tryParseIPv4(text);
  if (v < 0) throw new AddressError('bad-ipv4', text, `not an IPv4 address: ${JSON.stringify(text)}`);
  return v;
}

/** Formats a uint32 as dotted quad. */
export function formatIPv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

/** Reads 4 bytes at `offset` as a uint32. */
export function ipv4FromBytes(buf: Uint8Array, offset = 0): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

/** Writes a uint32 address as 4 bytes; returns `out`. */
export function ipv4ToBytes(address: number, out: Uint8Array = new Uint8Array(4), offset = 0): Uint8Array {
  out[offset] = address >>> 24;
  out[offset + 1] = address >>> 16;
  out[offset + 2] = address >>> 8;
  out[offset + 3] = address;
  return out;
}

/** Netmask for a prefix length 0..32 as a uint32. */
export function ipv4PrefixMask(prefixLength: number): number {
  return prefixLength <= 0 ? 0 : prefixLength >= 32 ? 0xffffffff : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** True when `address` is inside `network/prefixLength` (all uint32). */
export function ipv4InPrefix(address: number, network: number, prefixLength: number): boolean {
  const m = ipv4PrefixMask(prefixLength);
  return (address & m) >>> 0 === (network & m) >>> 0;
}

// ---------- IPv6 ----------

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Parses IPv6 text (RFC 4291 §2.2: full, "::"-compressed, trailing dotted IPv4) into `out[offset..+16]`.
 * Returns false on bad input (zone ids "%eth0" are not accepted). No throw, no allocation.
 */
export function tryParseIPv6(text: string, out: Uint8Array, offset = 0): boolean {
  const n = text.length;
  if (n < 2 || n > 45) return false;
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let count = 0; // groups written
  let gap = -1; // group index where "::" sits
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) {
      out.fill(0, offset, offset + 16);
      return true;
    }
  }
  while (i < n) {
    if (count >= 8) return false;
    // Parse one group, or a trailing IPv4.
    let j = i;
    let v = 0;
    while (j < n && j - i < 5) {
      const h = hexValue(text.charCodeAt(j));
      if (h < 0) break;
      v = (v << 4) | h;
      j++;
    }
    if (j < n && text.charCodeAt(j) === 46) {
      // Dotted IPv4 must be last and fit in two groups.
      if (count > 6) return false;
      const v4 = tryParseIPv4(text.slice(i));
      if (v4 < 0) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = n;
      break;
    }
    const len = j - i;
    if (len === 0 || len > 4) return false;
    groups[count++] = v;
    i = j;
    if (i === n) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < n && text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === n) {
      return false; // trailing single ':'
    }
  }
  if (gap < 0) {
    if (count !== 8) return false;
  } else if (count > 7) {
    return false;
  }
  const zeros = 8 - count;
  let k = 0;
  for (let g = 0; g < 8; g++) {
    let value: number;
    if (gap >= 0 && g >= gap && g < gap + zeros) value = 0;
    else value = groups[k++]!;
    out[offset + 2 * g] = value >>> 8;
    out[offset + 2 * g + 1] = value & 0xff;
  }
  return true;
}

/** Parses IPv6 text into 16 bytes (a new array unless `out` is given); throws {@link AddressError}. */
export function parseIPv6(text: string, out: Uint8Array = new Uint8Array(16), offset = 0): Uint8Array {
  if (!tryParseIPv6(text, out, offset)) {
    throw new AddressError('bad-ipv6', text, `not an IPv6 address: ${JSON.stringify(text)}`);
  }
  return out;
}

/** True when `buf[offset..+16]` is an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
export function isIPv4Mapped(buf: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < 10; i++) if (buf[offset + i] !== 0) return false;
  return buf[offset + 10] === 0xff && buf[offset + 11] === 0xff;
}

/** Formats 16 bytes as RFC 5952 text (lowercase, longest zero run compressed, ::ffff:a.b.c.d for v4-mapped). */
export function formatIPv6(buf: Uint8Array, offset = 0): string {
  if (isIPv4Mapped(buf, offset)) return `::ffff:${formatIPv4(ipv4FromBytes(buf, offset + 12))}`;
  let bestStart = -1;
  let bestLen = 0;
  let runStart = -1;
  for (let g = 0; g <= 8; g++) {
    const zero = g < 8 && buf[offset + 2 * g] === 0 && buf[offset + 2 * g + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = g;
    } else if (runStart >= 0) {
      if (g - runStart > bestLen) {
        bestStart = runStart;
        bestLen = g - runStart;
      }
      runStart = -1;
    }
  }
  if (bestLen < 2) bestStart = -1;
  let s = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      s += '::';
      g += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += (((buf[offset + 2 * g]! << 8) | buf[offset + 2 * g + 1]!) >>> 0).toString(16);
  }
  return s;
}

/** True when the 16-byte addresses at `a[aOffset]` and `b[bOffset]` are equal (no strings, no allocation). */
export function ipv6Equal(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

/** Orders two 16-byte addresses: negative, 0 or positive. */
export function compareIPv6(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number): number {
  for (let i = 0; i < 16; i++) {
    const d = a[aOffset + i]! - b[bOffset + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

// ---------- either family ----------

/** Parses IPv4 or IPv6 text to 4 or 16 bytes; throws {@link AddressError} ('bad-address'). */
export function parseIp(text: string): Uint8Array {
  const v4 = tryParseIPv4(text);
  if (v4 >= 0) return ipv4ToBytes(v4);
  const out = new Uint8Array(16);
  if (tryParseIPv6(text, out, 0)) return out;
  throw new AddressError('bad-address', text, `not an IP address: ${JSON.stringify(text)}`);
}

/**
 * Splits an IPv6 zone id off address text (RFC 4007 §11: "fe80::1%en0" → ["fe80::1", "en0"]). The zone is
 * undefined when there is no '%', and '' for a bare trailing '%' (callers reject that).
 */
export function splitZone(text: string): [address: string, zone: string | undefined] {
  const percent = text.indexOf('%');
  return percent < 0 ? [text, undefined] : [text.slice(0, percent), text.slice(percent + 1)];
}

export interface TryParseIpOptions {
  /** Accept an IPv6 zone id ("fe80::1%en0") and leave it out of the bytes. Default false. */
  allowZone?: boolean;
}

/** Parses IPv4 or IPv6 text to 4 or 16 bytes; undefined when it is not one. Never throws. */
export function tryParseIp(text: string, options: TryParseIpOptions = {}): Uint8Array | undefined {
  const v4 = tryParseIPv4(text);
  if (v4 >= 0) return ipv4ToBytes(v4);
  let address = text;
  if (options.allowZone) {
    const [bare, zone] = splitZone(text);
    if (zone === '') return undefined;
    address = bare;
  }
  const out = new Uint8Array(16);
  return tryParseIPv6(address, out, 0) ? out : undefined;
}

/** Formats 4 bytes as IPv4 or 16 bytes as IPv6. */
export function formatIp(bytes: Uint8Array): string {
  return bytes.length === 4 ? formatIPv4(ipv4FromBytes(bytes)) : formatIPv6(bytes);
}

/** An IPv4 or IPv6 prefix ("10.0.0.0/8", "fd00::/8"). Immutable. */
export class Cidr {
  /** 4 or 16 bytes: the address as written (host bits kept unless parsed strictly). */
  readonly bytes: Uint8Array;
  readonly version: 4 | 6;
  readonly prefixLength: number;
  /** IPv4 only: the network address and mask as uint32 (0 for IPv6). */
  readonly ipv4Network: number;
  readonly ipv4Mask: number;
  private readonly masked: Uint8Array;

  constructor(bytes: Uint8Array, prefixLength: number) {
    if (bytes.length !== 4 && bytes.length !== 16) {
      throw new AddressError('bad-address', String(bytes.length), 'an address is 4 or 16 bytes');
    }
    const bits = bytes.length * 8;
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > bits) {
      throw new AddressError('bad-prefix-length', String(prefixLength), `prefix length must be 0..${bits}`);
    }
    this.bytes = Uint8Array.from(bytes);
    this.version = bytes.length === 4 ? 4 : 6;
    this.prefixLength = prefixLength;
    this.masked = Uint8Array.from(bytes);
    maskInPlace(this.masked, prefixLength);
    this.ipv4Mask = this.version === 4 ? ipv4PrefixMask(prefixLength) : 0;
    this.ipv4Network = this.version === 4 ? ipv4FromBytes(this.masked) : 0;
  }

  /** True when the address bytes had host bits set (e.g. "10.0.0.1/8"). */
  get hasHostBits(): boolean {
    for (let i = 0; i < this.bytes.length; i++) if (this.bytes[i] !== this.masked[i]) return true;
    return false;
  }

  /** The prefix with host bits cleared. */
  network(): Cidr {
    return new Cidr(this.masked, this.prefixLength);
  }
  /** Network address bytes (host bits cleared); a copy. */
  networkAddress(): Uint8Array {
    return Uint8Array.from(this.masked);
  }

  /** Number of addresses in the prefix. */
  get size(): bigint {
    return 1n << BigInt(this.bytes.length * 8 - this.prefixLength);
  }

  /** IPv4 hot path: true when the uint32 `address` is inside (always false for an IPv6 prefix). */
  containsIPv4(address: number): boolean {
    return this.version === 4 && (address & this.ipv4Mask) >>> 0 === this.ipv4Network;
  }

  /** IPv6 hot path: true when the 16 bytes at `buf[offset]` are inside (always false for an IPv4 prefix). */
  containsIPv6(buf: Uint8Array, offset = 0): boolean {
    if (this.version !== 6) return false;
    return prefixMatches(this.masked, buf, offset, this.prefixLength);
  }

  /** True when `address` (text, or 4/16 bytes) is inside. Addresses of the other family are not. */
  contains(address: string | Uint8Array): boolean {
    const bytes = typeof address === 'string' ? parseIp(address) : address;
    if (bytes.length !== this.bytes.length) return false;
    return prefixMatches(this.masked, bytes, 0, this.prefixLength);
  }

  /** True when `other` lies entirely inside this prefix. */
  containsCidr(other: Cidr): boolean {
    return (
      other.version === this.version &&
      other.prefixLength >= this.prefixLength &&
      prefixMatches(this.masked, other.masked, 0, this.prefixLength)
    );
  }

  /**
   * The n-th address of the prefix (0 = network address) as new bytes; throws {@link AddressError}
   * ('out-of-range') when n is negative or ≥ size.
   */
  nth(n: number | bigint): Uint8Array {
    const big = BigInt(n);
    if (big < 0n || big >= this.size) {
      throw new AddressError('out-of-range', String(n), `address #${n} is outside ${this.toString()}`);
    }
    const out = Uint8Array.from(this.masked);
    let carry = big;
    for (let i = out.length - 1; i >= 0 && carry > 0n; i--) {
      const sum = BigInt(out[i]!) + (carry & 0xffn);
      out[i] = Number(sum & 0xffn);
      carry = (carry >> 8n) + (sum >> 8n);
    }
    return out;
  }

  /** IPv4 only: the n-th address as a uint32; throws like {@link Cidr.nth}, and for an IPv6 prefix. */
  nthIPv4(n: number): number {
    if (this.version !== 4)
      throw new AddressError('bad-address', this.toString(), 'nthIPv4 needs an IPv4 prefix');
    return ipv4FromBytes(this.nth(n));
  }

  /** Text form with the address as given: "10.0.0.1/8". Use `network().toString()` for the canonical one. */
  toString(): string {
    return `${formatIp(this.bytes)}/${this.prefixLength}`;
  }
}

function maskInPlace(bytes: Uint8Array, prefixLength: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const keep = prefixLength - i * 8;
    if (keep >= 8) continue;
    bytes[i] = keep <= 0 ? 0 : bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
}

function prefixMatches(network: Uint8Array, buf: Uint8Array, offset: number, prefixLength: number): boolean {
  const full = prefixLength >> 3;
  for (let i = 0; i < full; i++) if (buf[offset + i] !== network[i]) return false;
  const rest = prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((buf[offset + full]! & mask) | 0) === network[full];
}

export interface ParseCidrOptions {
  /** Reject addresses with host bits set ("10.0.0.1/8") with kind 'host-bits-set'. Default false. */
  strict?: boolean;
}

/**
 * Parses "addr/len" (IPv4 or IPv6). A bare address means a host prefix (/32 or /128). Returns the prefix
 * or a typed {@link AddressError}; never throws.
 */
export function tryParseCidr(text: string, options: ParseCidrOptions = {}): Cidr | AddressError {
  if (typeof text !== 'string' || text.length === 0) {
    return new AddressError('bad-cidr', String(text), 'empty prefix');
  }
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  let bytes: Uint8Array;
  const v4 = tryParseIPv4(addrText);
  if (v4 >= 0) bytes = ipv4ToBytes(v4);
  else {
    bytes = new Uint8Array(16);
    if (!tryParseIPv6(addrText, bytes, 0)) {
      return new AddressError('bad-address', text, `not an IP address in prefix ${JSON.stringify(text)}`);
    }
  }
  const bits = bytes.length * 8;
  let len = bits;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > bits) {
      return new AddressError(
        'bad-prefix-length',
        text,
        `prefix length in ${JSON.stringify(text)} must be an integer 0..${bits}`,
      );
    }
    len = Number(lenText);
  }
  const cidr = new Cidr(bytes, len);
  if (options.strict && cidr.hasHostBits) {
    return new AddressError(
      'host-bits-set',
      text,
      `${JSON.stringify(text)} has host bits set (network is ${cidr.network()})`,
    );
  }
  return cidr;
}

/** Like {@link tryParseCidr} but throws the {@link AddressError}. */
export function parseCidr(text: string, options: ParseCidrOptions = {}): Cidr {
  const r = tryParseCidr(text, options);
  if (r instanceof AddressError) throw r;
  return r;
}
