// The batch UDP path (udp-batch.ts, tun-linux native/udp_relay.cc) against the per-datagram path (Node's
// dgram): for the same datagrams — random sizes including 0 and the largest, IPv4 and IPv6, several sessions
// interleaved in each TUN batch, direct and SOCKS5-framed (with frames from a foreign sender and fragments
// among the replies) — the peer sees the same bytes from each session, and the TUN gets the same reply
// packets, byte for byte, with the same drop counts. On loopback, in-process.
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import type { StackSockets } from '@ztun/packet';
import { skipUnless, waitFor } from '@ztun/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handler } from '../src/handler.js';
import { handlerFromOutbound } from '../src/handler-from-outbound.js';
import { directOutbound } from '../src/outbound-direct.js';
import { socks5Outbound } from '../src/outbound-socks5.js';
import { createStack } from '../src/stack.js';
import { buildUdpPacket, parseIp } from '../src/wire.js';
import { FakeDevice } from './fake-device.js';
import { perDatagramSockets } from './per-datagram-sockets.js';

const linux = process.platform === 'linux';

/** A peer socket that records what each sender port sent. */
async function peer(address: string) {
  // A receive buffer for a whole TUN batch of the largest datagrams (net.core.rmem_max permitting).
  const sock = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 });
  const seen = new Map<number, string[]>();
  let total = 0;
  sock.on('message', (m, r) => {
    const list = seen.get(r.port) ?? [];
    list.push(Buffer.from(m).toString('hex'));
    seen.set(r.port, list);
    total++;
  });
  await new Promise<void>((r) => sock.bind(0, address, () => r()));
  return { sock, seen, port: sock.address().port, total: () => total };
}

/** SOCKS5 (RFC 1928) with UDP ASSOCIATE only; its UDP relay records frames and can answer. */
async function miniSocks() {
  const relay = await peer('127.0.0.1');
  const server = net.createServer((c) => {
    let stage = 0;
    c.on('data', (d) => {
      if (stage === 0) {
        c.write(Buffer.from([5, 0]));
        stage = 1;
      } else if (stage === 1 && d[1] === 3) {
        const p = relay.port;
        c.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, p >> 8, p & 255]));
        stage = 2;
      }
    });
    c.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, relay, port: (server.address() as net.AddressInfo).port };
}

interface Datagram {
  session: number;
  size: number;
  fill: number;
}

const MAX4 = 65507;
const sessionsOf = [
  { src: '10.9.0.1', sport: 4001, family: 4 as const },
  { src: '10.9.0.2', sport: 4002, family: 4 as const },
  { src: 'fd00:9::1', sport: 4003, family: 6 as const },
];

function payload(size: number, fill: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = (fill + i * 7) & 255;
  return p;
}

/** Runs the datagrams (in TUN batches) through one stack; returns what the peer saw and the TUN got. */
async function run(
  sockets: StackSockets,
  viaSocks: boolean,
  batches: Datagram[][],
  replies: Datagram[],
  peers: { v4: Awaited<ReturnType<typeof peer>>; v6: Awaited<ReturnType<typeof peer>> },
  hideBatch = false,
) {
  const device = new FakeDevice({ mtu: 65535 });
  const socks = viaSocks ? await miniSocks() : undefined;
  const outbound = socks
    ? socks5Outbound({ host: '127.0.0.1', port: socks.port, sockets })
    : directOutbound({ sockets });
  const stack = createStack({
    device,
    handler: hideBatch ? hidingBatch(handlerFromOutbound(outbound)) : handlerFromOutbound(outbound),
    addresses: { ipv4: { tunAddress: '127.0.0.1' }, ipv6: { tunAddress: '::1' } },
    loopPrefixes: [],
  });
  await stack.start();
  // What reached the other side, per sender port: the peers, or the SOCKS5 relay (frames).
  const sink = (family: 4 | 6) => (socks ? socks.relay : family === 4 ? peers.v4 : peers.v6);
  const before = new Map([peers.v4, peers.v6, ...(socks ? [socks.relay] : [])].map((p) => [p, p.total()]));
  const expected = new Map<ReturnType<typeof sink>, number>();
  // First, one marker datagram per session, so its outbound socket can be told apart (portOf).
  const markers: Datagram[] = sessionsOf.map((_, i) => ({ session: i, size: -1, fill: i }));
  for (const b of [markers, ...batches]) {
    device.deliver(
      ...b.map((d) => {
        const s = sessionsOf[d.session]!;
        const dst = s.family === 4 ? '127.0.0.1' : '::1';
        const port = s.family === 4 ? peers.v4.port : peers.v6.port;
        const body = d.size < 0 ? Buffer.from(`marker-${d.session}`) : payload(d.size, d.fill);
        return buildUdpPacket(parseIp(s.src)!, s.sport, parseIp(dst)!, port, body);
      }),
    );
    for (const d of b) {
      const k = sink(sessionsOf[d.session]!.family);
      expected.set(k, (expected.get(k) ?? before.get(k)!) + 1);
    }
    // One TUN batch at a time, so no socket buffer overflows; SOCKS5 datagrams wait for the association.
    await waitFor('the datagrams at the other side', () => [...expected].every(([p, n]) => p.total() >= n));
  }
  // Replies: to each session's outbound socket (learnt from what the peer saw), in order.
  let want = 0;
  // Each session that gets replies ends with a small one: once the TUN has it, that socket's refused
  // replies before it were read too.
  const last = [...new Set(replies.map((r) => r.session))].map((session) => ({ session, size: 1, fill: 0 }));
  let foreign = 0;
  let bad = 0;
  for (const r of [...replies, ...last]) {
    const s = sessionsOf[r.session]!;
    // SOCKS5, RFC 1928 §7: a frame from anyone but the relay (here: the IPv4 peer) is dropped and counted;
    // one with FRAG ≠ 0 is dropped.
    const kind = socks ? (r.fill % 7 === 5 ? 'foreign' : r.fill % 7 === 6 ? 'fragment' : 'ok') : 'ok';
    const from = socks ? (kind === 'foreign' ? peers.v4 : socks.relay) : s.family === 4 ? peers.v4 : peers.v6;
    // The outbound socket of this session: the one whose recorded datagrams this session sent.
    const port = portOf(sink(s.family), r.session);
    if (port === undefined) continue;
    // At most what one IPv4 datagram can carry (the relay is IPv4; its header is 10 or 22 bytes).
    const header = socks ? (s.family === 4 ? 10 : 22) : 0;
    let msg = payload(Math.min(r.size, MAX4 - header), r.fill);
    if (socks) {
      const v6 = s.family === 6;
      const h = v6
        ? Buffer.from([0, 0, 0, 4, 0xfd, 0, 0, 0x42, ...new Array(11).fill(0), 1, 0x01, 0xbb])
        : Buffer.from([0, 0, 0, 1, 10, 1, 2, 3, 0x01, 0xbb]);
      if (kind === 'fragment') h[2] = 1;
      msg = Buffer.concat([h, msg]);
    }
    await new Promise<void>((res) =>
      from.sock.send(msg, port, socks ? '127.0.0.1' : s.family === 4 ? '127.0.0.1' : '::1', () => res()),
    );
    if (kind === 'foreign') foreign++;
    else if (kind === 'ok' && msg.length - header <= 65535 - 48) want++;
    else if (kind === 'ok') bad++;
    // One at a time: a Node dgram socket's default receive buffer holds only a few of the largest.
    await waitFor(
      'the reply handled',
      () =>
        device.written.length >= want &&
        stack.counters.drops.udpBadReply >= bad &&
        stack.counters.drops.udpForeignSender >= foreign,
    );
  }
  await stack.close();
  await outbound.close?.();
  socks?.server.close();
  socks?.relay.sock.close();
  const sent = (family: 4 | 6) =>
    [...sink(family).seen.values()].map((l) => l.map((h) => summary(Buffer.from(h, 'hex'))));
  const result = {
    sent4: sent(4),
    sent6: sent(6),
    written: device.written.map((w) => summary(w.bytes)).sort(),
    badReply: stack.counters.drops.udpBadReply,
    foreign: stack.counters.drops.udpForeignSender,
    batched: stack.counters.udpBatchSent + stack.counters.udpBatchReplies,
    gsoSends: stack.counters.udpGsoSends,
  };
  if (!socks) {
    peers.v4.seen.clear();
    peers.v6.seen.clear();
  }
  return result;
}

/** A wrapper that must see every datagram: it leaves `batch` out, so the relay serves it one at a time. */
function hidingBatch(inner: Handler): Handler {
  return {
    tcp: (conn, info) => inner.tcp(conn, info),
    udp(session) {
      const h = inner.udp(session);
      return { send: (payload, destination) => h.send(payload, destination), close: () => h.close() };
    },
  };
}

/** A packet or datagram in short: its length and a hash of its bytes (readable diffs). */
function summary(b: Uint8Array): string {
  return `${b.length}:${createHash('sha256').update(b).digest('hex').slice(0, 16)}:${Buffer.from(b.subarray(0, 28)).toString('hex')}`;
}

/** The sender port of a session: the one its marker datagram came from. */
function portOf(sink: { seen: Map<number, string[]> }, session: number): number | undefined {
  const hex = Buffer.from(`marker-${session}`).toString('hex');
  for (const [port, list] of sink.seen) if (list[0]!.endsWith(hex)) return port;
  return undefined;
}

const datagram = fc.record({
  session: fc.integer({ min: 0, max: sessionsOf.length - 1 }),
  size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1500 }), fc.constant(MAX4 - 32)),
  fill: fc.integer({ min: 0, max: 255 }),
});

/**
 * Runs for UDP GSO (tun-linux native/udp_send.h): one session's datagrams of one size back to back, the last
 * sometimes shorter, some runs too many or too large for one group (64 segments, 65507 bytes), so a batch
 * mixes groups, split groups and single datagrams.
 */
const run_ = fc.record({
  session: fc.integer({ min: 0, max: sessionsOf.length - 1 }),
  size: fc.oneof(fc.integer({ min: 1, max: 1500 }), fc.constant(20000)),
  count: fc.integer({ min: 2, max: 12 }),
  shorterLast: fc.boolean(),
  fill: fc.integer({ min: 0, max: 255 }),
});
const runsBatch = fc.array(run_, { minLength: 1, maxLength: 3 }).map((runs) =>
  runs.flatMap((r) =>
    Array.from({ length: r.count }, (_, k) => ({
      session: r.session,
      size: r.shorterLast && k === r.count - 1 ? Math.max(0, r.size - 1 - (r.fill % 50)) : r.size,
      fill: (r.fill + k) & 255,
    })),
  ),
);

/** Replies may also be too large for a reply packet (> 65535 - 48): both paths refuse and count them. */
const reply = fc.record({
  session: fc.integer({ min: 0, max: sessionsOf.length - 1 }),
  size: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 1500 }),
    fc.constant(MAX4 - 32),
    fc.constant(65500),
  ),
  fill: fc.integer({ min: 0, max: 255 }),
});

describe(
  'batch UDP path ≡ per-datagram path',
  skipUnless(linux, `the batch path is Linux's addon (this is ${process.platform})`),
  () => {
    let sockets: StackSockets;
    let perDatagram: StackSockets;
    let peers: { v4: Awaited<ReturnType<typeof peer>>; v6: Awaited<ReturnType<typeof peer>> };
    beforeAll(async () => {
      ({ linuxSockets: sockets } = await import('@ztun/tun-linux'));
      perDatagram = perDatagramSockets(sockets);
      peers = { v4: await peer('127.0.0.1'), v6: await peer('::1') };
    });
    afterAll(() => {
      peers?.v4.sock.close();
      peers?.v6.sock.close();
    });

    for (const viaSocks of [false, true]) {
      it(`same bytes on the socket side and the same reply packets on the TUN (${viaSocks ? 'SOCKS5' : 'direct'})`, async () => {
        expect(sockets.udpRelay).toBeDefined();
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.array(datagram, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }),
            fc.array(reply, { maxLength: 6 }),
            async (batches, replies) => {
              const a = await run(perDatagram, viaSocks, batches, replies, peers);
              const b = await run(sockets, viaSocks, batches, replies, peers);
              // The relay behind a wrapper that hides `batch`: one datagram per send(), replies per datagram.
              const c = await run(sockets, viaSocks, batches, replies, peers, true);
              expect(a.batched).toBe(0);
              expect(b.batched).toBeGreaterThan(0);
              expect(c.batched).toBe(0);
              for (const x of [b, c]) {
                expect(x.sent4.map((l) => l.join()).sort()).toEqual(a.sent4.map((l) => l.join()).sort());
                expect(x.sent6.map((l) => l.join()).sort()).toEqual(a.sent6.map((l) => l.join()).sort());
                expect(x.written).toEqual(a.written);
                expect(x.badReply).toBe(a.badReply);
                expect(x.foreign).toBe(a.foreign);
              }
            },
          ),
          { numRuns: 15 },
        );
      }, 120_000);

      it(`UDP GSO groups carry the same datagrams, boundaries and order as one send per datagram (${viaSocks ? 'SOCKS5' : 'direct'})`, async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(runsBatch, { minLength: 1, maxLength: 3 }), async (batches) => {
            const a = await run(perDatagram, viaSocks, batches, [], peers);
            const b = await run(sockets, viaSocks, batches, [], peers);
            expect(a.gsoSends).toBe(0);
            // Every batch has a run of ≥ 2 datagrams of one session and length: at least one group per batch.
            expect(b.gsoSends).toBeGreaterThanOrEqual(batches.length);
            // Per sender port, in order: each datagram whole, none merged or split.
            expect(b.sent4.map((l) => l.join()).sort()).toEqual(a.sent4.map((l) => l.join()).sort());
            expect(b.sent6.map((l) => l.join()).sort()).toEqual(a.sent6.map((l) => l.join()).sort());
          }),
          { numRuns: 15 },
        );
      }, 120_000);
    }
  },
);
