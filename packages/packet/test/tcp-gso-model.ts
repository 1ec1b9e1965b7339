// A small pure model of what Linux does to a TCP super-packet it must cut into segments (TSO/GSO): the
// reference the GSO rewrite property test compares against. Sources: net/ipv4/tcp_offload.c
// tcp_gso_segment (per-segment seq, FIN/PSH only on the last, CWR only on the first, the checksum field's
// pseudo-header sum adjusted for each segment's length and then completed), net/ipv4/af_inet.c
// inet_gso_segment (IPv4 id + i unless fixed, tot_len, ip_send_check), net/ipv6/ip6_offload.c
// ipv6_gso_segment (payload_len). Its own byte-wise one's-complement sum: nothing shared with the code under
// test but the input bytes.

function sum16(b: Uint8Array, from: number, to: number, initial = 0): number {
  let s = initial;
  let i = from;
  for (; i + 1 < to; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i < to) s += b[i]! << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

const r16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
function w16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

/** Offsets of a TCP super-packet: IP header length, TCP header length, payload length. */
export function layout(p: Uint8Array): { l4: number; thlen: number; payload: number; v6: boolean } {
  const v6 = p[0]! >> 4 === 6;
  const l4 = v6 ? 40 : (p[0]! & 0x0f) * 4;
  const thlen = (p[l4 + 12]! >> 4) * 4;
  return { l4, thlen, payload: p.length - l4 - thlen, v6 };
}

/**
 * The folded, uncomplemented pseudo-header sum the kernel leaves in the TCP checksum field of a
 * CHECKSUM_PARTIAL skb (__tcp_v4_send_check / __tcp_v6_send_check) for `p` as it stands.
 */
export function pseudoSum(p: Uint8Array): number {
  const { l4, v6 } = layout(p);
  const tcpLength = p.length - l4;
  const addresses = v6 ? sum16(p, 8, 40) : sum16(p, 12, 20);
  return fold(addresses + 6 + tcpLength);
}

/**
 * Cuts the super-packet `p` (TCP checksum field: the partial pseudo sum of `p`'s length) into segments of
 * `gsoSize` payload bytes, as tcp_gso_segment + inet/ipv6_gso_segment do, every checksum completed.
 */
export function tcpGsoSegment(p: Uint8Array, gsoSize: number): Uint8Array[] {
  const { l4, thlen, payload, v6 } = layout(p);
  const header = l4 + thlen;
  const segments: Uint8Array[] = [];
  const count = Math.max(1, Math.ceil(payload / gsoSize));
  const seq0 = ((p[l4 + 4]! << 24) | (p[l4 + 5]! << 16) | (p[l4 + 6]! << 8) | p[l4 + 7]!) >>> 0;
  const oldLength = p.length - l4;
  const check = r16(p, l4 + 16);
  for (let i = 0; i < count; i++) {
    const from = header + i * gsoSize;
    const to = Math.min(p.length, from + gsoSize);
    const s = new Uint8Array(header + (to - from));
    s.set(p.subarray(0, header), 0);
    s.set(p.subarray(from, to), header);
    // TCP: seq advances by gso_size; FIN and PSH only on the last segment, CWR only on the first.
    const seq = (seq0 + i * gsoSize) >>> 0;
    s[l4 + 4] = seq >>> 24;
    s[l4 + 5] = (seq >>> 16) & 0xff;
    s[l4 + 6] = (seq >>> 8) & 0xff;
    s[l4 + 7] = seq & 0xff;
    if (i < count - 1) s[l4 + 13]! &= ~0x09; // FIN 0x01, PSH 0x08
    if (i > 0) s[l4 + 13]! &= ~0x80; // CWR
    // The partial sum, moved from the super-packet's length to this segment's (one's-complement delta).
    const segLength = s.length - l4;
    const partial = fold(check + (~oldLength & 0xffff) + segLength);
    w16(s, l4 + 16, partial);
    // Completed as a NIC (or skb_checksum_help) does: the sum from the TCP header on, complemented.
    w16(s, l4 + 16, ~fold(sum16(s, l4, s.length)) & 0xffff);
    if (v6) {
      w16(s, 4, s.length - 40);
    } else {
      w16(s, 2, s.length);
      w16(s, 4, (r16(p, 4) + i) & 0xffff); // the IPv4 id increments per segment
      w16(s, 10, 0);
      w16(s, 10, ~fold(sum16(s, 0, l4)) & 0xffff);
    }
    segments.push(s);
  }
  return segments;
}
