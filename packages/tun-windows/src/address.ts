/**
 * TEMPORARY: a tiny private IPv4/IPv6 address and prefix parser, until @ztun/packet exports its address/CIDR
 * helpers (packages/packet is being written in parallel). Replace with those and delete this file.
 */
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

function bad(what: string, text: string): TunError {
  return new TunError('INVALID_ARGUMENT', what, `${JSON.stringify(text)} is not a valid ${what}`);
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  if (text.includes('%')) return null; // zones are not addresses we configure
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const words: number[] = [];
  const all = [...head, ...(halves.length === 2 ? ['::'] : []), ...tail];
  let embedded: Uint8Array | null = null;
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    if (g === '::') {
      words.push(-1);
      continue;
    }
    if (i === all.length - 1 && g.includes('.')) {
      embedded = parseIpv4(g);
      if (!embedded) return null;
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    words.push(Number.parseInt(g, 16));
  }
  const explicit = words.filter((w) => w >= 0).length + (embedded ? 2 : 0);
  const gap = words.includes(-1) ? 8 - explicit : 0;
  if (halves.length === 2 ? gap < 1 : explicit !== 8) return null;
  const out = new Uint8Array(16);
  let o = 0;
  for (const w of words) {
    if (w < 0) {
      o += gap * 2;
      continue;
    }
    out[o++] = w >> 8;
    out[o++] = w & 0xff;
  }
  if (embedded) out.set(embedded, o);
  return out;
}

export function parseIp(text: string): IpAddress {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  if (v6) return { family: 6, bytes: v6 };
  throw bad('IP address', text);
}

/** "a.b.c.d/n" or "x::y/n". With `requireNetwork`, host bits must be zero (route destinations). */
export function parsePrefix(text: string, requireNetwork = false): IpPrefix {
  const slash = text.indexOf('/');
  if (slash < 0 || !/^[0-9]{1,3}$/.test(text.slice(slash + 1))) throw bad('IP prefix', text);
  let addr: IpAddress;
  try {
    addr = parseIp(text.slice(0, slash));
  } catch {
    throw bad('IP prefix', text);
  }
  const prefixLength = Number(text.slice(slash + 1));
  if (prefixLength > addr.bytes.length * 8) throw bad('IP prefix', text);
  if (requireNetwork) {
    for (let bit = prefixLength; bit < addr.bytes.length * 8; bit++) {
      if (addr.bytes[bit >> 3]! & (0x80 >> (bit & 7))) {
        throw new TunError(
          'INVALID_ARGUMENT',
          'IP prefix',
          `${JSON.stringify(text)} has host bits set beyond /${prefixLength}`,
        );
      }
    }
  }
  return { ...addr, prefixLength };
}

export function formatIp(family: IpFamily, bytes: Uint8Array): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  // Longest run of zero words (length >= 2) becomes "::" (RFC 5952).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}
