import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildIcmp,
  buildTcp,
  buildUdp,
  checksumFinish,
  checksumFold,
  checksumPartial,
  decodePacket,
  type IpSpec,
  PacketError,
  PacketView,
  ParseCode,
  pseudoHeaderSumV4At,
  pseudoHeaderSumV6,
  rewriteDestinationPort,
  rewriteIcmpEchoIdentifier,
  rewriteIPv4Destination,
  rewriteIPv4Endpoints,
  rewriteIPv4Source,
  rewriteIPv6Destination,
  rewriteIPv6Endpoints,
  rewriteIPv6Source,
  rewriteSourcePort,
  rewriteTcpEndpointsAt,
} from '../src/index.js';

const CODES = new Set<number>(Object.values(ParseCode));

/** Every readable field of every view of `pv`, as one array (reads all getters). */
function snapshot(pv: PacketView): unknown[] {
  const out: unknown[] = [pv.version, pv.protocol, pv.transport, pv.transportOffset, pv.transportLength];
  const seen = new Set<string>();
  for (const view of [pv.ipv4, pv.ipv6, pv.tcp, pv.udp, pv.icmpv4, pv.icmpv6] as object[]) {
    let proto = Object.getPrototypeOf(view);
    while (proto && proto !== Object.prototype) {
      for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
        if (d.get && !seen.has(`${proto.constructor.name}.${name}`)) {
          seen.add(`${proto.constructor.name}.${name}`);
          out.push(name, (view as Record<string, unknown>)[name]);
        }
      }
      proto = Object.getPrototypeOf(proto);
    }
    seen.clear();
  }
  out.push(pv.ipv4.verifyHeaderChecksum(), pv.verifyTransportChecksum(), pv.tcp.mss, pv.tcp.windowScale);
  return out;
}

/**
 * Parses `bytes` placed inside a larger buffer, checks the result is either 0 with every view inside the
 * packet, or a known error code; then scrambles every byte outside the validated packet and checks that no
 * field changed (so no accessor reads outside it). Never throws.
 */
function checkParse(bytes: Uint8Array, pre: number, post: number): number {
  const buf = new Uint8Array(pre + bytes.length + post).fill(0x5a);
  buf.set(bytes, pre);
  const pv = new PacketView();
  const code = pv.reset(buf, pre, bytes.length);
  expect(CODES.has(code)).toBe(true);
  const d = decodePacket(buf, pre, bytes.length);
  expect(d.ok).toBe(code === 0);
  if (!d.ok) {
    expect(d.error).toBeInstanceOf(PacketError);
    expect(d.error.kind).toMatch(/^[a-z-]+$/);
    return code;
  }
  const ip = pv.version === 4 ? pv.ipv4 : pv.ipv6;
  const start = ip.offset;
  const end = ip.offset + ip.length;
  expect(start).toBe(pre);
  expect(end).toBeLessThanOrEqual(pre + bytes.length);
  expect(pv.transportOffset).toBeGreaterThanOrEqual(start);
  expect(pv.transportOffset + pv.transportLength).toBe(end);
  for (const v of [pv.tcp, pv.udp, pv.icmpv4, pv.icmpv6]) {
    if (v.valid) {
      expect(v.offset).toBe(pv.transportOffset);
      expect(v.offset + v.length).toBeLessThanOrEqual(end);
      expect(v.payloadOffset + v.payloadLength).toBeLessThanOrEqual(end);
      expect(v.payloadLength).toBeGreaterThanOrEqual(0);
    }
  }
  if (pv.transport === 6) expect(pv.tcp.valid).toBe(true);
  const before = snapshot(pv);
  // Scramble everything outside [start, end); the views must not see it.
  for (let i = 0; i < buf.length; i++) if (i < start || i >= end) buf[i] = (i * 37 + 11) & 0xff;
  expect(snapshot(pv)).toEqual(before);
  return code;
}

const ipv4Addr = fc.integer({ min: 0, max: 0xffffffff });
const ipv6Addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
const ipSpec: fc.Arbitrary<IpSpec> = fc.oneof(
  fc.record({
    version: fc.constant(4 as const),
    source: ipv4Addr,
    destination: ipv4Addr,
    ttl: fc.nat(255),
    identification: fc.nat(0xffff),
    dontFragment: fc.boolean(),
    tos: fc.nat(255),
  }),
  fc.record({
    version: fc.constant(6 as const),
    source: ipv6Addr,
    destination: ipv6Addr,
    hopLimit: fc.nat(255),
    trafficClass: fc.nat(255),
    flowLabel: fc.nat(0xfffff),
  }),
);
const port = fc.nat(0xffff);
const payload = fc.uint8Array({ maxLength: 300 });

/** A valid packet of a random kind: [bytes, kind]. */
const validPacket = fc
  .tuple(
    ipSpec,
    fc.constantFrom('tcp', 'udp', 'icmp'),
    port,
    port,
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.nat(0x1ff),
    fc.uint8Array({ maxLength: 40 }),
    payload,
  )
  .map(([ip, kind, sp, dp, seq, flags, options, data]) => {
    const buf = new Uint8Array(500);
    let n: number;
    if (kind === 'tcp')
      n = buildTcp(
        buf,
        0,
        ip,
        {
          sourcePort: sp,
          destinationPort: dp,
          sequenceNumber: seq,
          acknowledgmentNumber: seq ^ 0x5555,
          flags,
          options,
        },
        data,
      );
    else if (kind === 'udp') n = buildUdp(buf, 0, ip, { sourcePort: sp, destinationPort: dp }, data);
    else n = buildIcmp(buf, 0, ip, { type: ip.version === 4 ? 8 : 128, identifier: sp, sequence: dp }, data);
    return { bytes: buf.slice(0, n), kind, ip };
  });

describe('parsers never throw and never read past the packet', () => {
  it('random bytes → a valid view or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(5), fc.nat(5), (bytes, pre, post) => {
        checkParse(bytes, pre, post);
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes behind a plausible IPv4/IPv6 first byte', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x6f),
        fc.uint8Array({ minLength: 0, maxLength: 120 }),
        (first, rest) => {
          const bytes = new Uint8Array(1 + rest.length);
          bytes[0] = first;
          bytes.set(rest, 1);
          checkParse(bytes, 3, 3);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('valid packets of every kind parse, verify and read back', () => {
    fc.assert(
      fc.property(validPacket, ({ bytes }) => {
        expect(checkParse(bytes, 1, 2)).toBe(0);
        const pv = new PacketView();
        pv.reset(bytes);
        expect(pv.transport).not.toBe(0);
        expect(pv.verifyTransportChecksum()).toBe(true);
        if (pv.version === 4) expect(pv.ipv4.verifyHeaderChecksum()).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid packets (byte flips, truncation, extension) → a valid view or a typed error', () => {
    const mutation = fc.oneof(
      fc.record({ op: fc.constant('flip' as const), at: fc.nat(), value: fc.nat(255) }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({
        op: fc.constant('extend' as const),
        extra: fc.uint8Array({ minLength: 1, maxLength: 20 }),
      }),
    );
    fc.assert(
      fc.property(validPacket, fc.array(mutation, { minLength: 1, maxLength: 6 }), ({ bytes }, mutations) => {
        let b = Uint8Array.from(bytes);
        for (const m of mutations) {
          if (m.op === 'flip' && b.length > 0) b[m.at % b.length] = m.value;
          else if (m.op === 'truncate') b = b.slice(0, m.at % (b.length + 1));
          else if (m.op === 'extend') {
            const c = new Uint8Array(b.length + m.extra.length);
            c.set(b);
            c.set(m.extra, b.length);
            b = c;
          }
        }
        checkParse(b, 2, 1);
      }),
      { numRuns: 2000 },
    );
  });

  it('bad offsets and lengths are a typed error, not an exception', () => {
    const pv = new PacketView();
    const b = new Uint8Array(60);
    for (const [o, l] of [
      [-1, 10],
      [70, 5],
      [0.5, 20],
      [0, -3],
      [0, Number.NaN],
      [Number.NaN, 5],
      [0, 1e9],
    ] as [number, number][]) {
      const code = pv.reset(b, o, l);
      expect(CODES.has(code)).toBe(true);
      expect(code).not.toBe(0);
    }
  });
});

describe('incremental NAT rewrite == full recompute', () => {
  it('for random packets and random address/port/identifier rewrites', () => {
    fc.assert(
      fc.property(
        validPacket,
        ipv4Addr,
        ipv4Addr,
        ipv6Addr,
        ipv6Addr,
        port,
        port,
        fc.boolean(),
        fc.boolean(),
        ({ bytes }, s4, d4, s6, d6, sp, dp, zeroUdp, combined) => {
          const pv = new PacketView();
          expect(pv.reset(bytes)).toBe(0);
          const v4UdpNoChecksum = zeroUdp && pv.version === 4 && pv.transport === 17;
          if (v4UdpNoChecksum) pv.udp.checksum = 0;
          if (combined) {
            const ports = pv.transport === 6 || pv.transport === 17;
            if (pv.version === 4) expect(rewriteIPv4Endpoints(pv, s4, sp, d4, dp)).toBe(ports);
            else expect(rewriteIPv6Endpoints(pv, s6, 0, sp, d6, 0, dp)).toBe(ports);
          } else {
            if (pv.version === 4) {
              rewriteIPv4Source(pv, s4);
              rewriteIPv4Destination(pv, d4);
            } else {
              rewriteIPv6Source(pv, s6);
              rewriteIPv6Destination(pv, d6);
            }
            rewriteSourcePort(pv, sp);
            rewriteDestinationPort(pv, dp);
          }
          rewriteIcmpEchoIdentifier(pv, sp ^ dp);
          if (pv.transport === 6) expect([pv.tcp.sourcePort, pv.tcp.destinationPort]).toEqual([sp, dp]);
          if (pv.version === 4) expect([pv.ipv4.source, pv.ipv4.destination]).toEqual([s4, d4]);
          const incremental = Uint8Array.from(bytes);
          // Full recompute on a copy.
          const full = new PacketView();
          full.reset(bytes);
          if (v4UdpNoChecksum) {
            expect(full.udp.checksum).toBe(0);
          } else {
            full.updateChecksums();
          }
          if (pv.version === 4) full.ipv4.updateHeaderChecksum();
          expect(Array.from(bytes)).toEqual(Array.from(incremental));
          expect(pv.verifyTransportChecksum()).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('rewriteTcpEndpointsAt (raw offsets) == rewriteIPv4Endpoints / rewriteIPv6Endpoints', () => {
  it('for random TCP packets at random buffer offsets', () => {
    let tcpCases = 0;
    fc.assert(
      fc.property(
        validPacket,
        ipv4Addr,
        ipv4Addr,
        ipv6Addr,
        ipv6Addr,
        port,
        port,
        fc.nat(7),
        (p, s4, d4, s6, d6, sp, dp, at) => {
          const pv = new PacketView();
          expect(pv.reset(p.bytes)).toBe(0);
          if (pv.transport !== 6) return;
          tcpCases++;
          const viaView = Uint8Array.from(p.bytes);
          const reference = new PacketView();
          reference.reset(viaView);
          const s4b = Uint8Array.of(s4 >>> 24, s4 >>> 16, s4 >>> 8, s4);
          const d4b = Uint8Array.of(d4 >>> 24, d4 >>> 16, d4 >>> 8, d4);
          if (pv.version === 4) rewriteIPv4Endpoints(reference, s4, sp, d4, dp);
          else rewriteIPv6Endpoints(reference, s6, 0, sp, d6, 0, dp);
          // The same packet placed at an offset inside a larger buffer (the device's batch slab).
          const slab = new Uint8Array(at + p.bytes.length + 3);
          slab.set(p.bytes, at);
          const srcBytes = pv.version === 4 ? s4b : s6;
          const dstBytes = pv.version === 4 ? d4b : d6;
          rewriteTcpEndpointsAt(
            slab,
            at,
            pv.version as 4 | 6,
            at + pv.transportOffset,
            srcBytes,
            0,
            sp,
            dstBytes,
            0,
            dp,
          );
          expect(Array.from(slab.subarray(at, at + p.bytes.length))).toEqual(Array.from(viaView));
          const check = new PacketView();
          expect(check.reset(slab, at, p.bytes.length)).toBe(0);
          expect(check.verifyTransportChecksum()).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
    expect(tcpCases).toBeGreaterThan(100);
  });
});

describe('rewriteTcpEndpointsAt(…, partial = true) on an offload partial sum', () => {
  it('then completing the checksum == a full recompute after the rewrite', () => {
    let tcpCases = 0;
    const pseudo = (b: Uint8Array, pv: PacketView): number =>
      pv.version === 4
        ? pseudoHeaderSumV4At(b, 12, 16, 6, pv.transportLength)
        : pseudoHeaderSumV6(b, 8, 24, 6, pv.transportLength);
    fc.assert(
      fc.property(
        validPacket,
        ipv4Addr,
        ipv4Addr,
        ipv6Addr,
        ipv6Addr,
        port,
        port,
        (p, s4, d4, s6, d6, sp, dp) => {
          const pv = new PacketView();
          expect(pv.reset(p.bytes)).toBe(0);
          if (pv.transport !== 6) return;
          tcpCases++;
          const t = pv.transportOffset;
          const len = pv.transportLength;
          const srcBytes = pv.version === 4 ? Uint8Array.of(s4 >>> 24, s4 >>> 16, s4 >>> 8, s4) : s6;
          const dstBytes = pv.version === 4 ? Uint8Array.of(d4 >>> 24, d4 >>> 16, d4 >>> 8, d4) : d6;
          const v = pv.version as 4 | 6;
          // As the kernel hands it over with NEEDS_CSUM: the field holds the folded, uncomplemented pseudo sum.
          const partial = Uint8Array.from(p.bytes);
          const ps = checksumFold(pseudo(partial, pv));
          partial[t + 16] = ps >>> 8;
          partial[t + 17] = ps & 0xff;
          rewriteTcpEndpointsAt(partial, 0, v, t, srcBytes, 0, sp, dstBytes, 0, dp, true);
          // What a device does to finish it: sum from the TCP header (partial field included) to the end.
          const completed = checksumFinish(checksumPartial(partial, t, len));
          // Reference: the full rewrite, then the checksum recomputed from scratch.
          const full = Uint8Array.from(p.bytes);
          rewriteTcpEndpointsAt(full, 0, v, t, srcBytes, 0, sp, dstBytes, 0, dp);
          full[t + 16] = 0;
          full[t + 17] = 0;
          const recomputed = checksumFinish(pseudo(full, pv) + checksumPartial(full, t, len));
          expect(completed).toBe(recomputed);
          partial[t + 16] = completed >>> 8;
          partial[t + 17] = completed & 0xff;
          full[t + 16] = recomputed >>> 8;
          full[t + 17] = recomputed & 0xff;
          expect(Array.from(partial)).toEqual(Array.from(full));
        },
      ),
      { numRuns: 1000 },
    );
    expect(tcpCases).toBeGreaterThan(100);
  });
});
