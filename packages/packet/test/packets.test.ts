import { describe, expect, it } from 'vitest';
import {
  buildEchoReply,
  buildIcmp,
  buildIcmpv4Unreachable,
  buildIcmpv6Unreachable,
  buildTcp,
  buildTcpRst,
  buildUdp,
  decodeIPv4,
  decodeIPv6,
  decodePacket,
  echoReplyInPlace,
  formatIPv6,
  IPv4View,
  IPv6View,
  OptionIterator,
  PacketView,
  ParseCode,
  parseIPv4,
  parseIPv6,
  rewriteDestinationPort,
  rewriteIcmpEchoIdentifier,
  rewriteIPv4Destination,
  rewriteIPv4Source,
  rewriteIPv6Source,
  rewriteSourcePort,
  TcpFlags,
} from '../src/index.js';

const V4A = parseIPv4('10.200.0.1');
const V4B = parseIPv4('198.18.3.4');
const V6A = parseIPv6('fd00::1');
const V6B = parseIPv6('fd00:1:2::abcd');
const payload = new TextEncoder().encode('hello, packet');

function parse(buf: Uint8Array, off: number, len: number): PacketView {
  const pv = new PacketView();
  expect(pv.reset(buf, off, len)).toBe(0);
  return pv;
}

describe('IPv4 view', () => {
  it('reads and writes every header field in place', () => {
    const buf = new Uint8Array(100);
    const n = buildUdp(
      buf,
      3,
      { version: 4, source: V4A, destination: V4B, ttl: 33, identification: 0x1234, tos: 0xb9 },
      { sourcePort: 5353, destinationPort: 53 },
      payload,
    );
    const ip = new IPv4View(buf, 3, n);
    expect(ip.valid).toBe(true);
    expect([ip.version, ip.ihl, ip.headerLength, ip.tos, ip.dscp, ip.ecn]).toEqual([
      4,
      5,
      20,
      0xb9,
      0xb9 >> 2,
      1,
    ]);
    expect([ip.totalLength, ip.identification, ip.ttl, ip.protocol]).toEqual([n, 0x1234, 33, 17]);
    expect([ip.dontFragment, ip.moreFragments, ip.fragmentOffset, ip.isFragment]).toEqual([
      true,
      false,
      0,
      false,
    ]);
    expect([ip.source, ip.destination]).toEqual([V4A, V4B]);
    expect(ip.verifyHeaderChecksum()).toBe(true);
    ip.dontFragment = false;
    ip.moreFragments = true;
    ip.fragmentOffset = 185;
    ip.ttl = 1;
    ip.dscp = 46;
    ip.ecn = 3;
    ip.identification = 0xbeef;
    ip.source = 0x01020304;
    expect(ip.verifyHeaderChecksum()).toBe(false);
    ip.updateHeaderChecksum();
    expect(ip.verifyHeaderChecksum()).toBe(true);
    expect([ip.flags, ip.fragmentOffset, ip.isFragment, ip.tos, ip.ttl, ip.source]).toEqual([
      1,
      185,
      true,
      (46 << 2) | 3,
      1,
      0x01020304,
    ]);
    expect(ip.decrementTtl()).toBe(0);
    expect(ip.verifyHeaderChecksum()).toBe(true);
  });

  it('walks options and bounds the view by total length, not the buffer', () => {
    const buf = new Uint8Array(64).fill(0xee);
    // IHL 7: options = NOP, Router Alert (148, len 4, 0 0), EOL, padding.
    buf.set([0x47, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 1, 148, 4, 0, 0, 0, 0, 0], 0);
    const ip = new IPv4View(buf);
    expect(ip.valid).toBe(true);
    expect([ip.length, ip.headerLength, ip.optionsLength, ip.payloadLength]).toEqual([40, 28, 8, 12]);
    const it = new OptionIterator().reset(buf, ip.optionsOffset, ip.optionsLength);
    expect(it.next()).toBe(true);
    expect([it.kind, it.length, it.offset]).toEqual([148, 4, 21]);
    expect(it.next()).toBe(false);
    expect(it.malformed).toBe(false);
  });

  it('returns typed errors for each malformation', () => {
    const ok = new Uint8Array(40);
    buildUdp(ok, 0, { version: 4, source: V4A, destination: V4B }, { sourcePort: 1, destinationPort: 2 }, 12);
    const set = (b: Uint8Array, at: number, v: number): Uint8Array => {
      b[at] = v;
      return b;
    };
    const cases: [string, (b: Uint8Array) => Uint8Array, number, string][] = [
      ['short', (b) => b.subarray(0, 19), ParseCode.Truncated, 'truncated'],
      ['version', (b) => set(b, 0, 0x65), ParseCode.BadVersion, 'bad-version'],
      ['ihl<5', (b) => set(b, 0, 0x44), ParseCode.BadHeaderLength, 'bad-header-length'],
      ['ihl>len', (b) => set(b, 0, 0x4f).subarray(0, 30), ParseCode.Truncated, 'truncated'],
      ['total<ihl', (b) => set(b, 3, 10), ParseCode.BadTotalLength, 'bad-total-length'],
      ['total>buf', (b) => set(b, 3, 41), ParseCode.TotalLengthBeyondBuffer, 'total-length-beyond-buffer'],
    ];
    for (const [name, mutate, code, kind] of cases) {
      const b = mutate(Uint8Array.from(ok));
      const v = new IPv4View();
      expect(v.reset(b), name).toBe(code);
      expect(v.valid).toBe(false);
      expect(v.source).toBe(0); // an emptied view reads zeros, never stale bytes
      const d = decodeIPv4(b);
      expect(d.ok).toBe(false);
      if (!d.ok) expect([d.error.kind, d.error.layer]).toEqual([kind, 'ipv4']);
    }
  });
});

describe('IPv6 view', () => {
  /** IPv6 header + given extension headers (already encoded) + upper payload. */
  function v6(nextHeader: number, rest: number[]): Uint8Array {
    const b = new Uint8Array(40 + rest.length);
    b[0] = 0x60;
    b[4] = rest.length >> 8;
    b[5] = rest.length & 0xff;
    b[6] = nextHeader;
    b[7] = 64;
    b.set(V6A, 8);
    b.set(V6B, 24);
    b.set(rest, 40);
    return b;
  }

  it('walks hop-by-hop, destination options, routing, AH and fragment to the upper layer', () => {
    const hbh = [60, 0, 1, 4, 0, 0, 0, 0]; // -> dest opts, PadN
    const dst = [43, 0, 1, 4, 0, 0, 0, 0]; // -> routing
    const rt = [51, 0, 0, 0, 0, 0, 0, 0]; // -> AH (type 0, segments left 0)
    const ah = [44, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]; // -> fragment; AH len (1+2)*4 = 12
    const frag = [17, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]; // -> UDP, offset 0, M=0 (atomic)
    const udp = [0, 1, 0, 2, 0, 8, 0, 0];
    const b = v6(0, [...hbh, ...dst, ...rt, ...ah, ...frag, ...udp]);
    const ip = new IPv6View();
    expect(ip.reset(b)).toBe(0);
    expect([ip.upperProtocol, ip.upperOffset, ip.upperLength, ip.extensionCount]).toEqual([
      17,
      40 + 44,
      8,
      5,
    ]);
    expect([ip.isFragment, ip.fragmentOffset, ip.moreFragments, ip.fragmentIdentification]).toEqual([
      true,
      0,
      false,
      0xdeadbeef,
    ]);
    expect(ip.upperNextHeaderOffset).toBe(40 + 36);
    expect(formatIPv6(ip.copySource())).toBe('fd00::1');
    const pv = new PacketView();
    expect(pv.reset(b)).toBe(0);
    expect(pv.transport).toBe(17);
  });

  it('stops at a non-first fragment and at ESP / no-next-header', () => {
    const b = v6(44, [6, 0, 0x05, 0x01, 0, 0, 0, 7, 1, 2, 3, 4]); // offset 160 bytes, M=1
    const ip = new IPv6View(b);
    expect([ip.upperProtocol, ip.fragmentOffset, ip.moreFragments, ip.upperLength]).toEqual([
      6,
      160,
      true,
      4,
    ]);
    const pv = new PacketView();
    expect(pv.reset(b)).toBe(0);
    expect([pv.protocol, pv.transport]).toEqual([6, 0]);
    expect(new IPv6View(v6(50, [1, 2, 3, 4])).upperProtocol).toBe(50);
    expect(new IPv6View(v6(59, [])).upperProtocol).toBe(59);
  });

  it('rejects a bad extension chain with a typed error', () => {
    for (const rest of [
      [60, 0, 0, 0, 0, 0], // hop-by-hop shorter than 8 bytes
      [60, 5, 0, 0, 0, 0, 0, 0], // claims 48 bytes
      [0, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0], // HBH after HBH
    ]) {
      const d = decodeIPv6(v6(0, rest));
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.error.kind).toBe('bad-extension-chain');
    }
    // A jumbogram: payload length 0, hop-by-hop with a jumbo payload option (RFC 2675) — unsupported.
    const jumbo = v6(0, [17, 0, 0xc2, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    jumbo[4] = 0;
    jumbo[5] = 0;
    const j = decodeIPv6(jumbo);
    expect(!j.ok && j.error.kind).toBe('bad-extension-chain');
    const d = decodeIPv6(v6(17, [0, 0]).subarray(0, 41));
    expect(!d.ok && d.error.kind).toBe('total-length-beyond-buffer');
  });
});

describe('builders + transport views', () => {
  for (const version of [4, 6] as const) {
    const ip =
      version === 4 ? { version, source: V4A, destination: V4B } : { version, source: V6A, destination: V6B };

    it(`TCP over IPv${version}: fields, options, MSS clamp, checksum`, () => {
      const buf = new Uint8Array(200);
      const opts = Uint8Array.of(2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2); // MSS 1460, NOP, WS 7, SACK-perm
      const n = buildTcp(
        buf,
        1,
        ip,
        {
          sourcePort: 40000,
          destinationPort: 443,
          sequenceNumber: 0xfffffff0,
          acknowledgmentNumber: 7,
          flags: TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR,
          window: 29200,
          options: opts,
        },
        payload,
      );
      const pv = parse(buf, 1, n);
      const t = pv.tcp;
      expect(pv.transport).toBe(6);
      expect([t.sourcePort, t.destinationPort, t.sequenceNumber, t.acknowledgmentNumber, t.window]).toEqual([
        40000, 443, 0xfffffff0, 7, 29200,
      ]);
      expect([t.syn, t.ack, t.fin, t.rst, t.psh, t.urg, t.ece, t.cwr]).toEqual([
        true,
        false,
        false,
        false,
        false,
        false,
        true,
        true,
      ]);
      expect([t.headerLength, t.optionsLength, t.payloadLength, t.mss, t.windowScale]).toEqual([
        32,
        12,
        payload.length,
        1460,
        7,
      ]);
      expect(pv.verifyTransportChecksum()).toBe(true);
      expect(t.clampMss(1360)).toBe(true);
      expect(t.clampMss(1400)).toBe(false);
      expect(t.mss).toBe(1360);
      expect(pv.verifyTransportChecksum()).toBe(true);
      t.flags = TcpFlags.ACK | TcpFlags.PSH;
      expect([t.syn, t.ack, t.psh, t.ece]).toEqual([false, true, true, false]);
      expect(pv.verifyTransportChecksum()).toBe(false);
      pv.updateChecksums();
      expect(pv.verifyTransportChecksum()).toBe(true);
    });

    it(`MSS at an odd offset is rewritten with a correct checksum (IPv${version})`, () => {
      const buf = new Uint8Array(200);
      const opts = Uint8Array.of(1, 2, 4, 0x23, 0x28, 0); // NOP then MSS 9000 at odd offset 21
      const n = buildTcp(
        buf,
        0,
        ip,
        { sourcePort: 1, destinationPort: 2, flags: TcpFlags.SYN, options: opts },
        payload,
      );
      const pv = parse(buf, 0, n);
      expect(pv.tcp.mss).toBe(9000);
      expect(pv.tcp.setMss(1220)).toBe(true);
      expect(pv.tcp.mss).toBe(1220);
      expect(pv.verifyTransportChecksum()).toBe(true);
    });

    it(`UDP over IPv${version}`, () => {
      const buf = new Uint8Array(200);
      const n = buildUdp(buf, 0, ip, { sourcePort: 53, destinationPort: 33000 }, payload);
      const pv = parse(buf, 0, n);
      expect([pv.udp.sourcePort, pv.udp.destinationPort, pv.udp.length, pv.udp.payloadLength]).toEqual([
        53,
        33000,
        8 + payload.length,
        payload.length,
      ]);
      expect(
        new TextDecoder().decode(
          buf.subarray(pv.udp.payloadOffset, pv.udp.payloadOffset + pv.udp.payloadLength),
        ),
      ).toBe('hello, packet');
      expect(pv.verifyTransportChecksum()).toBe(true);
      buf[pv.udp.payloadOffset] ^= 1;
      expect(pv.verifyTransportChecksum()).toBe(false);
    });

    it(`ICMP echo over IPv${version}: build, reply (copy and in place), identifier rewrite`, () => {
      const buf = new Uint8Array(200);
      const n = buildIcmp(
        buf,
        0,
        ip,
        { type: version === 4 ? 8 : 128, identifier: 0x4242, sequence: 7 },
        payload,
      );
      const pv = parse(buf, 0, n);
      const icmp = version === 4 ? pv.icmpv4 : pv.icmpv6;
      expect([icmp.type, icmp.code, icmp.identifier, icmp.sequence, icmp.isEcho, icmp.isError]).toEqual([
        version === 4 ? 8 : 128,
        0,
        0x4242,
        7,
        true,
        false,
      ]);
      expect(pv.verifyTransportChecksum()).toBe(true);
      const out = new Uint8Array(200);
      const m = buildEchoReply(out, 5, pv);
      expect(m).toBe(n);
      const reply = parse(out, 5, m);
      expect(reply.verifyTransportChecksum()).toBe(true);
      expect((version === 4 ? reply.icmpv4 : reply.icmpv6).type).toBe(version === 4 ? 0 : 129);
      expect(echoReplyInPlace(pv)).toBe(true);
      expect(Array.from(buf.subarray(0, n))).toEqual(Array.from(out.subarray(5, 5 + m)));
      expect(rewriteIcmpEchoIdentifier(pv, 0x1111)).toBe(true);
      expect(pv.verifyTransportChecksum()).toBe(true);
      if (version === 4) expect(pv.ipv4.verifyHeaderChecksum()).toBe(true);
    });

    it(`RST for a SYN and for an ACK segment (IPv${version})`, () => {
      const buf = new Uint8Array(200);
      const out = new Uint8Array(100);
      let n = buildTcp(
        buf,
        0,
        ip,
        { sourcePort: 5000, destinationPort: 80, sequenceNumber: 100, flags: TcpFlags.SYN },
        payload,
      );
      let m = buildTcpRst(out, 0, parse(buf, 0, n));
      let rst = parse(out, 0, m);
      expect([
        rst.tcp.flags,
        rst.tcp.sequenceNumber,
        rst.tcp.acknowledgmentNumber,
        rst.tcp.sourcePort,
        rst.tcp.destinationPort,
      ]).toEqual([TcpFlags.RST | TcpFlags.ACK, 0, 101 + payload.length, 80, 5000]);
      expect(rst.verifyTransportChecksum()).toBe(true);
      n = buildTcp(buf, 0, ip, {
        sourcePort: 5000,
        destinationPort: 80,
        sequenceNumber: 100,
        acknowledgmentNumber: 555,
        flags: TcpFlags.ACK,
      });
      m = buildTcpRst(out, 0, parse(buf, 0, n));
      rst = parse(out, 0, m);
      expect([rst.tcp.flags, rst.tcp.sequenceNumber]).toEqual([TcpFlags.RST, 555]);
      // In place over the segment's own bytes gives the same RST.
      const copy = Array.from(out.subarray(0, m));
      expect(buildTcpRst(buf, 0, parse(buf, 0, n))).toBe(m);
      expect(Array.from(buf.subarray(0, m))).toEqual(copy);
      n = buildTcp(buf, 0, ip, { sourcePort: 5000, destinationPort: 80, flags: TcpFlags.RST });
      expect(buildTcpRst(out, 0, parse(buf, 0, n))).toBe(0);
    });

    it(`NAT rewrite of addresses and ports keeps checksums valid (IPv${version})`, () => {
      for (const kind of ['tcp', 'udp'] as const) {
        const buf = new Uint8Array(200);
        const n =
          kind === 'tcp'
            ? buildTcp(buf, 0, ip, { sourcePort: 1, destinationPort: 2, flags: TcpFlags.ACK }, payload)
            : buildUdp(buf, 0, ip, { sourcePort: 1, destinationPort: 2 }, payload);
        const pv = parse(buf, 0, n);
        if (version === 4) {
          rewriteIPv4Source(pv, parseIPv4('172.16.9.9'));
          rewriteIPv4Destination(pv, parseIPv4('8.8.4.4'));
          expect(pv.ipv4.verifyHeaderChecksum()).toBe(true);
        } else {
          rewriteIPv6Source(pv, parseIPv6('2001:db8::99'));
        }
        expect(rewriteSourcePort(pv, 61000)).toBe(true);
        expect(rewriteDestinationPort(pv, 8443)).toBe(true);
        expect(pv.verifyTransportChecksum()).toBe(true);
      }
    });
  }

  it('keeps an IPv4 UDP zero checksum at zero through NAT', () => {
    const buf = new Uint8Array(100);
    const n = buildUdp(
      buf,
      0,
      { version: 4, source: V4A, destination: V4B },
      { sourcePort: 1, destinationPort: 2 },
      payload,
    );
    const pv = parse(buf, 0, n);
    pv.udp.checksum = 0;
    rewriteIPv4Source(pv, 0x01010101);
    rewriteSourcePort(pv, 999);
    expect(pv.udp.checksum).toBe(0);
    expect(pv.verifyTransportChecksum()).toBe(true);
  });

  it('ICMP destination unreachable quotes the offending packet within 576 / 1280 bytes', () => {
    const big = new Uint8Array(1500);
    let n = buildUdp(
      big,
      0,
      { version: 4, source: V4A, destination: V4B },
      { sourcePort: 1, destinationPort: 2 },
      1000,
    );
    const out = new Uint8Array(2000);
    let m = buildIcmpv4Unreachable(out, 0, V4B, 3, big, 0, n);
    expect(m).toBe(576);
    let pv = parse(out, 0, m);
    expect([pv.icmpv4.type, pv.icmpv4.code, pv.icmpv4.isError, pv.ipv4.destination, pv.ipv4.source]).toEqual([
      3,
      3,
      true,
      V4A,
      V4B,
    ]);
    expect(pv.verifyTransportChecksum()).toBe(true);
    expect(Array.from(out.subarray(28, 28 + 20))).toEqual(Array.from(big.subarray(0, 20)));
    n = buildUdp(
      big,
      0,
      { version: 6, source: V6A, destination: V6B },
      { sourcePort: 1, destinationPort: 2 },
      1400,
    );
    m = buildIcmpv6Unreachable(out, 0, V6B, 0, 4, big, 0, n);
    expect(m).toBe(1280);
    pv = parse(out, 0, m);
    expect([pv.icmpv6.type, pv.icmpv6.code]).toEqual([1, 4]);
    expect(formatIPv6(pv.ipv6.copyDestination())).toBe('fd00::1');
    expect(pv.verifyTransportChecksum()).toBe(true);
    // Small offending packets are quoted whole.
    n = buildUdp(
      big,
      0,
      { version: 4, source: V4A, destination: V4B },
      { sourcePort: 1, destinationPort: 2 },
      4,
    );
    expect(buildIcmpv4Unreachable(out, 0, V4B, 1, big, 0, n)).toBe(28 + n);
  });

  it('builders return 0 when the packet does not fit', () => {
    const small = new Uint8Array(30);
    expect(
      buildTcp(
        small,
        0,
        { version: 4, source: 1, destination: 2 },
        { sourcePort: 1, destinationPort: 2, flags: 0 },
      ),
    ).toBe(0);
    expect(
      buildUdp(
        new Uint8Array(70000),
        0,
        { version: 4, source: 1, destination: 2 },
        { sourcePort: 1, destinationPort: 2 },
        65600,
      ),
    ).toBe(0);
  });

  it('decodePacket names the failing layer', () => {
    const buf = new Uint8Array(100);
    const n = buildTcp(
      buf,
      0,
      { version: 4, source: V4A, destination: V4B },
      { sourcePort: 1, destinationPort: 2, flags: 0 },
    );
    buf[32] = 0x40; // data offset 4 words
    const d = decodePacket(buf, 0, n);
    expect(d.ok).toBe(false);
    if (!d.ok)
      expect([d.error.kind, d.error.layer, d.error.offset]).toEqual(['bad-header-length', 'tcp', 20]);
    const e = decodePacket(Uint8Array.of(0x30));
    expect(!e.ok && [e.error.kind, e.error.layer]).toEqual(['bad-version', 'ip']);
  });
});
