/**
 * Cross-check against a decoder nobody here wrote: build packets of every kind (plain, NAT-rewritten with
 * the incremental helpers, replies, errors, extension headers, fragments, random), write them as pcap,
 * let tshark decode them with checksum validation on, and compare every field and checksum status with
 * what our views read. Skips (with a printed reason) only when tshark is not installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipWhen } from '@ztun/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildEchoReply,
  buildIcmp,
  buildIcmpError,
  buildIcmpv4Unreachable,
  buildIcmpv6Unreachable,
  buildTcp,
  buildTcpRst,
  buildUdp,
  echoReplyInPlace,
  formatIPv4,
  formatIPv6,
  type IpSpec,
  PacketView,
  PcapngWriter,
  PcapWriter,
  parseIPv4,
  parseIPv6,
  rewriteDestinationPort,
  rewriteIcmpEchoIdentifier,
  rewriteIPv4Destination,
  rewriteIPv4Endpoints,
  rewriteIPv4Source,
  rewriteIPv6Destination,
  rewriteIPv6Endpoints,
  rewriteIPv6Source,
  rewriteSourcePort,
  TcpFlags,
} from '../src/index.js';

const probe = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
const tsharkReason = probe.error
  ? `tshark not runnable (${probe.error.message}); install the Debian package "tshark"`
  : undefined;

/** The preference names differ between Wireshark versions: take them from the installed tshark. */
function checksumPrefs(): string[] {
  const prefs = spawnSync('tshark', ['-G', 'defaultprefs'], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
  const wanted = ['ip.check_checksum', 'tcp.check_checksum', 'udp.check_checksum'];
  const out: string[] = [];
  for (const name of wanted) {
    if (!prefs.includes(`${name}:`)) throw new Error(`tshark has no preference ${name}`);
    out.push('-o', `${name}:TRUE`);
  }
  // Decode fragments as they are instead of reassembling them.
  if (prefs.includes('ip.defragment:')) out.push('-o', 'ip.defragment:FALSE');
  if (prefs.includes('ipv6.defragment:')) out.push('-o', 'ipv6.defragment:FALSE');
  return out;
}

type Layers = Record<string, unknown>;

function runTshark(file: string): Layers[] {
  const r = spawnSync('tshark', ['-r', file, ...checksumPrefs(), '-T', 'json'], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { _source: { layers: Layers } }[]).map((p) => p._source.layers);
}

/** Flattens a tshark layer into dotted-name → value, descending into *_tree objects (not nested layers). */
function flatten(layer: unknown, out: Record<string, string> = {}): Record<string, string> {
  if (layer && typeof layer === 'object') {
    for (const [k, v] of Object.entries(layer as Record<string, unknown>)) {
      if (typeof v === 'string') out[k] ??= v;
      else if (k.endsWith('_tree')) flatten(v, out);
    }
  }
  return out;
}

const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, '0')}`;

/** What our views say, in tshark's field names and formatting. */
function expectedFields(pv: PacketView): Record<string, string> {
  const e: Record<string, string> = {};
  if (pv.version === 4) {
    const ip = pv.ipv4;
    Object.assign(e, {
      'ip.version': '4',
      'ip.hdr_len': String(ip.headerLength),
      'ip.dsfield': hex(ip.tos, 2),
      'ip.len': String(ip.totalLength),
      'ip.id': hex(ip.identification, 4),
      'ip.flags.df': ip.dontFragment ? '1' : '0',
      'ip.flags.mf': ip.moreFragments ? '1' : '0',
      'ip.frag_offset': String(ip.fragmentOffset),
      'ip.ttl': String(ip.ttl),
      'ip.proto': String(ip.protocol),
      'ip.checksum': hex(ip.headerChecksum, 4),
      'ip.checksum.status': ip.verifyHeaderChecksum() ? '1' : '0',
      'ip.src': formatIPv4(ip.source),
      'ip.dst': formatIPv4(ip.destination),
    });
  } else {
    const ip = pv.ipv6;
    Object.assign(e, {
      'ipv6.version': '6',
      'ipv6.tclass': hex(ip.trafficClass, 8),
      'ipv6.flow': hex(ip.flowLabel, 6),
      'ipv6.plen': String(ip.payloadLength),
      'ipv6.nxt': String(ip.nextHeader),
      'ipv6.hlim': String(ip.hopLimit),
      'ipv6.src': formatIPv6(ip.buf, ip.sourceOffset),
      'ipv6.dst': formatIPv6(ip.buf, ip.destinationOffset),
    });
    if (ip.isFragment) {
      e['ipv6.fraghdr.offset'] = String(ip.fragmentOffset);
      e['ipv6.fraghdr.more'] = ip.moreFragments ? '1' : '0';
      e['ipv6.fraghdr.ident'] = hex(ip.fragmentIdentification, 8);
      e['ipv6.fraghdr.nxt'] = String(ip.upperProtocol);
    }
  }
  const ok = pv.verifyTransportChecksum() ? '1' : '0';
  if (pv.transport === 6) {
    const t = pv.tcp;
    Object.assign(e, {
      'tcp.srcport': String(t.sourcePort),
      'tcp.dstport': String(t.destinationPort),
      'tcp.seq_raw': String(t.sequenceNumber),
      'tcp.ack_raw': String(t.acknowledgmentNumber),
      'tcp.hdr_len': String(t.headerLength),
      'tcp.flags': hex(t.flags, 4),
      'tcp.flags.syn': t.syn ? '1' : '0',
      'tcp.flags.ack': t.ack ? '1' : '0',
      'tcp.flags.reset': t.rst ? '1' : '0',
      'tcp.flags.fin': t.fin ? '1' : '0',
      'tcp.window_size_value': String(t.window),
      'tcp.checksum': hex(t.checksum, 4),
      'tcp.checksum.status': ok,
      'tcp.urgent_pointer': String(t.urgentPointer),
      'tcp.len': String(t.payloadLength),
    });
    if (t.mss >= 0) e['tcp.options.mss_val'] = String(t.mss);
    if (t.windowScale >= 0) e['tcp.options.wscale.shift'] = String(t.windowScale);
  } else if (pv.transport === 17) {
    const u = pv.udp;
    Object.assign(e, {
      'udp.srcport': String(u.sourcePort),
      'udp.dstport': String(u.destinationPort),
      'udp.length': String(u.lengthField),
      'udp.checksum': hex(u.checksum, 4),
      // tshark: 1 good, 0 bad, 3 "not present" (IPv4 checksum 0).
      'udp.checksum.status': u.checksum === 0 && pv.version === 4 ? '3' : ok,
    });
  } else if (pv.transport === 1) {
    const c = pv.icmpv4;
    Object.assign(e, {
      'icmp.type': String(c.type),
      'icmp.code': String(c.code),
      'icmp.checksum': hex(c.checksum, 4),
      'icmp.checksum.status': ok,
    });
    if (c.isEcho) Object.assign(e, { 'icmp.ident': String(c.identifier), 'icmp.seq': String(c.sequence) });
    if (c.type === 3 && c.code === 4) e['icmp.mtu'] = String(c.restOfHeader & 0xffff);
  } else if (pv.transport === 58) {
    const c = pv.icmpv6;
    Object.assign(e, {
      'icmpv6.type': String(c.type),
      'icmpv6.code': String(c.code),
      'icmpv6.checksum': hex(c.checksum, 4),
      'icmpv6.checksum.status': ok,
    });
    if (c.type === 2) e['icmpv6.mtu'] = String(c.restOfHeader);
    if (c.isEcho) {
      Object.assign(e, {
        'icmpv6.echo.identifier': hex(c.identifier, 4),
        'icmpv6.echo.sequence_number': String(c.sequence),
      });
    }
  }
  return e;
}

const LAYER_OF: Record<string, string> = {
  ip: 'ip',
  ipv6: 'ipv6',
  tcp: 'tcp',
  udp: 'udp',
  icmp: 'icmp',
  icmpv6: 'icmpv6',
};

/** tshark's fields of one packet for the layers we compare. IPv6 extension headers are nested in "ipv6". */
function tsharkFields(layers: Layers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(LAYER_OF)) {
    const layer = layers[name];
    if (!layer) continue;
    const flat = flatten(Array.isArray(layer) ? layer[0] : layer);
    // IPv6 extension headers come as nested objects inside "ipv6" (ipv6.hopopts, ipv6.fraghdr…).
    if (name === 'ipv6') {
      for (const [k, v] of Object.entries(layer as Record<string, unknown>)) {
        if (k === 'ipv6.fraghdr') flatten(v, flat);
      }
    }
    for (const [k, v] of Object.entries(flat)) out[k] ??= v;
  }
  return out;
}

// ---------- the corpus ----------

const A4 = parseIPv4('10.200.1.2');
const B4 = parseIPv4('198.18.7.9');
const A6 = parseIPv6('fd00:200::2');
const B6 = parseIPv6('2001:db8:0:0:1::9');
const body = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 29 + seed) & 0xff);
const SYN_OPTS = Uint8Array.of(2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7);

interface Case {
  name: string;
  bytes: Uint8Array;
}

function corpus(): Case[] {
  const cases: Case[] = [];
  const add = (name: string, buf: Uint8Array, n: number) => {
    expect(n, name).toBeGreaterThan(0);
    cases.push({ name, bytes: buf.slice(0, n) });
  };
  const pv = new PacketView();
  for (const version of [4, 6] as const) {
    const ip: IpSpec =
      version === 4
        ? { version, source: A4, destination: B4, identification: 0x1234, tos: 0x2e }
        : { version, source: A6, destination: B6, trafficClass: 0xb8, flowLabel: 0x12345 };
    const v = `v${version}`;
    let buf = new Uint8Array(70000);
    add(
      `${v} tcp syn+options`,
      buf,
      buildTcp(buf, 0, ip, {
        sourcePort: 40001,
        destinationPort: 443,
        sequenceNumber: 0xfedcba98,
        flags: TcpFlags.SYN,
        window: 64240,
        options: SYN_OPTS,
      }),
    );
    add(
      `${v} tcp data`,
      buf,
      buildTcp(
        buf,
        0,
        ip,
        {
          sourcePort: 40001,
          destinationPort: 443,
          sequenceNumber: 1,
          acknowledgmentNumber: 77,
          flags: TcpFlags.ACK | TcpFlags.PSH,
          window: 501,
        },
        body(1000),
      ),
    );
    add(
      `${v} tcp 64k`,
      buf,
      buildTcp(
        buf,
        0,
        ip,
        {
          sourcePort: 40001,
          destinationPort: 443,
          sequenceNumber: 2,
          acknowledgmentNumber: 78,
          flags: TcpFlags.ACK,
        },
        body(version === 4 ? 65495 : 65515, 3),
      ),
    );
    // NAT-rewritten TCP: addresses, ports, MSS clamp — all incremental.
    let n = buildTcp(
      buf,
      0,
      ip,
      { sourcePort: 40002, destinationPort: 80, sequenceNumber: 9, flags: TcpFlags.SYN, options: SYN_OPTS },
      body(33),
    );
    pv.reset(buf, 0, n);
    if (version === 4) {
      rewriteIPv4Source(pv, parseIPv4('100.64.3.3'));
      rewriteIPv4Destination(pv, parseIPv4('203.0.113.200'));
    } else {
      rewriteIPv6Source(pv, parseIPv6('fd00::ffff:1'));
      rewriteIPv6Destination(pv, parseIPv6('::ffff:192.0.2.1'));
    }
    rewriteSourcePort(pv, 61999);
    rewriteDestinationPort(pv, 8080);
    pv.tcp.clampMss(1240);
    add(`${v} tcp NAT + MSS clamp`, buf, n);
    // RSTs.
    const rst = new Uint8Array(100);
    add(`${v} rst for syn`, rst, buildTcpRst(rst, 0, pv));
    n = buildTcp(
      buf,
      0,
      ip,
      {
        sourcePort: 1,
        destinationPort: 2,
        sequenceNumber: 5,
        acknowledgmentNumber: 0x80000000,
        flags: TcpFlags.ACK | TcpFlags.FIN,
      },
      body(7),
    );
    pv.reset(buf, 0, n);
    add(`${v} rst for ack`, rst, buildTcpRst(rst, 0, pv));
    // UDP plain + NAT.
    add(`${v} udp`, buf, buildUdp(buf, 0, ip, { sourcePort: 33333, destinationPort: 44444 }, body(200)));
    add(`${v} udp empty`, buf, buildUdp(buf, 0, ip, { sourcePort: 33333, destinationPort: 44444 }));
    n = buildUdp(buf, 0, ip, { sourcePort: 33334, destinationPort: 44445 }, body(513));
    pv.reset(buf, 0, n);
    if (version === 4) rewriteIPv4Source(pv, parseIPv4('192.168.255.254'));
    else rewriteIPv6Source(pv, parseIPv6('fe80::1:2:3:4'));
    rewriteSourcePort(pv, 1);
    add(`${v} udp NAT`, buf, n);
    // Full NAT in one call (both addresses and ports, one update per checksum).
    n = buildTcp(
      buf,
      0,
      ip,
      {
        sourcePort: 50000,
        destinationPort: 22,
        sequenceNumber: 1234,
        acknowledgmentNumber: 99,
        flags: TcpFlags.ACK,
      },
      body(300),
    );
    pv.reset(buf, 0, n);
    if (version === 4) rewriteIPv4Endpoints(pv, parseIPv4('127.0.0.1'), 39999, parseIPv4('10.200.1.1'), 1080);
    else rewriteIPv6Endpoints(pv, parseIPv6('::1'), 0, 39999, parseIPv6('fd00:200::1'), 0, 1080);
    add(`${v} tcp endpoints NAT`, buf, n);
    // ICMP echo: request, reply (copy), reply in place, identifier NAT.
    n = buildIcmp(buf, 0, ip, { type: version === 4 ? 8 : 128, identifier: 0xabcd, sequence: 3 }, body(56));
    add(`${v} echo request`, buf, n);
    pv.reset(buf, 0, n);
    const reply = new Uint8Array(200);
    add(`${v} echo reply (built)`, reply, buildEchoReply(reply, 0, pv));
    echoReplyInPlace(pv);
    rewriteIcmpEchoIdentifier(pv, 0x0102);
    add(`${v} echo reply (in place) + id NAT`, buf, n);
    // ICMP unreachable quoting a big UDP packet.
    const offending = new Uint8Array(1500);
    const on = buildUdp(offending, 0, ip, { sourcePort: 5000, destinationPort: 6000 }, body(1400));
    buf = new Uint8Array(2000);
    add(
      `${v} dest unreachable`,
      buf,
      version === 4
        ? buildIcmpv4Unreachable(buf, 0, B4, 3, offending, 0, on)
        : buildIcmpv6Unreachable(buf, 0, B6, 0, 4, offending, 0, on),
    );
    // Path-MTU errors: ICMPv4 fragmentation needed (MTU in the low 16 bits), ICMPv6 packet too big.
    const tcpBig = new Uint8Array(1500);
    const tn = buildTcp(
      tcpBig,
      0,
      ip,
      { sourcePort: 40000, destinationPort: 443, flags: TcpFlags.ACK },
      body(1400),
    );
    buf = new Uint8Array(2000);
    add(
      `${v} path MTU error`,
      buf,
      version === 4
        ? buildIcmpv4Unreachable(buf, 0, B4, 4, tcpBig, 0, tn, 1280)
        : buildIcmpError(
            buf,
            0,
            { version: 6, source: B6, destination: A6 },
            { type: 2, code: 0, restOfHeader: 1280 },
            tcpBig,
            0,
            tn,
          ),
    );
  }
  // IPv4 special header fields: fragment, TTL decrement, options, UDP without checksum.
  let buf = new Uint8Array(300);
  let n = buildUdp(
    buf,
    0,
    { version: 4, source: A4, destination: B4, dontFragment: false, identification: 0xbeef },
    { sourcePort: 7, destinationPort: 9 },
    body(40),
  );
  pv.reset(buf, 0, n);
  pv.ipv4.moreFragments = true;
  pv.ipv4.updateHeaderChecksum();
  pv.ipv4.decrementTtl();
  add('v4 first fragment', buf, n);
  pv.ipv4.fragmentOffset = 185;
  pv.ipv4.moreFragments = false;
  pv.ipv4.updateHeaderChecksum();
  add('v4 last fragment', buf, n);
  n = buildUdp(
    buf,
    0,
    { version: 4, source: A4, destination: B4 },
    { sourcePort: 7, destinationPort: 9 },
    body(40),
  );
  pv.reset(buf, 0, n);
  pv.udp.checksum = 0;
  rewriteIPv4Source(pv, 0x0a0a0a0a);
  rewriteSourcePort(pv, 7777);
  add('v4 udp checksum 0 through NAT', buf, n);
  // IPv4 with options (NOP, router alert, EOL): build UDP, shift it to make room.
  n = buildUdp(
    buf,
    0,
    { version: 4, source: A4, destination: B4 },
    { sourcePort: 11, destinationPort: 12 },
    body(10),
  );
  const withOpts = new Uint8Array(n + 8);
  withOpts.set(buf.subarray(0, 20), 0);
  withOpts.set([1, 148, 4, 0, 0, 0, 0, 0], 20);
  withOpts.set(buf.subarray(20, n), 28);
  withOpts[0] = 0x47;
  withOpts[3] = n + 8;
  pv.reset(withOpts);
  pv.updateChecksums();
  add('v4 with options', withOpts, withOpts.length);
  // IPv6 with hop-by-hop + destination options + fragment (atomic) + UDP.
  n = buildUdp(
    buf,
    0,
    { version: 6, source: A6, destination: B6 },
    { sourcePort: 53, destinationPort: 5300 },
    body(20),
  );
  const ext = [0, 0, 1, 4, 0, 0, 0, 0, 44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0x12, 0x34];
  const v6ext = new Uint8Array(n + ext.length);
  v6ext.set(buf.subarray(0, 40), 0);
  v6ext.set(ext, 40);
  v6ext.set(buf.subarray(40, n), 40 + ext.length);
  v6ext[6] = 0; // hop-by-hop
  v6ext[4] = (n - 40 + ext.length) >> 8;
  v6ext[5] = (n - 40 + ext.length) & 0xff;
  v6ext[40] = 60;
  expect(pv.reset(v6ext)).toBe(0);
  pv.udp.checksum = 0;
  pv.updateTransportChecksum();
  rewriteIPv6Source(pv, parseIPv6('fd12:3456::1'));
  add('v6 ext headers + udp NAT', v6ext, v6ext.length);
  // Deliberately bad checksums: tshark and our verify must both say "bad".
  buf = new Uint8Array(300);
  n = buildTcp(
    buf,
    0,
    { version: 4, source: A4, destination: B4 },
    { sourcePort: 1, destinationPort: 2, flags: TcpFlags.ACK },
    body(9),
  );
  buf[n - 1] ^= 0x40;
  buf[10] ^= 1;
  add('v4 tcp corrupted', buf, n);
  n = buildUdp(
    buf,
    0,
    { version: 6, source: A6, destination: B6 },
    { sourcePort: 1, destinationPort: 2 },
    body(9),
  );
  buf[n - 2] ^= 0x01;
  add('v6 udp corrupted', buf, n);
  // Random packets (deterministic seed), half of them NAT-rewritten.
  const random = fc.sample(
    fc.tuple(
      fc.boolean(),
      fc.constantFrom('tcp', 'udp', 'icmp'),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.nat(0xffff),
      fc.nat(0xffff),
      fc.uint8Array({ maxLength: 1200 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 0xffffffff }),
    ),
    { numRuns: 60, seed: 20261122 },
  );
  for (const [v4, kind, a, a6, p1, p2, data, nat, other] of random) {
    const ip: IpSpec = v4
      ? { version: 4, source: a, destination: B4 }
      : { version: 6, source: a6, destination: B6 };
    const b = new Uint8Array(1400);
    const len =
      kind === 'tcp'
        ? buildTcp(
            b,
            0,
            ip,
            {
              sourcePort: p1,
              destinationPort: p2,
              sequenceNumber: other,
              acknowledgmentNumber: a,
              flags: TcpFlags.ACK,
            },
            data,
          )
        : kind === 'udp'
          ? buildUdp(b, 0, ip, { sourcePort: p1 || 1, destinationPort: p2 || 1 }, data)
          : buildIcmp(b, 0, ip, { type: v4 ? 8 : 128, identifier: p1, sequence: p2 }, data);
    if (nat) {
      pv.reset(b, 0, len);
      if (v4) rewriteIPv4Source(pv, other);
      else
        rewriteIPv6Destination(
          pv,
          a6.map((x) => x ^ 0x5a),
        );
      rewriteSourcePort(pv, p2 || 2);
      rewriteIcmpEchoIdentifier(pv, p2);
    }
    add(`random ${v4 ? 'v4' : 'v6'} ${kind}${nat ? ' NAT' : ''}`, b, len);
  }
  return cases;
}

describe('tshark cross-check', () => {
  it('tshark decodes every packet kind to the same fields and checksum verdicts', {
    ...skipWhen(tsharkReason),
    timeout: 120_000,
  }, () => {
    const cases = corpus();
    const dir = mkdtempSync(join(tmpdir(), 'ztun-packet-tshark-'));
    try {
      const pcap = new PcapWriter();
      const pcapng = new PcapngWriter({ interfaceName: 'ztun0' });
      cases.forEach((c, i) => {
        pcap.addPacket(c.bytes, 0, c.bytes.length, 1_700_000_000_000_000 + i * 1000);
        pcapng.addPacket(c.bytes, 0, c.bytes.length, 1_700_000_000_000_000 + i * 1000);
      });
      writeFileSync(join(dir, 'all.pcap'), pcap.toBytes());
      writeFileSync(join(dir, 'all.pcapng'), pcapng.toBytes());
      const decoded = runTshark(join(dir, 'all.pcap'));
      expect(decoded.length).toBe(cases.length);
      const pv = new PacketView();
      let compared = 0;
      const verdicts = { good: 0, bad: 0 };
      cases.forEach((c, i) => {
        expect(pv.reset(c.bytes), c.name).toBe(0);
        const want = expectedFields(pv);
        const got = tsharkFields(decoded[i]!);
        for (const [k, v] of Object.entries(want)) {
          expect(`${c.name}: ${k}=${got[k]}`).toBe(`${c.name}: ${k}=${v}`);
          compared++;
          if (k.endsWith('checksum.status')) v === '0' ? verdicts.bad++ : verdicts.good++;
        }
        // Timestamps survived (µs precision).
        const frame = decoded[i]!.frame as Record<string, string>;
        expect(frame['frame.time_epoch']).toMatch(
          new RegExp(
            `^${1_700_000_000 + Math.floor((i * 1000) / 1e6)}\\.${String((i * 1000) % 1e6).padStart(6, '0')}`,
          ),
        );
      });
      expect(verdicts.bad).toBe(3); // the two corrupted packets: v4 header + tcp, v6 udp
      expect(verdicts.good).toBeGreaterThan(cases.length);
      console.log(`tshark cross-check: ${cases.length} packets, ${compared} fields compared`);
      // pcapng decodes to the same packets.
      const ng = runTshark(join(dir, 'all.pcapng'));
      expect(ng.length).toBe(cases.length);
      expect(JSON.stringify(ng.map((l) => tsharkFields(l)))).toBe(
        JSON.stringify(decoded.map((l) => tsharkFields(l))),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
