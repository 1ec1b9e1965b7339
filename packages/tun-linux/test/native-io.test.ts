// The addon's batching, backpressure and write queue, driven over an AF_UNIX datagram socketpair (which keeps
// packet boundaries like a TUN fd, and can be filled until write(2) says EAGAIN — a TUN almost never does).
import { skipUnless, waitFor } from '@ztun/testkit';
import koffi from 'koffi';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAddon, type NativeTunIo } from '../src/addon.linux.js';

const linux = process.platform === 'linux';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

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

interface Harness {
  io: NativeTunIo;
  peer: number;
  counters: Float64Array;
  batches: number[];
  received: number[]; // first 4 bytes (sequence number) of every packet delivered
  errors: [string, number][];
}

const open: Harness[] = [];

function harness(opts: {
  batchSize: number;
  queueLimit: number;
  slotSize?: number;
  batchesPerWake?: number;
}) {
  const fds = new Int32Array(2);
  expect(libc().socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds)).toBe(0);
  const slotSize = opts.slotSize ?? 2048;
  const slab = new ArrayBuffer(opts.batchSize * slotSize);
  const data = new Uint8Array(slab);
  const lengths = new Uint32Array(opts.batchSize);
  const counters = new Float64Array(6);
  const h: Harness = {
    io: undefined as unknown as NativeTunIo,
    peer: fds[1]!,
    counters,
    batches: [],
    received: [],
    errors: [],
  };
  const dv = new DataView(slab);
  h.io = new (loadAddon().TunIo)(
    fds[0]!,
    slab,
    lengths,
    slotSize,
    opts.batchSize,
    opts.queueLimit,
    counters,
    (count) => {
      h.batches.push(count);
      for (let i = 0; i < count; i++) {
        expect(lengths[i]).toBeGreaterThanOrEqual(4);
        h.received.push(dv.getUint32(i * slotSize));
      }
      expect(data.byteLength).toBe(opts.batchSize * slotSize);
    },
    (operation, errno) => h.errors.push([operation, errno]),
    opts.batchesPerWake ?? 1,
  );
  (h as Harness & { fd: number }).fd = fds[0]!;
  open.push(h);
  return h;
}

function packet(seq: number, size: number): Uint8Array {
  const p = new Uint8Array(size);
  new DataView(p.buffer).setUint32(0, seq);
  return p;
}

afterEach(() => {
  for (const h of open.splice(0)) {
    h.io.close();
    libc().close((h as Harness & { fd: number }).fd);
    libc().close(h.peer);
  }
});

describe(
  'native TunIo over a datagram socketpair',
  skipUnless(linux, `the native TunIo tests need Linux (this is ${process.platform})`),
  () => {
    it('delivers packets in batches of at most batchSize, in order, one JS call per batch', async () => {
      const h = harness({ batchSize: 16, queueLimit: 8, batchesPerWake: 2 });
      for (let i = 0; i < 100; i++) expect(libc().send(h.peer, packet(i, 100), 100, 0)).toBe(100);
      h.io.resume();
      await waitFor('100 packets', () => h.received.length === 100, 3000);
      expect(h.received).toEqual([...Array(100).keys()]);
      expect(Math.max(...h.batches)).toBe(16);
      expect(h.batches.length).toBeLessThanOrEqual(8); // 100 / 16 → 7 batches when nothing else interleaves
      expect(h.counters[0]).toBe(100); // rxPackets
      expect(h.counters[1]).toBe(100 * 100); // rxBytes
    });

    it('pause() stops reading and resume() starts it again', async () => {
      const h = harness({ batchSize: 8, queueLimit: 8 });
      h.io.resume();
      h.io.pause();
      for (let i = 0; i < 5; i++) libc().send(h.peer, packet(i, 10), 10, 0);
      await new Promise((r) => setTimeout(r, 50));
      expect(h.received).toEqual([]);
      h.io.resume();
      await waitFor('5 packets after resume', () => h.received.length === 5, 3000);
    });

    it('queues what the kernel refuses with EAGAIN, counts drops past queueLimit, flushes when writable', async () => {
      const h = harness({ batchSize: 8, queueLimit: 100 });
      const n = 3000;
      const size = 1000;
      const data = new Uint8Array(n * size);
      const offsets = new Uint32Array(n);
      const lengths = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        new DataView(data.buffer).setUint32(i * size, i);
        offsets[i] = i * size;
        lengths[i] = size;
      }
      const written = h.io.writeBatch(data, offsets, lengths, n);
      expect(written).toBeGreaterThan(0);
      expect(written).toBeLessThan(n - 100); // the socket buffer filled up: the rest queued or dropped
      expect(h.io.queueLength()).toBe(100);
      expect(h.counters[5]).toBe(n - written - 100); // txDropped
      expect(h.counters[2]).toBe(written); // txPackets
      data.fill(0xee); // the queue holds copies: the caller's buffer is free again

      // Drain the peer; the addon waits for UV_WRITABLE (no spinning) and flushes its queue in order.
      const got: number[] = [];
      const buf = new Uint8Array(2048);
      await waitFor(
        'the queue to flush',
        () => {
          for (;;) {
            const r = libc().recv(h.peer, buf, buf.length, 0);
            if (r < 0) break;
            expect(r).toBe(size);
            got.push(new DataView(buf.buffer).getUint32(0));
          }
          return h.io.queueLength() === 0 && got.length === written + 100;
        },
        5000,
        5,
      );
      expect(got).toEqual([...Array(written + 100).keys()]);
      expect(h.counters[2]).toBe(written + 100);
      expect(h.errors).toEqual([]);
    });

    it('reports a fatal error (EBADF) to onError instead of crashing, then drops and counts', () => {
      const h = harness({ batchSize: 8, queueLimit: 8 });
      const fd = (h as Harness & { fd: number }).fd;
      // Swap the fd for a closed one: close it and let a write find out.
      libc().close(fd);
      const p = packet(1, 10);
      expect(h.io.write(p)).toBe(0);
      expect(h.errors).toEqual([['write', 9]]);
      expect(h.io.write(p)).toBe(0);
      expect(h.counters[5]).toBe(2);
      (h as Harness & { fd: number }).fd = -1;
    });
  },
);
