/**
 * TEMPORARY: a tiny IPv4/IPv6 text parser and formatter, to be replaced by @ztun/packet's address
 * helpers once they exist (packages/packet is being written in parallel and has none yet). Not used on
 * any per-packet path: only when building route messages and interface requests.
 */

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

function parseV4Into(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return false;
    const value = Number(part);
    if (value > 255) return false;
    out[at + i] = value;
  }
  return true;
}

function parseV6(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!parseV4Into(g, v4, 0)) return null;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      words.push(Number.parseInt(g, 16));
    }
    return words;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1 && head.length !== 8) return null;
  if (halves.length === 2 && head.length + tail.length > 7) return null;
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  return out;
}

/** Parses `192.0.2.1`, `fd00::1` or `fe80::1%en0`; returns null when the text is not an address. */
export function parseIp(text: string): ParsedIp | null {
  if (text.includes(':')) {
    const percent = text.indexOf('%');
    const zone = percent >= 0 ? text.slice(percent + 1) : undefined;
    if (zone === '') return null;
    const bytes = parseV6(percent >= 0 ? text.slice(0, percent) : text);
    if (bytes === null) return null;
    return zone === undefined ? { family: 'inet6', bytes } : { family: 'inet6', bytes, zone };
  }
  const bytes = new Uint8Array(4);
  return parseV4Into(text, bytes, 0) ? { family: 'inet', bytes } : null;
}

/** Parses `10.0.0.0/8`, `fd00::/8`, or a bare address (a host prefix). Host bits must be zero. */
export function parsePrefix(text: string): ParsedPrefix | null {
  const slash = text.indexOf('/');
  const ip = parseIp(slash >= 0 ? text.slice(0, slash) : text);
  if (ip === null || ip.zone !== undefined) return null;
  const max = ip.bytes.length * 8;
  let prefixLength = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return null;
    prefixLength = Number(lenText);
    if (prefixLength > max) return null;
  }
  const mask = prefixMask(ip.family, prefixLength);
  for (let i = 0; i < ip.bytes.length; i++) {
    if ((ip.bytes[i]! & ~mask[i]!) !== 0) return null;
  }
  return { family: ip.family, bytes: ip.bytes, prefixLength };
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

export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run (≥ 2) of zero words, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    words
      .slice(from, to)
      .map((w) => w.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}
