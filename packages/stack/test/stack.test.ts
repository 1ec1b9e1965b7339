// The stack's packet path against an in-memory device (no TUN, no namespaces): NAT rewrites with valid
// checksums, RST generation, ICMP echo, UDP sessions and replies, malformed input. The kernel listeners bind
// on loopback (127.0.0.1 / ::1), which is all the unit tests need.
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { checksumFinish, checksumPartial, type PacketBatch, type TunDevice } from '@ztun/packet';
import { waitFor } from '@ztun/testkit';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Handler, Outbound, UdpSession } from '../src/handler.js';
import { TcpNatTable } from '../src/nat.js';
import { ownSockets } from '../src/own-sockets.js';
import { createStack, type Stack, type StackOptions } from '../src/stack.js';
import { buildUdpPacket, parseIp } from '../src/wire.js';

// Reference checksums, computed from scratch (the stack itself only ever updates them incrementally).
const sum16 = (b: Uint8Array, off: number, len: number, acc = 0) => checksumPartial(b, off, len, acc);
const finish = checksumFinish;
const pseudoSum = (src: Uint8Array, dst: Uint8Array, proto: number, length: number) =>
  sum16(src, 0, src.length) + sum16(dst, 0, dst.length) + proto + length;

class FakeDevice implements TunDevice {
  readonly name = 'fake0';
  readonly index = 1;
  readonly mtu = 65535;
  readonly counters = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, rxDropped: 0, txDropped: 0 };
  written: Uint8Array[] = [];
  /** The flags byte each written packet went with (0 for write() and batches without flags). */
  writtenFlags: number[] = [];
  /** The GSO size each written packet went with (0 for write() and batches without gsoSize). */
  writtenGso: number[] = [];
  private receiver: ((b: PacketBatch) => void) | undefined;
  onBatch(r: (b: PacketBatch) => void): void {
    this.receiver = r;
  }
  pause(): void {}
  resume(): void {}
  writeBatch(b: PacketBatch): void {
    for (let i = 0; i < b.count; i++) {
      this.written.push(b.data.slice(b.offsets[i]!, b.offsets[i]! + b.lengths[i]!));
      this.writtenFlags.push(b.flags ? b.flags[i]! : 0);
      this.writtenGso.push(b.gsoSize ? b.gsoSize[i]! : 0);
    }
  }
  write(p: Uint8Array): void {
    this.written.push(p.slice());
    this.writtenFlags.push(0);
    this.writtenGso.push(0);
  }
  onError(): void {}
  async close(): Promise<void> {}
  /** Delivers packets as one batch in a shared buffer with an offset, like a real device. */
  deliver(packets: Uint8Array[], flags?: Uint8Array, gsoSize?: Uint16Array): void {
    const total = packets.reduce((a, p) => a + p.length + 8, 16);
    const data = new Uint8Array(total);
    const offsets = new Uint32Array(packets.length);
    const lengths = new Uint32Array(packets.length);
    let o = 16;
    packets.forEach((p, i) => {
      data.set(p, o);
      offsets[i] = o;
      lengths[i] = p.length;
      o += p.length + 8;
    });
    this.receiver!({
      count: packets.length,
      data,
      offsets,
      lengths,
      ...(flags ? { flags } : {}),
      ...(gsoSize ? { gsoSize } : {}),
    });
  }
  take(): Uint8Array[] {
    const w = this.written;
    this.written = [];
    this.writtenFlags = [];
    this.writtenGso = [];
    return w;
  }
}

function ip(text: string): Uint8Array {
  const b = parseIp(text);
  if (!b) throw new Error(text);
  return b;
}

function ipHeader(src: Uint8Array, dst: Uint8Array, proto: number, payloadLen: number): Uint8Array {
  if (src.length === 4) {
    const h = new Uint8Array(20);
    h[0] = 0x45;
    h[2] = (20 + payloadLen) >> 8;
    h[3] = (20 + payloadLen) & 0xff;
    h[8] = 64;
    h[9] = proto;
    h.set(src, 12);
    h.set(dst, 16);
    const c = finish(sum16(h, 0, 20));
    h[10] = c >> 8;
    h[11] = c & 0xff;
    return h;
  }
  const h = new Uint8Array(40);
  h[0] = 0x60;
  h[4] = payloadLen >> 8;
  h[5] = payloadLen & 0xff;
  h[6] = proto;
  h[7] = 64;
  h.set(src, 8);
  h.set(dst, 24);
  return h;
}

function tcpPacket(
  src: string,
  sport: number,
  dst: string,
  dport: number,
  flags: number,
  payload: Uint8Array = new Uint8Array(0),
  seq = 1000,
  ack = 0,
): Uint8Array {
  const s = ip(src);
  const d = ip(dst);
  const t = new Uint8Array(20 + payload.length);
  t[0] = sport >> 8;
  t[1] = sport & 0xff;
  t[2] = dport >> 8;
  t[3] = dport & 0xff;
  new DataView(t.buffer).setUint32(4, seq);
  new DataView(t.buffer).setUint32(8, ack);
  t[12] = 5 << 4;
  t[13] = flags;
  t[14] = 0xff;
  t[15] = 0xff;
  t.set(payload, 20);
  const c = finish(sum16(t, 0, t.length, pseudoSum(s, d, 6, t.length)));
  t[16] = c >> 8;
  t[17] = c & 0xff;
  const h = ipHeader(s, d, 6, t.length);
  const out = new Uint8Array(h.length + t.length);
  out.set(h);
  out.set(t, h.length);
  return out;
}

function icmpEcho(src: string, dst: string): Uint8Array {
  const s = ip(src);
  const d = ip(dst);
  const v4 = s.length === 4;
  const m = new Uint8Array(8 + 16);
  m[0] = v4 ? 8 : 128;
  m[5] = 7; // id
  m[7] = 1; // seq
  m.fill(0xab, 8);
  const c = finish(sum16(m, 0, m.length, v4 ? 0 : pseudoSum(s, d, 58, m.length)));
  m[2] = c >> 8;
  m[3] = c & 0xff;
  const h = ipHeader(s, d, v4 ? 1 : 58, m.length);
  const out = new Uint8Array(h.length + m.length);
  out.set(h);
  out.set(m, h.length);
  return out;
}

interface Parsed {
  v: 4 | 6;
  src: string;
  dst: string;
  proto: number;
  l4: Uint8Array;
  sport: number;
  dport: number;
  flags: number;
  ipChecksumOk: boolean;
  l4ChecksumOk: boolean;
}

function parse(p: Uint8Array): Parsed {
  const v = (p[0]! >> 4) as 4 | 6;
  const hl = v === 4 ? (p[0]! & 15) * 4 : 40;
  const srcB = v === 4 ? p.subarray(12, 16) : p.subarray(8, 24);
  const dstB = v === 4 ? p.subarray(16, 20) : p.subarray(24, 40);
  const proto = v === 4 ? p[9]! : p[6]!;
  const l4 = p.subarray(hl);
  const fmt = (b: Uint8Array) => (v === 4 ? [...b].join('.') : formatV6(b));
  const pseudo = proto === 1 ? 0 : pseudoSum(srcB, dstB, proto, l4.length);
  return {
    v,
    src: fmt(srcB),
    dst: fmt(dstB),
    proto,
    l4,
    sport: (l4[0]! << 8) | l4[1]!,
    dport: (l4[2]! << 8) | l4[3]!,
    flags: l4[13] ?? 0,
    ipChecksumOk: v === 6 || finish(sum16(p, 0, hl)) === 0,
    l4ChecksumOk: finish(sum16(l4, 0, l4.length, pseudo)) === 0,
  };
}

function formatV6(b: Uint8Array): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

const stacks: Stack[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

interface UdpLog {
  sessions: UdpSession[];
  sent: Array<{ payload: Uint8Array; to: string }>;
  closed: number;
}

async function makeStack(extra: Record<string, unknown> = {}) {
  const device = new FakeDevice();
  const udp: UdpLog = { sessions: [], sent: [], closed: 0 };
  const tcp: Array<{ info: unknown }> = [];
  const handler: Handler = {
    tcp(conn, info) {
      tcp.push({ info });
      conn.destroy();
    },
    udp(session) {
      udp.sessions.push(session);
      return {
        send(payload, destination) {
          udp.sent.push({ payload, to: `${destination.address}:${destination.port}` });
        },
        close() {
          udp.closed++;
        },
      };
    },
  };
  const stack = createStack({
    device,
    handler,
    addresses: { ipv4: { tunAddress: '127.0.0.1' }, ipv6: { tunAddress: '::1' } },
    ...extra,
  });
  stacks.push(stack);
  await stack.start();
  return { device, stack, udp, tcp };
}

describe('TcpNatTable', () => {
  it('allocates round-robin, finds flows, never hands out a port in use, and refuses when full', () => {
    const t = new TcpNatTable({ addressLength: 4, maxSessions: 3, portMin: 5000, portMax: 5003 });
    const buf = new Uint8Array([10, 0, 0, 1, 10, 0, 0, 2]);
    const a = t.allocate(buf, 0, 1111, 4, 80, 0);
    const b = t.allocate(buf, 0, 2222, 4, 80, 0);
    expect([a, b]).toEqual([5000, 5001]);
    expect(t.lookup(buf, 0, 1111, 4, 80)).toBe(a);
    expect(t.lookup(buf, 0, 2222, 4, 80)).toBe(b);
    expect(t.lookup(buf, 0, 3333, 4, 80)).toBe(-1);
    t.release(a);
    expect(t.lookup(buf, 0, 1111, 4, 80)).toBe(-1);
    // Round-robin: the freed port is not reused before the others.
    expect(t.allocate(buf, 0, 3333, 4, 80, 0)).toBe(5002);
    expect(t.allocate(buf, 0, 4444, 4, 80, 0)).toBe(5003);
    expect(t.allocate(buf, 0, 5555, 4, 80, 0)).toBe(-1); // maxSessions 3
    t.release(b);
    expect(t.allocate(buf, 0, 5555, 4, 80, 0)).toBe(5000); // the cursor wraps to 5000, free again
    expect(t.count).toBe(3);
  });

  it('keeps many IPv6 flows apart (hash chains)', () => {
    const t = new TcpNatTable({ addressLength: 16, maxSessions: 60000 });
    const buf = new Uint8Array(32);
    buf.set(ip('fd00::1'), 0);
    buf.set(ip('fd00::2'), 16);
    const ports = new Map<number, number>();
    for (let sp = 1; sp <= 20000; sp++) ports.set(sp, t.allocate(buf, 0, sp, 16, 443, 0));
    expect(new Set(ports.values()).size).toBe(20000);
    for (const [sp, np] of ports) expect(t.lookup(buf, 0, sp, 16, 443)).toBe(np);
    for (let sp = 1; sp <= 20000; sp += 2) t.release(ports.get(sp)!);
    for (const [sp, np] of ports) expect(t.lookup(buf, 0, sp, 16, 443)).toBe(sp % 2 ? -1 : np);
  });
});

describe('stack packet path (fake device)', () => {
  it('rewrites a client SYN onto the listener and the reply back, with valid checksums (IPv4 and IPv6)', async () => {
    const { device, stack } = await makeStack();
    for (const [client, server, tun, nat] of [
      ['127.0.0.1', '10.9.9.9', '127.0.0.1', '127.0.0.2'],
      ['::1', 'fd00::99', '::1', '::2'],
    ] as const) {
      const v = client.includes(':') ? 6 : 4;
      device.deliver([tcpPacket(client, 40000, server, 80, 0x02, new Uint8Array([1, 2, 3]))]);
      const [fwd] = device.take();
      const f = parse(fwd!);
      expect(f).toMatchObject({
        src: nat,
        dst: tun,
        sport: expect.any(Number),
        dport: stack.listenPorts[v === 4 ? 'ipv4' : 'ipv6'],
      });
      expect(f.ipChecksumOk && f.l4ChecksumOk).toBe(true);
      const natPort = f.sport;
      // The listener's SYN-ACK comes back out of the TUN.
      device.deliver([tcpPacket(tun, f.dport, nat, natPort, 0x12, new Uint8Array(100).fill(9))]);
      const [back] = device.take();
      const b = parse(back!);
      expect(b).toMatchObject({ src: server, dst: client, sport: 80, dport: 40000, flags: 0x12 });
      expect(b.ipChecksumOk && b.l4ChecksumOk).toBe(true);
      // Same flow again maps to the same NAT port.
      device.deliver([tcpPacket(client, 40000, server, 80, 0x10, new Uint8Array(5000).fill(4))]);
      expect(parse(device.take()[0]!).sport).toBe(natPort);
    }
    expect(stack.counters.tcpTotal).toBe(2);
  });

  it('checksum offload: partial TCP is NATed as a partial sum and written back flagged; partial UDP is not verified; a capture gets completed checksums', async () => {
    // As an offload device delivers them: the checksum field holds only the folded pseudo-header sum.
    const asPartial = (p: Uint8Array, sumAt: number): Uint8Array => {
      const f = parse(p);
      const hl = p.length - f.l4.length;
      const srcB = f.v === 4 ? p.subarray(12, 16) : p.subarray(8, 24);
      const dstB = f.v === 4 ? p.subarray(16, 20) : p.subarray(24, 40);
      let s = pseudoSum(srcB, dstB, f.proto, f.l4.length);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      p[hl + sumAt] = s >> 8;
      p[hl + sumAt + 1] = s & 0xff;
      return p;
    };
    const complete = (p: Uint8Array, sumAt: number): Uint8Array => {
      const hl = p.length - parse(p).l4.length;
      const c = finish(sum16(p, hl, p.length - hl));
      p[hl + sumAt] = c >> 8;
      p[hl + sumAt + 1] = c & 0xff;
      return p;
    };
    const { device, udp, stack } = await makeStack();
    for (const [client, server] of [
      ['127.0.0.1', '10.9.9.9'],
      ['::1', 'fd00::99'],
    ] as const) {
      const syn = asPartial(tcpPacket(client, 40100, server, 80, 0x02, new Uint8Array(300).fill(7)), 16);
      expect(parse(syn).l4ChecksumOk).toBe(false); // not a finished checksum
      device.deliver([syn], Uint8Array.of(1));
      expect(device.writtenFlags).toEqual([1]);
      const [fwd] = device.take();
      expect(parse(fwd!).ipChecksumOk).toBe(true);
      expect(parse(fwd!).l4ChecksumOk).toBe(false); // still partial…
      expect(parse(complete(fwd!, 16)).l4ChecksumOk).toBe(true); // …and right once the kernel finishes it
    }
    const dgram = asPartial(
      buildUdpPacket(ip('127.0.0.1'), 5353, ip('10.2.2.2'), 53, Uint8Array.of(1, 2, 3)),
      6,
    );
    device.deliver([dgram], Uint8Array.of(1));
    expect(udp.sent.length).toBe(1);
    expect(stack.counters.drops.badChecksum).toBe(0);

    // With a capture: recorded with its checksum completed, written back still partial (the partial sum put
    // back after the record), so a super-packet keeps what the device needs.
    const captured: Uint8Array[] = [];
    const cap = await makeStack({ pcap: { write: (b: Uint8Array) => captured.push(b.slice()) } });
    const syn = asPartial(tcpPacket('127.0.0.1', 40200, '10.9.9.9', 80, 0x02), 16);
    cap.device.deliver([syn], Uint8Array.of(1));
    expect(cap.device.writtenFlags).toEqual([1]);
    expect(parse(complete(cap.device.take()[0]!, 16)).l4ChecksumOk).toBe(true);
    // The pcap stream: a 24-byte file header, then per packet a 16-byte record header and the packet.
    const stream = Buffer.concat(captured);
    const records: Uint8Array[] = [];
    for (let at = 24; at < stream.length; ) {
      const len = stream.readUInt32LE(at + 8);
      records.push(stream.subarray(at + 16, at + 16 + len));
      at += 16 + len;
    }
    expect(records.length).toBe(2); // as read, and as written back
    for (const r of records) expect(parse(r).l4ChecksumOk).toBe(true);
  });

  it('TSO: a TCP super-packet is NATed as one packet and written back with its gsoSize and flags', async () => {
    const { device } = await makeStack();
    for (const [client, server] of [
      ['127.0.0.1', '10.9.9.9'],
      ['::1', 'fd00::99'],
    ] as const) {
      const syn = tcpPacket(client, 40300, server, 80, 0x02);
      device.deliver([syn]);
      device.take();
      // 20,000 bytes of payload with gso_size 1448 (14 segments), ECN bit set, checksum partial.
      const big = tcpPacket(client, 40300, server, 80, 0x18, new Uint8Array(20_000).fill(9));
      const f = parse(big);
      const hl = big.length - f.l4.length;
      let s = pseudoSum(
        f.v === 4 ? big.subarray(12, 16) : big.subarray(8, 24),
        f.v === 4 ? big.subarray(16, 20) : big.subarray(24, 40),
        6,
        f.l4.length,
      );
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      big[hl + 16] = s >> 8;
      big[hl + 17] = s & 0xff;
      device.deliver([big], Uint8Array.of(1 | 2), Uint16Array.of(1448));
      expect(device.writtenFlags).toEqual([1 | 2]);
      expect(device.writtenGso).toEqual([1448]);
      const [fwd] = device.take();
      expect(fwd!.length).toBe(big.length);
      const p = parse(fwd!);
      expect(p.ipChecksumOk).toBe(true);
      expect(p.src).not.toBe(client); // NATed onto the listener
      // The partial sum now is the rewritten packet's pseudo-header sum.
      const hl2 = fwd!.length - p.l4.length;
      let e = pseudoSum(
        p.v === 4 ? fwd!.subarray(12, 16) : fwd!.subarray(8, 24),
        p.v === 4 ? fwd!.subarray(16, 20) : fwd!.subarray(24, 40),
        6,
        p.l4.length,
      );
      while (e > 0xffff) e = (e & 0xffff) + (e >>> 16);
      expect((fwd![hl2 + 16]! << 8) | fwd![hl2 + 17]!).toBe(e);
    }
  });

  it('keeps checksums valid for any payload, ports and addresses (incremental update)', async () => {
    const { device } = await makeStack();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 1, max: 65535 }),
        fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)),
        (payload, sport, dport, [a, b, c]) => {
          device.deliver([
            tcpPacket('127.0.0.1', sport, `10.${a}.${b}.${c}`, dport, 0x02, payload, a * 77777),
          ]);
          const out = device.take();
          expect(out.length).toBe(1);
          const p = parse(out[0]!);
          return p.ipChecksumOk && p.l4ChecksumOk && p.src === '127.0.0.2';
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers segments of unknown flows with a RST, and SYNs with RST when the table is full', async () => {
    const { device, stack } = await makeStack({ maxTcpSessions: 1 });
    device.deliver([tcpPacket('127.0.0.1', 40001, '10.1.1.1', 80, 0x10, new Uint8Array(10), 5000, 777)]);
    let [rst] = device.take();
    let r = parse(rst!);
    expect(r).toMatchObject({ src: '10.1.1.1', dst: '127.0.0.1', sport: 80, dport: 40001, flags: 0x04 });
    expect(new DataView(r.l4.buffer, r.l4.byteOffset).getUint32(4)).toBe(777); // seq = their ack
    expect(r.l4ChecksumOk && r.ipChecksumOk).toBe(true);
    expect(stack.counters.drops.tcpNoSession).toBe(1);
    device.deliver([tcpPacket('127.0.0.1', 40002, '10.1.1.1', 80, 0x02)]);
    expect(device.take().length).toBe(1); // forwarded
    device.deliver([tcpPacket('127.0.0.1', 40003, '10.1.1.1', 80, 0x02, new Uint8Array(0), 9000)]);
    [rst] = device.take();
    r = parse(rst!);
    expect(r.flags).toBe(0x14);
    expect(new DataView(r.l4.buffer, r.l4.byteOffset).getUint32(8)).toBe(9001); // ack = seq + SYN
    expect(stack.counters.drops.tcpTableFull).toBe(1);
  });

  it('resets connections to the listener that no NAT entry maps', async () => {
    const { stack } = await makeStack();
    const sock = net.connect({ host: '127.0.0.1', port: stack.listenPorts.ipv4! });
    const outcome = await new Promise<string>((resolve) => {
      sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      sock.on('close', () => resolve('closed'));
    });
    expect(['ECONNRESET', 'closed']).toContain(outcome);
    await waitFor('the unmapped accept counted', () => stack.counters.drops.tcpUnmappedAccept === 1, 15_000);
  });

  it("gives accepted sockets the listener's shared functions (no closure per connection) and counts them out on close", async () => {
    const accepted: net.Socket[] = [];
    const handler: Handler = {
      tcp(conn) {
        accepted.push(conn as unknown as net.Socket);
      },
      udp: () => ({ send() {}, close() {} }),
    };
    const { device, stack } = await makeStack({ handler });
    const clients: net.Socket[] = [];
    for (let i = 0; i < 2; i++) {
      // The client's SYN through the TUN makes the NAT entry; the listener then sees a connection from its port.
      device.deliver([tcpPacket('127.0.0.1', 41000 + i, '10.9.9.9', 80, 0x02, new Uint8Array(0))]);
      const natPort = parse(device.take()[0]!).sport;
      const c = net.connect({
        host: '127.0.0.1',
        port: stack.listenPorts.ipv4!,
        localAddress: '127.0.0.2',
        localPort: natPort,
      });
      c.on('error', () => {});
      clients.push(c);
    }
    await waitFor('both accepted', () => accepted.length === 2, 15_000);
    expect(stack.counters.tcpOpen).toBe(2);
    const [a, b] = accepted as [net.Socket, net.Socket];
    expect(a.resetAndDestroy).toBe(b.resetAndDestroy);
    expect(a.listeners('close').at(-1)).toBe(b.listeners('close').at(-1));
    a.destroy();
    await waitFor('one counted out', () => stack.counters.tcpOpen === 1);
    b.resetAndDestroy(); // the shared reset, called as a method
    await waitFor('both counted out', () => stack.counters.tcpOpen === 0);
    for (const c of clients) c.destroy();
  });

  it("accepts without reading for a handler that reads on its own (acceptPaused): the client's first bytes stay in the kernel", async () => {
    let conn: net.Socket | undefined;
    const handler: Handler = {
      acceptPaused: true,
      tcp(c) {
        conn = c as unknown as net.Socket;
      },
      udp: () => ({ send() {}, close() {} }),
    };
    const { device, stack } = await makeStack({ handler });
    // The client's SYN through the TUN opens the NAT entry; the kernel connection from the NAT address and
    // port is the one the listener accepts for it.
    device.deliver([tcpPacket('127.0.0.1', 40123, '10.9.9.9', 80, 0x02)]);
    const natPort = parse(device.take()[0]!).sport;
    const client = net.connect({
      host: '127.0.0.1',
      port: stack.listenPorts.ipv4!,
      localAddress: '127.0.0.2',
      localPort: natPort,
    });
    client.on('error', () => {});
    await once(client, 'connect');
    await waitFor('the handler has the connection', () => conn !== undefined);
    await new Promise((r) => client.write('hello', r));
    // Loopback delivers during the send: the bytes are in conn's receive queue now. A round trip on another
    // loopback connection gives the event loop an I/O poll in which a reading socket would have read them.
    const echo = net.createServer((c) => c.pipe(c)).listen(0, '127.0.0.1');
    await once(echo, 'listening');
    const probe = net.connect((echo.address() as net.AddressInfo).port, '127.0.0.1');
    probe.write('x');
    await once(probe, 'data');
    probe.destroy();
    echo.close();
    expect(conn!.bytesRead).toBe(0);
    expect(conn!.readableLength).toBe(0);
    // Kept, not lost: whoever reads it later gets it.
    conn!.resume();
    const [data] = (await once(conn!, 'data')) as [Buffer];
    expect(data.toString()).toBe('hello');
    conn!.destroy();
    client.destroy();
  });

  it('answers ICMP and ICMPv6 echo requests with valid replies, or drops them when off', async () => {
    const { device, stack } = await makeStack();
    device.deliver([icmpEcho('127.0.0.1', '10.2.3.4'), icmpEcho('::1', 'fd00::5')]);
    const [r4, r6] = device.take().map(parse);
    expect(r4).toMatchObject({
      src: '10.2.3.4',
      dst: '127.0.0.1',
      proto: 1,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
    expect(r4!.l4[0]).toBe(0);
    expect(r6).toMatchObject({ src: 'fd00::5', dst: '::1', proto: 58, l4ChecksumOk: true });
    expect(r6!.l4[0]).toBe(129);
    expect(stack.counters.icmpEchoReplies).toBe(2);
    const off = await makeStack({ icmp: 'off' });
    off.device.deliver([icmpEcho('127.0.0.1', '10.2.3.4')]);
    expect(off.device.take()).toEqual([]);
    expect(off.stack.counters.drops.icmpOff).toBe(1);
  });

  it('hands UDP datagrams to one session per source and builds valid replies and unreachables', async () => {
    const { device, stack, udp } = await makeStack();
    const p1 = buildUdpPacket(ip('127.0.0.1'), 5353, ip('10.0.0.53'), 53, new Uint8Array([1, 2, 3]));
    const p2 = buildUdpPacket(ip('127.0.0.1'), 5353, ip('10.0.0.54'), 53, new Uint8Array([4]));
    const p3 = buildUdpPacket(ip('::1'), 5353, ip('fd00::53'), 53, new Uint8Array([5]));
    device.deliver([p1, p2, p3]);
    expect(udp.sessions.length).toBe(2); // same v4 source → one session (endpoint-independent)
    expect(udp.sent.map((s) => s.to)).toEqual(['10.0.0.53:53', '10.0.0.54:53', 'fd00::53:53']);
    expect([...udp.sent[0]!.payload]).toEqual([1, 2, 3]);
    // Back to the first destination, then the same one twice: each datagram names its own destination.
    device.deliver([p1, p1, p2]);
    expect(udp.sent.slice(3).map((s) => s.to)).toEqual(['10.0.0.53:53', '10.0.0.53:53', '10.0.0.54:53']);
    expect(stack.counters.udpOpen).toBe(2);
    udp.sessions[0]!.reply(new Uint8Array([9, 9]), { address: '10.0.0.53', port: 53 });
    udp.sessions[1]!.reply(new Uint8Array([8]), { address: 'fd00::53', port: 53 });
    udp.sessions[0]!.unreachable({ address: '10.0.0.54', port: 53 });
    const [a, b, c] = device.take().map(parse);
    expect(a).toMatchObject({
      src: '10.0.0.53',
      dst: '127.0.0.1',
      sport: 53,
      dport: 5353,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
    expect(b).toMatchObject({ src: 'fd00::53', dst: '::1', sport: 53, dport: 5353, l4ChecksumOk: true });
    expect(c).toMatchObject({
      src: '10.0.0.54',
      dst: '127.0.0.1',
      proto: 1,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
    expect([c!.l4[0], c!.l4[1]]).toEqual([3, 3]);
    // A bad reply source is dropped and counted, not thrown.
    udp.sessions[0]!.reply(new Uint8Array([1]), { address: 'not-an-ip', port: 53 });
    expect(stack.counters.drops.udpBadReply).toBe(1);
    udp.sessions[0]!.close();
    expect(udp.closed).toBe(1);
    expect(stack.counters.udpOpen).toBe(1);
  });

  it('drops malformed packets with a counter and never throws (random bytes, truncations)', async () => {
    const { device, stack } = await makeStack();
    const valid = [
      tcpPacket('127.0.0.1', 1234, '10.0.0.1', 80, 0x02),
      buildUdpPacket(ip('::1'), 5, ip('fd00::1'), 53, new Uint8Array(20)),
      icmpEcho('127.0.0.1', '10.0.0.1'),
    ];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .tuple(fc.constantFrom(...valid), fc.nat(100))
            .map(([p, n]) => p.slice(0, Math.min(n, p.length - 1))),
          fc.tuple(fc.constantFrom(...valid), fc.nat(1000), fc.nat(255)).map(([p, i, b]) => {
            const q = p.slice();
            q[i % q.length] ^= b | 1;
            return q;
          }),
        ),
        (bytes) => {
          const before = stack.counters.rxPackets;
          device.deliver([bytes]);
          device.take();
          return stack.counters.rxPackets === before + 1;
        },
      ),
      { numRuns: 2000 },
    );
    const d = stack.counters.drops;
    expect(d.malformed + d.badChecksum).toBeGreaterThan(500);
  });

  it('drops IPv4 fragments and walks IPv6 extension headers', async () => {
    const { device, stack, udp } = await makeStack();
    const frag = buildUdpPacket(ip('127.0.0.1'), 5, ip('10.0.0.1'), 53, new Uint8Array(20));
    frag[6] = 0x20; // MF
    frag[10] = 0;
    frag[11] = 0;
    const c = finish(sum16(frag, 0, 20));
    frag[10] = c >> 8;
    frag[11] = c & 0xff;
    device.deliver([frag]);
    expect(stack.counters.drops.fragment).toBe(1);
    // IPv6 with a hop-by-hop header (8 bytes of PadN) before UDP.
    const u = buildUdpPacket(ip('::1'), 7, ip('fd00::1'), 53, new Uint8Array([42]));
    const withExt = new Uint8Array(u.length + 8);
    withExt.set(u.subarray(0, 40));
    withExt[6] = 0; // next: hop-by-hop
    withExt[5] = u[5]! + 8;
    withExt[40] = 17; // then UDP
    withExt[41] = 0;
    withExt[42] = 1; // PadN
    withExt[43] = 4;
    withExt.set(u.subarray(40), 48);
    device.deliver([withExt]);
    expect(udp.sent.map((s) => s.to)).toEqual(['fd00::1:53']);
  });
});

describe('loop guard', () => {
  it('refuses TCP and UDP addressed to the NAT address: RST, ICMP administratively prohibited', async () => {
    const { device, stack, udp } = await makeStack();
    device.deliver([
      tcpPacket('127.0.0.1', 40000, '127.0.0.2', 80, 0x02),
      buildUdpPacket(ip('127.0.0.1'), 5, ip('127.0.0.2'), 53, new Uint8Array(4)),
    ]);
    const out = device.take().map(parse);
    expect(out.length).toBe(2);
    expect(out[0]).toMatchObject({ src: '127.0.0.2', dst: '127.0.0.1', flags: 0x14 });
    // ICMP type 3 code 13 (RFC 1812 §5.2.7.1), quoting the datagram.
    expect(out[1]).toMatchObject({ src: '127.0.0.2', dst: '127.0.0.1', proto: 1, l4ChecksumOk: true });
    expect([out[1]!.l4[0], out[1]!.l4[1]]).toEqual([3, 13]);
    expect(udp.sessions.length).toBe(0);
    expect(stack.counters.drops.loop).toBe(2);
    expect(stack.counters.tcpNatEntries).toBe(0);
  });

  it('refuses flows into loopPrefixes (both families) and passes everything else to the handler', async () => {
    const { device, stack, udp, tcp } = await makeStack({
      loopPrefixes: ['198.18.0.0/15', 'fd00:18::/64'],
    });
    device.deliver([
      tcpPacket('127.0.0.1', 40000, '198.18.5.5', 80, 0x02),
      tcpPacket('::1', 40000, 'fd00:18::5', 80, 0x02),
      buildUdpPacket(ip('127.0.0.1'), 5000, ip('198.19.255.254'), 9, new Uint8Array(4)),
      buildUdpPacket(ip('::1'), 5000, ip('fd00:18::ffff'), 9, new Uint8Array(4)),
    ]);
    const out = device.take().map(parse);
    expect(out.map((p) => [p.src, p.proto, p.l4[0], p.l4[1]])).toEqual([
      ['198.18.5.5', 6, 0, 80],
      ['fd00:18::5', 6, 0, 80],
      ['198.19.255.254', 1, 3, 13],
      ['fd00:18::ffff', 58, 1, 1], // ICMPv6 destination unreachable, administratively prohibited (RFC 4443)
    ]);
    expect(out.every((p) => p.l4ChecksumOk)).toBe(true);
    expect(out[0]!.flags & 0x04).toBe(0x04);
    expect(out[1]!.flags & 0x04).toBe(0x04);
    expect(stack.counters.drops.loop).toBe(4);
    expect(udp.sessions.length).toBe(0);
    expect(stack.counters.tcpNatEntries).toBe(0);
    // Just outside the prefixes: an ordinary flow.
    device.deliver([buildUdpPacket(ip('127.0.0.1'), 5000, ip('198.20.0.1'), 9, new Uint8Array(4))]);
    expect(udp.sent.map((x) => x.to)).toEqual(['198.20.0.1:9']);
    expect(tcp.length).toBe(0);
  });

  it('defaults loopPrefixes to the TUN prefixes with an outbound, and to none with a handler', async () => {
    const outbound: Outbound = {
      name: 'test',
      connectTcp: () => Promise.reject(new Error('no')),
      openUdp: () => ({ send() {}, close() {} }),
    };
    const device = new FakeDevice();
    const s = createStack({ device, outbound, addresses: ['127.0.0.1/8'] });
    stacks.push(s);
    await s.start();
    device.deliver([buildUdpPacket(ip('127.0.0.1'), 5000, ip('127.9.9.9'), 9, new Uint8Array(4))]);
    expect(s.counters.drops.loop).toBe(1);
    expect(s.counters.udpTotal).toBe(0);
    const own = await makeStack({ addresses: ['127.0.0.1/8'] });
    own.device.deliver([buildUdpPacket(ip('127.0.0.1'), 5000, ip('127.9.9.9'), 9, new Uint8Array(4))]);
    expect(own.stack.counters.drops.loop).toBe(0);
    expect(own.udp.sent.map((x) => x.to)).toEqual(['127.9.9.9:9']);
    expect(() =>
      createStack({ device, outbound, addresses: ['127.0.0.1/8'], loopPrefixes: ['10.0.0.0/33'] }),
    ).toThrow(/createStack: loopPrefixes: .*10\.0\.0\.0\/33/);
  });

  it("recognises the outbounds' own sockets coming back through the TUN (TCP by 4-tuple, UDP by port)", async () => {
    const { device, stack, udp } = await makeStack();
    // A registered UDP socket bound to some port: a datagram from the TUN address and that port is a loop.
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const looped: string[] = [];
    ownSockets.trackUdp(sock, 4, (d) => looped.push(`${d.address}:${d.port}`));
    // The same port from another source address is somebody else's.
    device.deliver([
      buildUdpPacket(ip('127.0.0.1'), port, ip('10.9.9.9'), 53, new Uint8Array(4)),
      buildUdpPacket(ip('10.1.1.1'), port, ip('10.9.9.9'), 53, new Uint8Array(4)),
    ]);
    expect(looped).toEqual(['10.9.9.9:53']);
    expect(udp.sessions.map((x) => x.source.address)).toEqual(['10.1.1.1']);
    expect(stack.counters.drops.loop).toBe(1);
    await new Promise<void>((r) => sock.close(() => r()));
    device.deliver([buildUdpPacket(ip('127.0.0.1'), port, ip('10.9.9.9'), 53, new Uint8Array(4))]);
    expect(udp.sessions.length).toBe(2); // unregistered once closed

    // A TCP connection of ours: only its exact 4-tuple is refused.
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const sport = (server.address() as net.AddressInfo).port;
    const conn = net.connect(sport, '127.0.0.1');
    await new Promise((r) => conn.once('connect', r));
    ownSockets.trackTcp(conn, 4, ip('127.0.0.1'), sport);
    const lp = conn.localPort!;
    device.take();
    device.deliver([
      tcpPacket('127.0.0.1', lp, '127.0.0.1', sport, 0x02),
      tcpPacket('127.0.0.1', lp, '127.0.0.1', sport + 1, 0x02),
    ]);
    const out = device.take().map(parse);
    expect(out[0]).toMatchObject({ src: '127.0.0.1', sport, dport: lp, flags: 0x14 });
    expect(out.length).toBe(2); // the other one was NATed onto the listener
    expect(out[1]!.flags & 0x04).toBe(0);
    expect(stack.counters.drops.loop).toBe(2);
    conn.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('drops UDP from source port 0 without a session', async () => {
    const { device, stack, udp } = await makeStack();
    device.deliver([
      buildUdpPacket(ip('127.0.0.1'), 0, ip('10.0.0.53'), 53, new Uint8Array(4)),
      buildUdpPacket(ip('::1'), 0, ip('fd00::53'), 53, new Uint8Array(4)),
    ]);
    expect(udp.sessions.length).toBe(0);
    expect(stack.counters.drops.udpSourcePortZero).toBe(2);
    expect(device.take()).toEqual([]);
  });
});

describe('start', () => {
  it('fails with one clear line when the TUN address is not configured, and leaves nothing listening', async () => {
    const stack = createStack({
      device: new FakeDevice(),
      handler: { tcp: (c) => c.destroy(), udp: () => ({ send() {}, close() {} }) },
      addresses: { ipv4: { tunAddress: '127.0.0.1' }, ipv6: { tunAddress: '2001:db8::1' } },
    });
    await expect(stack.start()).rejects.toThrow(
      /cannot listen on 2001:db8::1 \(is it configured on the TUN\?\)/,
    );
    await stack.close();
  });

  it('rejects bad addresses up front', () => {
    const device = new FakeDevice();
    const handler: Handler = { tcp: (c) => c.destroy(), udp: () => ({ send() {}, close() {} }) };
    expect(() => createStack({ device, handler, addresses: ['10.0.0.1/31'] })).toThrow(
      /no room for the NAT address/,
    );
    expect(() => createStack({ device, handler, addresses: ['10.0.0.300/24'] })).toThrow(/not an address/);
    // Addresses come only from the options: TunDevice has no `addresses`, and a device-specific property
    // that happens to exist is not read behind the caller's back.
    const withAddresses = Object.assign(new FakeDevice(), { addresses: ['10.0.0.1/24'] });
    for (const d of [device, withAddresses])
      expect(() => createStack({ device: d, handler } as unknown as StackOptions)).toThrow(
        /^createStack: addresses is required/,
      );
    expect(() => createStack({ device, addresses: ['10.0.0.1/24'] })).toThrow(/handler or an outbound/);
  });
});
