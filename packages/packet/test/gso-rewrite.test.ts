// The NAT rewrite on a TCP super-packet (TSO, issue 17 item 3): the stack rewrites one IP + TCP header in
// front of up to 64 KiB of payload, with the TCP checksum field holding the partial pseudo-header sum, and
// the kernel cuts it into segments afterwards (or delivers it whole). Rewriting the super-packet and then
// segmenting it must give exactly the segments that segmenting first and rewriting each complete segment
// gives — segmentation by the pure model of Linux's tcp_gso_segment in ./tcp-gso-model.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildTcp, type IpSpec, PacketView, rewriteTcpEndpointsAt, TcpFlags } from '../src/index.js';
import { layout, pseudoSum, tcpGsoSegment } from './tcp-gso-model.js';

const ipv4 = fc.integer({ min: 1, max: 0xffffffff });
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const port = fc.integer({ min: 1, max: 65535 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

const superPacket = fc.record({
  v6: fc.boolean(),
  src4: ipv4,
  dst4: ipv4,
  src6: ipv6,
  dst6: ipv6,
  sport: port,
  dport: port,
  seq: u32,
  ack: u32,
  // ACK always (the kernel sends no data without it), FIN/PSH/CWR/ECE at random.
  flags: fc
    .integer({ min: 0, max: 15 })
    .map(
      (f) =>
        TcpFlags.ACK |
        (f & 1 ? TcpFlags.FIN : 0) |
        (f & 2 ? TcpFlags.PSH : 0) |
        (f & 4 ? TcpFlags.CWR : 0) |
        (f & 8 ? TcpFlags.ECE : 0),
    ),
  window: fc.integer({ min: 0, max: 65535 }),
  // TCP options as a TSO sender has them (timestamps: 12 bytes), or none, or odd ones.
  options: fc.oneof(
    fc.constant(new Uint8Array(0)),
    fc.uint8Array({ minLength: 4, maxLength: 12 }).map((o) => o.subarray(0, o.length & ~3)),
  ),
  id: fc.integer({ min: 0, max: 65535 }),
  ttl: fc.integer({ min: 1, max: 255 }),
  gsoSize: fc.integer({ min: 1, max: 1460 }),
  payload: fc.integer({ min: 1, max: 9000 }),
  seed: fc.integer({ min: 0, max: 255 }),
});

const rewrite = fc.record({ src4: ipv4, dst4: ipv4, src6: ipv6, dst6: ipv6, sport: port, dport: port });

type Super = typeof superPacket extends fc.Arbitrary<infer T> ? T : never;
type Rewrite = typeof rewrite extends fc.Arbitrary<infer T> ? T : never;

const bytes4 = (a: number) => Uint8Array.of(a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff);

/** A super-packet as the kernel hands it over with NEEDS_CSUM: valid IP header, partial TCP checksum. */
function build(s: Super): Uint8Array {
  const ip: IpSpec = s.v6
    ? { version: 6, source: s.src6, destination: s.dst6, hopLimit: s.ttl }
    : {
        version: 4,
        source: s.src4,
        destination: s.dst4,
        ttl: s.ttl,
        identification: s.id,
        dontFragment: true,
      };
  const payload = new Uint8Array(s.payload);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + s.seed) & 0xff;
  const out = new Uint8Array(120 + s.payload);
  const n = buildTcp(
    out,
    0,
    ip,
    {
      sourcePort: s.sport,
      destinationPort: s.dport,
      sequenceNumber: s.seq,
      acknowledgmentNumber: s.ack,
      flags: s.flags,
      window: s.window,
      options: s.options,
    },
    payload,
  );
  expect(n).toBeGreaterThan(0);
  const p = out.slice(0, n);
  const { l4 } = layout(p);
  const ps = pseudoSum(p);
  p[l4 + 16] = ps >>> 8;
  p[l4 + 17] = ps & 0xff;
  return p;
}

/** The stack's rewrite (tcp-path.ts): both addresses and both ports, in place. */
function nat(p: Uint8Array, r: Rewrite, v6: boolean, partial: boolean): void {
  const { l4 } = layout(p);
  const src = v6 ? r.src6 : bytes4(r.src4);
  const dst = v6 ? r.dst6 : bytes4(r.dst4);
  rewriteTcpEndpointsAt(p, 0, v6 ? 6 : 4, l4, src, 0, r.sport, dst, 0, r.dport, partial);
}

describe('the NAT rewrite of a TCP super-packet (partial checksum) and segmentation commute', () => {
  it('segment(rewrite(super)) == rewrite of each segment(super), every segment valid', {
    timeout: 120_000,
  }, () => {
    const pv = new PacketView();
    fc.assert(
      fc.property(superPacket, rewrite, (s, r) => {
        const original = build(s);
        // Rewrite first, as the stack does with the super-packet; its IPv4 header checksum stays valid.
        const rewritten = Uint8Array.from(original);
        nat(rewritten, r, s.v6, true);
        expect(pv.reset(rewritten)).toBe(0);
        if (!s.v6) expect(pv.ipv4.verifyHeaderChecksum()).toBe(true);
        expect(pv.tcp.sourcePort).toBe(r.sport);
        expect(pv.tcp.destinationPort).toBe(r.dport);
        const left = tcpGsoSegment(rewritten, s.gsoSize);
        // Segment first (complete checksums), then rewrite each segment with the complete-checksum update.
        const right = tcpGsoSegment(original, s.gsoSize).map((seg) => {
          nat(seg, r, s.v6, false);
          return seg;
        });
        expect(left.length).toBe(Math.ceil(s.payload / s.gsoSize));
        expect(left.map((x) => Array.from(x))).toEqual(right.map((x) => Array.from(x)));
        // And each is a packet any receiver takes: valid checksums, FIN/PSH only on the last.
        left.forEach((seg, i) => {
          expect(pv.reset(seg)).toBe(0);
          expect(pv.verifyTransportChecksum()).toBe(true);
          if (!s.v6) expect(pv.ipv4.verifyHeaderChecksum()).toBe(true);
          const last = i === left.length - 1;
          expect(pv.tcp.fin).toBe(last && (s.flags & TcpFlags.FIN) !== 0);
          expect(pv.tcp.psh).toBe(last && (s.flags & TcpFlags.PSH) !== 0);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('the model itself: segments of an unrewritten super-packet are valid and carry the whole payload', {
    timeout: 120_000,
  }, () => {
    const pv = new PacketView();
    fc.assert(
      fc.property(superPacket, (s) => {
        const p = build(s);
        const { l4, thlen } = layout(p);
        const segs = tcpGsoSegment(p, s.gsoSize);
        const joined = segs.flatMap((seg) => Array.from(seg.subarray(l4 + thlen)));
        expect(joined).toEqual(Array.from(p.subarray(l4 + thlen)));
        segs.forEach((seg, i) => {
          expect(pv.reset(seg)).toBe(0);
          expect(pv.verifyTransportChecksum()).toBe(true);
          expect(pv.tcp.sequenceNumber).toBe((s.seq + i * s.gsoSize) >>> 0);
          if (!s.v6) expect(pv.ipv4.identification).toBe((s.id + i) & 0xffff);
          expect(pv.tcp.cwr).toBe(i === 0 && (s.flags & TcpFlags.CWR) !== 0);
        });
      }),
      { numRuns: 200 },
    );
  });
});
