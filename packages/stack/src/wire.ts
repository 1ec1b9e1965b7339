import { buildIcmp, buildUdp, Icmpv4UnreachableCode, Icmpv6UnreachableCode, type IpSpec } from '@ztun/packet';

// Small wire helpers for the stack's own packets (RSTs, UDP replies, ICMP errors) and address text. UDP
// replies and ICMP errors come from @ztun/packet's builders.
// The per-packet NAT rewrite does not use these: it works in place with incremental checksums (stack.ts).

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

/** Parses "a.b.c.d" or an IPv6 text address into 4 or 16 bytes; undefined when it is not one. */
export function parseIp(text: string): Uint8Array | undefined {
  if (text.includes(':')) return parseIpv6(text);
  return parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(input: string): Uint8Array | undefined {
  let text = input;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const out = new Uint8Array(16);
  const words: number[] = [];
  const parseGroup = (g: string): boolean => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
    words.push(Number.parseInt(g, 16));
    return true;
  };
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const toWords = (s: string, allowV4: boolean): number[] | undefined => {
    words.length = 0;
    if (s === '') return [];
    const groups = s.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (allowV4 && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (!v4) return undefined;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (!parseGroup(g)) return undefined;
    }
    return [...words];
  };
  const head = toWords(halves[0]!, halves.length === 1);
  if (!head) return undefined;
  let all: number[];
  if (halves.length === 2) {
    const tail = toWords(halves[1]!, true);
    if (!tail) return undefined;
    if (head.length + tail.length > 7) return undefined;
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    all = head;
  }
  for (let i = 0; i < 8; i++) {
    out[i * 2] = all[i]! >> 8;
    out[i * 2 + 1] = all[i]! & 0xff;
  }
  return out;
}

/** Text form of 4 (IPv4) or 16 (IPv6, RFC 5952 compressed) bytes at `off`. */
export function formatIp(buf: Uint8Array, off: number, family: 4 | 6): string {
  if (family === 4) return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((buf[off + i * 2]! << 8) | buf[off + i * 2 + 1]!);
  // Longest run of zero words (length ≥ 2) becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return w.map((x) => x.toString(16)).join(':');
  const left = w.slice(0, bestStart).map((x) => x.toString(16));
  const right = w.slice(bestStart + bestLen).map((x) => x.toString(16));
  return `${left.join(':')}::${right.join(':')}`;
}

/** Unfolded 16-bit big-endian sum of `len` bytes (odd tail padded with zero). */
export function sum16(buf: Uint8Array, off: number, len: number, acc = 0): number {
  let s = acc;
  const end = off + len;
  let i = off;
  for (; i + 1 < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) s += buf[i]! << 8;
  return s;
}

/** Folds a sum to 16 bits and complements it: the value to store in a checksum field. */
export function finish(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** Sum of the TCP/UDP/ICMPv6 pseudo-header (addresses as 4 or 16 bytes). */
export function pseudoSum(src: Uint8Array, dst: Uint8Array, proto: number, length: number): number {
  let s = sum16(src, 0, src.length) + sum16(dst, 0, dst.length);
  s += proto + (length & 0xffff) + Math.floor(length / 0x10000);
  return s;
}

function writeIpHeader(
  out: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  proto: number,
  payloadLength: number,
): number {
  if (src.length === 4) {
    const total = 20 + payloadLength;
    out[0] = 0x45;
    out[1] = 0;
    out[2] = total >> 8;
    out[3] = total & 0xff;
    out[4] = 0;
    out[5] = 0;
    out[6] = 0x40; // DF
    out[7] = 0;
    out[8] = 64;
    out[9] = proto;
    out[10] = 0;
    out[11] = 0;
    out.set(src, 12);
    out.set(dst, 16);
    const c = finish(sum16(out, 0, 20));
    out[10] = c >> 8;
    out[11] = c & 0xff;
    return 20;
  }
  out[0] = 0x60;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out[4] = payloadLength >> 8;
  out[5] = payloadLength & 0xff;
  out[6] = proto;
  out[7] = 64;
  out.set(src, 8);
  out.set(dst, 24);
  return 40;
}

function ipSpec(src: Uint8Array, dst: Uint8Array): IpSpec {
  if (src.length === 4) {
    const u32 = (b: Uint8Array) => ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    return { version: 4, source: u32(src), destination: u32(dst) };
  }
  return { version: 6, source: src, destination: dst };
}

/** A complete IPv4/IPv6 UDP datagram with valid checksums (built by @ztun/packet). */
export function buildUdpPacket(
  src: Uint8Array,
  sport: number,
  dst: Uint8Array,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const out = new Uint8Array((src.length === 4 ? 20 : 40) + 8 + payload.length);
  const n = buildUdp(out, 0, ipSpec(src, dst), { sourcePort: sport, destinationPort: dport }, payload);
  if (n !== out.length) throw new RangeError(`UDP datagram of ${payload.length} bytes does not fit`);
  return out;
}

/**
 * ICMP (v4: type 3) / ICMPv6 (type 1) destination unreachable quoting `quote` (the offending packet's IP
 * header and at least 8 bytes of its transport header), sent from `src` to `dst` (built by @ztun/packet).
 */
export function buildUnreachable(
  src: Uint8Array,
  dst: Uint8Array,
  quote: Uint8Array,
  reason: 'port' | 'host',
): Uint8Array {
  const v4 = src.length === 4;
  const out = new Uint8Array((v4 ? 20 : 40) + 8 + quote.length);
  const code = v4
    ? reason === 'port'
      ? Icmpv4UnreachableCode.Port
      : Icmpv4UnreachableCode.Host
    : reason === 'port'
      ? Icmpv6UnreachableCode.Port
      : Icmpv6UnreachableCode.Address;
  const n = buildIcmp(out, 0, ipSpec(src, dst), { type: v4 ? 3 : 1, code, restOfHeader: 0 }, quote);
  if (n !== out.length) throw new RangeError('ICMP error does not fit');
  return out;
}

/** IP + 8-byte UDP header of a datagram src:sport → dst:dport (what an ICMP error quotes). */
export function udpQuote(src: Uint8Array, sport: number, dst: Uint8Array, dport: number): Uint8Array {
  const ipLen = src.length === 4 ? 20 : 40;
  const out = new Uint8Array(ipLen + 8);
  writeIpHeader(out, src, dst, PROTO_UDP, 8);
  out[ipLen] = sport >> 8;
  out[ipLen + 1] = sport & 0xff;
  out[ipLen + 2] = dport >> 8;
  out[ipLen + 3] = dport & 0xff;
  out[ipLen + 4] = 0;
  out[ipLen + 5] = 8;
  return out;
}

/** A TCP RST from src:sport to dst:dport (RST+ACK acknowledging `ack`, or a bare RST with `seq`). */
export function buildTcpRst(
  src: Uint8Array,
  sport: number,
  dst: Uint8Array,
  dport: number,
  seq: number,
  ack: number,
  withAck: boolean,
): Uint8Array {
  const ipLen = src.length === 4 ? 20 : 40;
  const out = new Uint8Array(ipLen + 20);
  writeIpHeader(out, src, dst, PROTO_TCP, 20);
  const t = ipLen;
  out[t] = sport >> 8;
  out[t + 1] = sport & 0xff;
  out[t + 2] = dport >> 8;
  out[t + 3] = dport & 0xff;
  out[t + 4] = seq >>> 24;
  out[t + 5] = (seq >>> 16) & 0xff;
  out[t + 6] = (seq >>> 8) & 0xff;
  out[t + 7] = seq & 0xff;
  if (withAck) {
    out[t + 8] = ack >>> 24;
    out[t + 9] = (ack >>> 16) & 0xff;
    out[t + 10] = (ack >>> 8) & 0xff;
    out[t + 11] = ack & 0xff;
  }
  out[t + 12] = 5 << 4;
  out[t + 13] = withAck ? 0x14 : 0x04;
  const c = finish(sum16(out, t, 20, pseudoSum(src, dst, PROTO_TCP, 20)));
  out[t + 16] = c >> 8;
  out[t + 17] = c & 0xff;
  return out;
}
