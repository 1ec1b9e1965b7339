// TSO on the TUN (issue 17 item 3): the addon's GSO read and write paths over a socketpair that carries the
// virtio_net_hdr framing (native/vnet_header.h GsoMeta/HeaderFor), and the fallback to checksum offload alone
// when the kernel refuses the TSO flags (native/tun_open.h NegotiateOffload) on a real TUN in a namespace.
import { release } from 'node:os';
import { buildTcp, type IpSpec, TcpFlags } from '@ztun/packet';
import {
  createNetns,
  missingCommandsReason,
  type Netns,
  netnsSkipReason,
  runInNetns,
  skipUnless,
  skipWhen,
  waitFor,
  waitForPort,
} from '@ztun/testkit';
import koffi from 'koffi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineHooks } from '../src/engine.linux.js';
import { type LinuxTun, openTunSync } from '../src/index.js';
import { NativeEngine } from '../src/native-engine.linux.js';
import { type NativeTunIo, tunIoAddon } from '../src/tun-io.linux.js';
import { finished } from './echo.js';

const linux = process.platform === 'linux';
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
// include/uapi/linux/virtio_net.h
const NEEDS_CSUM = 1;
const GSO_TCPV4 = 1;
const GSO_UDP_L4 = 5;
const GSO_TCPV6 = 4;
const GSO_ECN = 0x80;

interface Sys {
  socketpair(domain: number, type: number, protocol: number, fds: Int32Array): number;
  send(fd: number, buf: Uint8Array, len: number, flags: number): number;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  close(fd: number): number;
}
let sys: Sys | undefined;
function libc(): Sys {
  if (!sys) {
    const lib = koffi.load('libc.so.6');
    sys = {
      socketpair: lib.func('int socketpair(int, int, int, _Out_ int32_t *fds)'),
      send: lib.func('long send(int, const uint8_t *, size_t, int)'),
      recv: lib.func('long recv(int, _Out_ uint8_t *, size_t, int)'),
      close: lib.func('int close(int)'),
    } as unknown as Sys;
  }
  return sys;
}

const v4: IpSpec = { version: 4, source: 0x0a000001, destination: 0x0a000002 };
const v6: IpSpec = {
  version: 6,
  source: new Uint8Array([0xfd, 0, ...new Array(13).fill(0), 1]),
  destination: new Uint8Array([0xfd, 0, ...new Array(13).fill(0), 2]),
};

/** A TCP packet with `payload` bytes (its checksum field is whatever buildTcp made: irrelevant here). */
function tcp(ip: IpSpec, payload: number, flags = TcpFlags.ACK | TcpFlags.PSH): Uint8Array {
  const out = new Uint8Array(80 + payload);
  const n = buildTcp(out, 0, ip, { sourcePort: 40000, destinationPort: 80, flags }, new Uint8Array(payload));
  return out.subarray(0, n);
}

/** virtio_net_hdr (10 bytes, little-endian) + packet, as a TUN with IFF_VNET_HDR frames it. */
function framed(
  h: { flags: number; gsoType: number; hdrLen: number; gsoSize: number; start: number; offset: number },
  packet: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(10 + packet.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, h.flags);
  dv.setUint8(1, h.gsoType);
  dv.setUint16(2, h.hdrLen, true);
  dv.setUint16(4, h.gsoSize, true);
  dv.setUint16(6, h.start, true);
  dv.setUint16(8, h.offset, true);
  out.set(packet, 10);
  return out;
}

interface Pair {
  io: NativeTunIo;
  peer: number;
  counters: Float64Array;
  data: Uint8Array;
  lengths: Uint32Array;
  flags: Uint8Array;
  gsoSizes: Uint16Array;
  batches: { length: number; flags: number; gso: number }[];
}
const pairs: Pair[] = [];
const SLOT = 65600;

/** The addon with offload on an AF_UNIX datagram socketpair: the peer sees and sends the vnet framing. */
function vnetPair(): Pair {
  const fds = new Int32Array(2);
  expect(libc().socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds)).toBe(0);
  const { TunIo, counters: layout } = tunIoAddon();
  const slab = new ArrayBuffer(4 * SLOT);
  const p: Pair = {
    io: undefined as unknown as NativeTunIo,
    peer: fds[1]!,
    counters: new Float64Array(layout.count),
    data: new Uint8Array(slab),
    lengths: new Uint32Array(4),
    flags: new Uint8Array(4),
    gsoSizes: new Uint16Array(4),
    batches: [],
  };
  p.io = new TunIo({
    fd: fds[0]!,
    offload: true,
    slab,
    lengths: p.lengths,
    flags: p.flags,
    gsoSizes: p.gsoSizes,
    counters: p.counters,
    slotSize: SLOT,
    batchSize: 4,
    queueLimit: 4,
    batchesPerWake: 1,
    onBatch: (count) => {
      for (let i = 0; i < count; i++)
        p.batches.push({ length: p.lengths[i]!, flags: p.flags[i]!, gso: p.gsoSizes[i]! });
    },
    onError: () => {},
  });
  pairs.push(p);
  return p;
}

const c = (p: Pair, name: keyof ReturnType<typeof tunIoAddon>['counters']['index']) =>
  p.counters[tunIoAddon().counters.index[name]];

afterEach(() => {
  for (const p of pairs.splice(0)) {
    p.io.close();
    libc().close(p.peer);
  }
});

describe(
  'TSO super-packets through the addon (vnet framing over a socketpair)',
  skipUnless(linux, `needs Linux (this is ${process.platform})`),
  () => {
    it('reads TCPV4/TCPV6 super-packets with their gso_size and ECN bit, and drops what was never advertised', async () => {
      const p = vnetPair();
      const big4 = tcp(v4, 5000);
      const big6 = tcp(v6, 9000);
      const partial = { flags: NEEDS_CSUM, hdrLen: 0, start: 20, offset: 16 };
      const sent = [
        framed({ ...partial, gsoType: GSO_TCPV4 | GSO_ECN, gsoSize: 1448 }, big4),
        framed({ ...partial, start: 40, gsoType: GSO_TCPV6, gsoSize: 1428 }, big6),
        // Dropped: USO (not advertised), a TCPV4 header on an IPv6 packet, GSO without NEEDS_CSUM, gso_size 0.
        framed({ ...partial, gsoType: GSO_UDP_L4, gsoSize: 1448 }, big4),
        framed({ ...partial, start: 40, gsoType: GSO_TCPV4, gsoSize: 1448 }, big6),
        framed({ ...partial, flags: 0, gsoType: GSO_TCPV4, gsoSize: 1448 }, big4),
        framed({ ...partial, gsoType: GSO_TCPV4, gsoSize: 0 }, big4),
        // A plain partial packet still reads as before.
        framed({ ...partial, gsoType: 0, gsoSize: 0 }, tcp(v4, 100)),
      ];
      for (const f of sent) expect(libc().send(p.peer, f, f.length, 0)).toBe(f.length);
      p.io.resume();
      await waitFor(
        '3 packets read, 4 dropped',
        () => p.batches.length === 3 && c(p, 'rxDropped') === 4,
        3000,
      );
      expect(p.batches).toEqual([
        { length: big4.length, flags: 1 | 2, gso: 1448 },
        { length: big6.length, flags: 1, gso: 1428 },
        { length: 140, flags: 1, gso: 0 },
      ]);
      expect(c(p, 'gsoPacketsRead')).toBe(2);
      expect(c(p, 'rxPackets')).toBe(3);
    });

    it('writes a super-packet back with gso_type, gso_size, hdr_len and NEEDS_CSUM; plain packets zeroed', () => {
      const p = vnetPair();
      const big4 = tcp(v4, 5000);
      const big6 = tcp(v6, 3000);
      const small = tcp(v4, 10);
      const data = new Uint8Array(big4.length + big6.length + small.length);
      data.set(big4, 0);
      data.set(big6, big4.length);
      data.set(small, big4.length + big6.length);
      const offsets = new Uint32Array([0, big4.length, big4.length + big6.length]);
      const lengths = new Uint32Array([big4.length, big6.length, small.length]);
      const flags = new Uint8Array([1 | 2, 1, 0]);
      const gso = new Uint16Array([1448, 1220, 0]);
      expect(p.io.writeBatch(data, offsets, lengths, 3, flags, gso)).toBe(3);
      const buf = new Uint8Array(70000);
      const headers: number[][] = [];
      for (let i = 0; i < 3; i++) {
        const n = libc().recv(p.peer, buf, buf.length, 0);
        expect(n).toBe(10 + lengths[i]!);
        const dv = new DataView(buf.buffer, 0, 10);
        headers.push([0, 1, 2, 4, 6, 8].map((at) => (at < 2 ? dv.getUint8(at) : dv.getUint16(at, true))));
        expect(buf.subarray(10, n)).toEqual(data.subarray(offsets[i]!, offsets[i]! + lengths[i]!));
      }
      // [flags, gso_type, hdr_len, gso_size, csum_start, csum_offset]
      expect(headers).toEqual([
        [NEEDS_CSUM, GSO_TCPV4 | GSO_ECN, 40, 1448, 20, 16],
        [NEEDS_CSUM, GSO_TCPV6, 60, 1220, 40, 16],
        [0, 0, 0, 0, 0, 0],
      ]);
      expect(c(p, 'gsoPacketsWritten')).toBe(2);
      expect(c(p, 'txPackets')).toBe(3);
      // Without gsoSizes (a consumer that knows nothing of TSO) the same packets go out without GSO.
      expect(p.io.writeBatch(data, offsets, lengths, 1, flags)).toBe(1);
      expect(libc().recv(p.peer, buf, buf.length, 0)).toBe(10 + big4.length);
      expect(buf[1]).toBe(0);
      // A UDP super-packet (the batch UDP path's replies, USO): gso_type UDP_L4, hdr_len = IP + UDP header,
      // NEEDS_CSUM at the UDP checksum (include/linux/virtio_net.h virtio_net_hdr_to_skb wants offset 6).
      const udp = new Uint8Array(small);
      udp[9] = 17;
      const one = [new Uint32Array([0]), new Uint32Array([udp.length])] as const;
      expect(p.io.writeBatch(udp, ...one, 1, new Uint8Array([1]), new Uint16Array([4]))).toBe(1);
      expect(libc().recv(p.peer, buf, buf.length, 0)).toBe(10 + udp.length);
      const dv = new DataView(buf.buffer, 0, 10);
      expect([0, 1, 2, 4, 6, 8].map((at) => (at < 2 ? dv.getUint8(at) : dv.getUint16(at, true)))).toEqual([
        NEEDS_CSUM,
        5,
        28,
        4,
        20,
        6,
      ]);
      // A GSO size on a UDP packet not flagged partial, or on something neither TCP nor UDP, is refused and
      // counted, never written with a bad header.
      expect(p.io.writeBatch(udp, ...one, 1, new Uint8Array([0]), new Uint16Array([4]))).toBe(0);
      const icmp = new Uint8Array(small);
      icmp[9] = 1;
      expect(p.io.writeBatch(icmp, ...one, 1, flags, gso)).toBe(0);
      expect(c(p, 'txDropped')).toBe(2);
    });
  },
);

const skip = netnsSkipReason();

describe('TSO negotiation on a TUN in a namespace', skipWhen(skip), () => {
  let ns: Netns;
  const devices: { close(): unknown }[] = [];
  beforeAll(() => {
    ns = createNetns('gso');
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((d) => d.close()));
  });
  afterAll(async () => {
    await ns?.dispose();
  });

  it('asks for TSO with offload, and for checksum offload alone with offload "checksum"', () => {
    const tso = runInNetns(ns, () => openTunSync({ name: 'zgtso', offload: true }));
    devices.push(tso);
    // USO (written UDP super-packets) is probed, not asked for: a kernel ≥ 6.2 knows TUN_F_USO4/6.
    const [major = 0, minor = 0] = release().split('.').map(Number);
    const uso = major > 6 || (major === 6 && minor >= 2);
    expect(tso.offload).toEqual({ checksum: true, tso: true, uso });
    const csum = runInNetns(ns, () => openTunSync({ name: 'zgcsum', offload: 'checksum' }));
    devices.push(csum);
    expect(csum.offload).toEqual({ checksum: true, tso: false, uso, note: 'TSO not asked for' });
    const plain: LinuxTun = runInNetns(ns, () => openTunSync({ name: 'zgplain' }));
    devices.push(plain);
    expect(plain.offload).toEqual({ checksum: false, tso: false, uso: false });
  });

  // The kernel refuses TUNSETOFFLOAD flags it does not know with EINVAL (drivers/net/tun.c set_offload), as an
  // old kernel refuses TSO: a bit no kernel knows is added to the TSO request, and the device must come up
  // with checksum offload alone — and then carry traffic with no super-packet, every packet within the MTU.
  it(
    'falls back to checksum offload alone when the kernel refuses TSO, and says why',
    skipWhen(missingCommandsReason(['iperf3'])),
    async () => {
      const hooks: EngineHooks = { deliver: () => {}, fail: () => {} };
      const counters = new Float64Array(tunIoAddon().counters.count);
      const engine = runInNetns(
        ns,
        () =>
          new NativeEngine({
            devicePath: '/dev/net/tun',
            name: 'zgrefused',
            offload: true,
            tsoFlags: 0x0e | (1 << 30),
            slotSize: SLOT,
            batchSize: 16,
            queueLimit: 64,
            batchesPerWake: 4,
            counters,
            hooks,
          }),
      );
      devices.push(engine);
      expect(engine.offload).toEqual({
        checksum: true,
        tso: false,
        uso: expect.any(Boolean),
        note: 'the kernel refused TSO: TUNSETOFFLOAD EINVAL',
      });
      // The refused device works: a reflector (addresses swapped) carries iperf3 at MTU 1500, partial
      // checksums and all, and nothing arrives bigger than the MTU.
      let largest = 0;
      let gso = 0;
      hooks.deliver = (batch) => {
        const d = batch.data;
        for (let i = 0; i < batch.count; i++) {
          const o = batch.offsets[i]!;
          largest = Math.max(largest, batch.lengths[i]!);
          if (batch.gsoSize![i]! > 0) gso++;
          const alen = d[o]! >> 4 === 6 ? 16 : 4;
          const src = o + (alen === 16 ? 8 : 12);
          for (let k = 0; k < alen; k++) {
            const t = d[src + k]!;
            d[src + k] = d[src + alen + k]!;
            d[src + alen + k] = t;
          }
        }
        engine.writeBatch(batch.data, batch.offsets, batch.lengths, batch.count, batch.flags, batch.gsoSize);
      };
      ns.ip('addr', 'add', '10.215.0.1/24', 'dev', 'zgrefused');
      ns.ip('link', 'set', 'zgrefused', 'mtu', '1500', 'up');
      engine.setReading(true);
      const server = ns.spawn('iperf3', ['-s', '-1', '-p', '5301']);
      await waitForPort(ns.name, 5301);
      const client = ns.spawn('iperf3', ['-c', '10.215.0.2', '-p', '5301', '-n', '8M']);
      expect(await finished(client)).toBe(0);
      expect(await finished(server)).toBe(0);
      expect(gso).toBe(0);
      expect(largest).toBeGreaterThan(1000);
      expect(largest).toBeLessThanOrEqual(1500);
      expect(counters[tunIoAddon().counters.index.gsoPacketsRead]).toBe(0);
    },
  );
});
