// UDP GSO replies (issue 17 item 4, tun-linux native/udp_socket_io.h AddToRun): a burst of replies to a session,
// written to a device that takes UDP super-packets (offload.uso), and cut the way Linux cuts them
// (net/ipv4/udp_offload.c __udp_gso_segment, modelled below), equals the per-datagram path's reply packets
// byte for byte — IPv4 and IPv6, runs of one size with a shorter last one, size changes, runs longer than 64
// datagrams; directly and through a SOCKS5 relay (RFC 1928 §7 framing stripped in the same pass). The one field that may differ is the IPv4 identification: Linux numbers the segments of a UDP
// super-packet id, id + 1, … (net/ipv4/af_inet.c inet_gso_segment), where ztun's single replies carry 0; both
// are atomic datagrams (DF), whose ID RFC 6864 §4.1 says receivers ignore. The model checks the numbering,
// then the comparison sets it back to 0 (header checksum redone). On loopback, in-process.
import dgram from 'node:dgram';
import net from 'node:net';
import type { StackSockets } from '@ztun/packet';
import { skipUnless, waitFor } from '@ztun/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handlerFromOutbound } from '../src/handler-from-outbound.js';
import { directOutbound } from '../src/outbound-direct.js';
import { socks5Outbound } from '../src/outbound-socks5.js';
import { createStack } from '../src/stack.js';
import { buildUdpPacket, parseIp } from '../src/wire.js';
import { FakeDevice, type Written } from './fake-device.js';
import { perDatagramSockets } from './per-datagram-sockets.js';

const linux = process.platform === 'linux';

const get16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const put16 = (b: Uint8Array, o: number, v: number) => {
  b[o] = (v >> 8) & 255;
  b[o + 1] = v & 255;
};
/** One's-complement sum (RFC 1071), unfolded, of b[from, to). */
function sum(b: Uint8Array, from: number, to: number, acc = 0): number {
  for (let i = from; i < to; i += 2) acc += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  return acc;
}
const fold = (s: number) => {
  let x = s;
  while (x > 0xffff) x = (x & 0xffff) + Math.floor(x / 0x10000);
  return x;
};
const add16 = (a: number, b: number) => fold(a + b);

/**
 * Linux's __udp_gso_segment, in short: the payload cut into gso-byte pieces, each under a copy of the
 * headers with its lengths; the UDP checksum from the partial (pseudo-header) sum adjusted for the new length
 * (csum16_add(csum16_sub(check, len), newlen)) and then completed over UDP header + payload, 0 sent as 0xffff;
 * IPv4: identification id + k, header checksum redone (inet_gso_segment, ip_send_check).
 */
function segment(w: Written): Uint8Array[] {
  const p = w.bytes;
  const v4 = p[0]! >> 4 === 4;
  const l4 = v4 ? (p[0]! & 15) * 4 : 40;
  const oldLen = get16(p, l4 + 4);
  const partial = get16(p, l4 + 6);
  const out: Uint8Array[] = [];
  const id = v4 ? get16(p, 4) : 0;
  for (let at = l4 + 8, k = 0; at < p.length; at += w.gso, k++) {
    const end = Math.min(at + w.gso, p.length);
    const s = new Uint8Array(l4 + 8 + end - at);
    s.set(p.subarray(0, l4 + 8));
    s.set(p.subarray(at, end), l4 + 8);
    const len = 8 + end - at;
    put16(s, l4 + 4, len);
    put16(s, l4 + 6, add16(add16(partial, ~oldLen & 0xffff), len));
    const c = ~fold(sum(s, l4, s.length)) & 0xffff;
    put16(s, l4 + 6, c === 0 ? 0xffff : c);
    if (v4) {
      put16(s, 2, s.length);
      put16(s, 4, (id + k) & 0xffff);
      put16(s, 10, 0);
      put16(s, 10, ~fold(sum(s, 0, 20)) & 0xffff);
    } else {
      put16(s, 4, len);
    }
    out.push(s);
  }
  return out;
}

/** An IPv4 packet with identification 0 (header checksum redone); IPv6 as it is. */
function idZero(p: Uint8Array): string {
  const s = p.slice();
  if (s[0]! >> 4 === 4) {
    put16(s, 4, 0);
    put16(s, 10, 0);
    put16(s, 10, ~fold(sum(s, 0, 20)) & 0xffff);
  }
  return Buffer.from(s).toString('hex');
}

interface Run {
  size: number;
  count: number;
  shorterLast: boolean;
  fill: number;
}

/** The datagrams of a burst: each run's, in order; a run's last one maybe shorter. */
function burst(runs: Run[]): Buffer[] {
  return runs.flatMap((r) =>
    Array.from({ length: r.count }, (_, k) => {
      const n = r.shorterLast && k === r.count - 1 ? Math.max(0, r.size - 1 - (r.fill % 50)) : r.size;
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (r.fill + k * 13 + i * 7) & 255;
      return b;
    }),
  );
}

/** One session per family through a stack; each family's burst sent back-to-back to its outbound socket. */
/** A peer per family, the same for every run (the replies' source port is part of the bytes compared). */
interface Peer {
  sock: dgram.Socket;
  from: number;
}
async function peer(family: 4 | 6): Promise<Peer> {
  const sock = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
  await new Promise<void>((r) => sock.bind(0, family === 4 ? '127.0.0.1' : '::1', () => r()));
  const p = { sock, from: 0 };
  sock.on('message', (_m, r) => {
    p.from = r.port;
  });
  return p;
}

/** SOCKS5 (RFC 1928) with UDP ASSOCIATE only, its UDP relay at `relay` (IPv4). */
async function miniSocks(relay: Peer): Promise<net.Server> {
  const server = net.createServer((c) => {
    let stage = 0;
    c.on('data', (d) => {
      if (stage === 0) {
        c.write(Buffer.from([5, 0]));
        stage = 1;
      } else if (stage === 1 && d[1] === 3) {
        const p = relay.sock.address().port;
        c.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, p >> 8, p & 255]));
        stage = 2;
      }
    });
    c.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}

/** The RFC 1928 §7 header a reply comes with through the SOCKS5 relay: from 10.1.2.3 / fd00:0:0:42::1, 443. */
const FRAME4 = Buffer.from([0, 0, 0, 1, 10, 1, 2, 3, 0x01, 0xbb]);
const FRAME6 = Buffer.from([
  0,
  0,
  0,
  4,
  0xfd,
  0,
  0,
  0,
  0,
  0,
  0,
  0x42,
  ...new Array(7).fill(0),
  1,
  0x01,
  0xbb,
]);

async function replies(
  sockets: StackSockets,
  uso: boolean,
  bursts: { v4: Buffer[]; v6: Buffer[] },
  peers: { v4: Peer; v6: Peer },
  socks?: { server: net.Server; relay: Peer },
) {
  const device = new FakeDevice({ mtu: 65535, uso });
  const outbound = socks
    ? socks5Outbound({ host: '127.0.0.1', port: (socks.server.address() as net.AddressInfo).port, sockets })
    : directOutbound({ sockets });
  const stack = createStack({
    device,
    handler: handlerFromOutbound(outbound),
    addresses: { ipv4: { tunAddress: '127.0.0.1' }, ipv6: { tunAddress: '::1' } },
    loopPrefixes: [],
  });
  await stack.start();
  let want = 0;
  for (const [family, list] of [
    [4, bursts.v4],
    [6, bursts.v6],
  ] as const) {
    const address = family === 4 ? '127.0.0.1' : '::1';
    const dst = family === 4 ? peers.v4 : peers.v6;
    // Through SOCKS5 the session's datagrams reach the relay, and the replies come from it, framed.
    const p = socks ? socks.relay : dst;
    const sock = p.sock;
    p.from = 0;
    const src = family === 4 ? '10.9.0.1' : 'fd00:9::1';
    device.deliver(
      buildUdpPacket(
        parseIp(src)!,
        4000 + family,
        parseIp(address)!,
        dst.sock.address().port,
        Buffer.from('hi'),
      ),
    );
    await waitFor('the session socket', () => p.from !== 0);
    if (socks) {
      // The first datagram may have gone before the association was up, on the per-datagram path; the
      // session takes the batch path (and has its replies built by the relay) from its next one.
      p.from = 0;
      device.deliver(
        buildUdpPacket(
          parseIp(src)!,
          4000 + family,
          parseIp(address)!,
          dst.sock.address().port,
          Buffer.from('hi'),
        ),
      );
      await waitFor('the session socket again', () => p.from !== 0);
    }
    // All sent before the loop turns: the session's socket holds the burst when the relay reads it.
    if (socks) {
      const frame = family === 4 ? FRAME4 : FRAME6;
      for (const d of list) sock.send(Buffer.concat([frame, d]), p.from, '127.0.0.1');
    } else {
      for (const d of list) sock.send(d, p.from, address);
    }
    want += list.length;
    await waitFor('every reply on the TUN', () => datagrams(device.written) >= want);
  }
  const counters = { ...stack.counters, drops: { ...stack.counters.drops } };
  await stack.close();
  await outbound.close?.();
  return { written: device.written, counters };
}

function datagrams(written: Written[]): number {
  let n = 0;
  for (const w of written) n += w.gso > 0 ? segment(w).length : 1;
  return n;
}

const runArb = fc.record({
  size: fc.oneof(fc.integer({ min: 1, max: 1500 }), fc.constant(4000)),
  count: fc.integer({ min: 1, max: 40 }),
  shorterLast: fc.boolean(),
  fill: fc.integer({ min: 0, max: 255 }),
});
// A burst fits the default receive buffer (~208 KiB, counted with ~1 KiB of overhead per datagram) of the
// per-datagram path's Node socket, which must not drop any.
const runsArb = fc
  .array(runArb, { minLength: 1, maxLength: 3 })
  .filter((rs) => rs.reduce((a, r) => a + (r.size + 1200) * r.count, 0) <= 120_000);

describe(
  'UDP GSO replies ≡ per-datagram replies',
  skipUnless(linux, `the batch path is Linux's addon (this is ${process.platform})`),
  () => {
    let sockets: StackSockets;
    let perDatagram: StackSockets;
    let peers: { v4: Peer; v6: Peer };
    let socks: { server: net.Server; relay: Peer };
    beforeAll(async () => {
      peers = { v4: await peer(4), v6: await peer(6) };
      const relay = await peer(4);
      socks = { server: await miniSocks(relay), relay };
      ({ linuxSockets: sockets } = await import('@ztun/tun-linux'));
      perDatagram = perDatagramSockets(sockets);
    });
    afterAll(() => {
      peers?.v4.sock.close();
      peers?.v6.sock.close();
      socks?.relay.sock.close();
      socks?.server.close();
    });

    for (const viaSocks of [false, true])
      it(`a burst written as UDP super-packets and cut as Linux cuts them is the per-datagram replies, v4 and v6 (${viaSocks ? 'SOCKS5' : 'direct'})`, async () => {
        expect(sockets.udpRelay).toBeDefined();
        await fc.assert(
          fc.asyncProperty(runsArb, runsArb, async (r4, r6) => {
            const bursts = { v4: burst(r4), v6: burst(r6) };
            const a = await replies(perDatagram, false, bursts, peers, viaSocks ? socks : undefined);
            const b = await replies(sockets, true, bursts, peers, viaSocks ? socks : undefined);
            const supers = b.written.filter((w) => w.gso > 0);
            // A run of ≥ 2 same-size datagrams in a burst: the relay read it at once and wrote super-packets.
            if ([...r4, ...r6].some((r) => r.count >= 3)) expect(supers.length).toBeGreaterThan(0);
            expect(b.counters.udpUsoWrites).toBe(supers.length);
            for (const w of supers) {
              expect(w.flags & 1).toBe(1); // checksum partial
              expect(w.bytes.length - ((w.bytes[0]! >> 4 === 4 ? 20 : 40) + 8)).toBeLessThanOrEqual(65507);
              expect(Math.ceil((w.bytes.length - 28) / w.gso)).toBeLessThanOrEqual(64);
            }
            const cut = b.written.flatMap((w) => (w.gso > 0 ? segment(w) : [w.bytes]));
            expect(b.counters.udpBatchReplies).toBe(cut.length);
            expect(cut.map(idZero)).toEqual(a.written.map((w) => idZero(w.bytes)));
            // Single replies keep identification 0 and complete checksums: byte for byte without normalizing.
            const plain = b.written
              .filter((w) => w.gso === 0)
              .map((w) => Buffer.from(w.bytes).toString('hex'));
            const reference = new Set(a.written.map((w) => Buffer.from(w.bytes).toString('hex')));
            for (const p of plain) expect(reference.has(p)).toBe(true);
          }),
          { numRuns: 12 },
        );
      }, 120_000);
  },
);
