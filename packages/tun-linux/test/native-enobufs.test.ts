// ENOBUFS from write(2) is a drop, not a reason to wait: the kernel reports the fd writable all along, so
// queueing and waiting for UV_WRITABLE would spin at 100 % CPU for as long as it lasts. A TUN returns it when
// the skb allocation fails (memory pressure, not reproducible on demand); a connected UDP socket with
// IP_RECVERR returns it for every datagram its qdisc drops (net/ipv4/udp.c udp_send_skb), with POLLOUT set —
// the same situation, on demand: a veth whose root qdisc is `pfifo limit 0` in a namespace of the test's own.
import {
  createNetns,
  missingCommandsReason,
  type Netns,
  netnsSkipReason,
  runInNetns,
  skipWhen,
} from '@ztun/testkit';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tunIoAddon } from '../src/tun-io.linux.js';

const skip = netnsSkipReason() ?? missingCommandsReason(['tc']);

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_IP = 0;
const IP_RECVERR = 11;

interface Sys {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Int32Array, len: number): number;
  connect(fd: number, addr: Uint8Array, len: number): number;
  send(fd: number, buf: Uint8Array, len: number, flags: number): number;
}

function libc(): Sys {
  const lib = koffi.load('libc.so.6');
  return {
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const int32_t *, uint32_t)'),
    connect: lib.func('int connect(int, const uint8_t *, uint32_t)'),
    send: lib.func('long send(int, const uint8_t *, size_t, int)'),
  } as unknown as Sys;
}

/** struct sockaddr_in for 10.246.0.5:9 */
const peer = Uint8Array.of(AF_INET, 0, 0, 9, 10, 246, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0);

describe('native TunIo on a fd whose writes fail with ENOBUFS', skipWhen(skip), () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns('nvnb');
    ns.ip('link', 'add', 'nvnb0', 'type', 'veth', 'peer', 'name', 'nvnb1');
    ns.ip('addr', 'add', '10.246.0.1/24', 'dev', 'nvnb0');
    ns.ip('link', 'set', 'nvnb0', 'up');
    ns.ip('link', 'set', 'nvnb1', 'up');
    // No ARP in the way: the datagram reaches the qdisc at once, which drops it (NET_XMIT_DROP → ENOBUFS).
    ns.ip('neigh', 'add', '10.246.0.5', 'lladdr', '02:00:00:00:00:05', 'dev', 'nvnb0', 'nud', 'permanent');
    ns.exec('tc', ['qdisc', 'add', 'dev', 'nvnb0', 'root', 'pfifo', 'limit', '0']);
  });
  afterAll(async () => {
    await ns?.dispose();
  });

  it('drops and counts each packet at once: nothing is queued to wait for a writability that never helps', async () => {
    const sys = libc();
    const fd = runInNetns(ns, () => sys.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    expect(fd).toBeGreaterThan(2);
    expect(sys.setsockopt(fd, IPPROTO_IP, IP_RECVERR, Int32Array.of(1), 4)).toBe(0);
    expect(sys.connect(fd, peer, peer.length)).toBe(0);
    expect(sys.send(fd, new Uint8Array(28), 28, 0)).toBe(-1);
    expect(koffi.errno()).toBe(105); // ENOBUFS: the set-up does what it should

    const { TunIo, counters: layout } = tunIoAddon();
    const counters = new Float64Array(layout.count);
    const errors: [string, number][] = [];
    const io = new TunIo({
      fd,
      slab: new ArrayBuffer(8 * 2048),
      lengths: new Uint32Array(8),
      counters,
      slotSize: 2048,
      batchSize: 8,
      queueLimit: 64,
      batchesPerWake: 1,
      onBatch: () => {},
      onError: (operation, errno) => errors.push([operation, errno]),
    });
    try {
      const n = 10;
      const data = new Uint8Array(n * 100);
      const offsets = Uint32Array.from({ length: n }, (_, i) => i * 100);
      const lengths = new Uint32Array(n).fill(100);
      expect(io.writeBatch(data, offsets, lengths, n)).toBe(0);
      expect(io.queueLength()).toBe(0);
      expect(counters[layout.index.txDropped]).toBe(n);
      expect(counters[layout.index.txPackets]).toBe(0);
      await new Promise((resolve) => setImmediate(resolve)); // a loop turn: nothing was left to flush
      expect(io.queueLength()).toBe(0);
      expect(counters[layout.index.txDropped]).toBe(n);
      expect(errors).toEqual([]);
    } finally {
      io.close();
    }
  });
});
