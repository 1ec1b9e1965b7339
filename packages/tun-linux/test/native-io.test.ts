// The addon's batching, backpressure and write queue, driven over an AF_UNIX datagram socketpair (which keeps
// packet boundaries like a TUN fd, and can be filled until write(2) says EAGAIN — a TUN almost never does).
import { skipUnless, waitFor } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { TunError } from '../src/errors.js';
import { checkCounterLayout, type TunIoOptions, tunIoAddon } from '../src/tun-io.linux.js';
import {
  AF_UNIX,
  counter,
  F_GETFD,
  F_GETFL,
  harness,
  libc,
  linux,
  O_NONBLOCK,
  packet,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_STREAM,
} from './tun-io-harness.js';

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
      expect(h.counters[counter('rxPackets')]).toBe(100);
      expect(h.counters[counter('rxBytes')]).toBe(100 * 100);
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
      expect(h.counters[counter('txDropped')]).toBe(n - written - 100);
      expect(h.counters[counter('txPackets')]).toBe(written);
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
      expect(h.counters[counter('txPackets')]).toBe(written + 100);
      expect(h.errors).toEqual([]);
    });

    it('reports a fatal error (EPIPE) to onError instead of crashing, then drops and counts', () => {
      const h = harness({ batchSize: 8, queueLimit: 8 });
      // Our side's sending half shut down: the next write fails with EPIPE, after which the fd is useless.
      expect(libc().shutdown(h.fd, 1)).toBe(0);
      const p = packet(1, 10);
      expect(h.io.write(p)).toBe(0);
      expect(h.errors).toEqual([['write', 32]]);
      expect(h.io.write(p)).toBe(0);
      expect(h.errors).toHaveLength(1);
      expect(h.counters[counter('txDropped')]).toBe(2);
    });

    it('owns the fd: makes an adopted fd non-blocking, closes it at close(), writes after close are counted', () => {
      const h = harness({ batchSize: 8, queueLimit: 8, blocking: true });
      expect(h.io.fd).toBe(h.fd);
      expect(libc().fcntl(h.fd, F_GETFL, 0) & O_NONBLOCK).toBe(O_NONBLOCK);
      expect(h.io.close()).toBe(0);
      expect(h.io.fd).toBe(-1);
      expect(libc().fcntl(h.fd, F_GETFD, 0)).toBe(-1); // EBADF: closed by the addon, once
      expect(h.io.write(packet(1, 10))).toBe(0);
      expect(h.io.close()).toBe(0); // idempotent
      expect(h.counters[counter('txDropped')]).toBe(1);
      expect(h.errors).toEqual([]);
    });

    it('counts a short write as dropped, not as a packet sent', () => {
      // A stream socketpair cuts a write that does not fit (a TUN never does: it takes a packet whole or not).
      // With an 8 KiB send buffer a 20000-byte write finds it full part-way and returns what fit (8064 bytes).
      const h = harness({ batchSize: 8, queueLimit: 0, type: SOCK_STREAM, slotSize: 32768 });
      expect(libc().setsockopt(h.fd, 1, 7, Int32Array.of(4096), 4)).toBe(0); // SOL_SOCKET, SO_SNDBUF
      const n = 5;
      const size = 20000;
      const data = new Uint8Array(n * size).fill(7);
      const offsets = Uint32Array.from({ length: n }, (_, i) => i * size);
      const lengths = new Uint32Array(n).fill(size);
      const written = h.io.writeBatch(data, offsets, lengths, n);
      let inSocket = 0;
      const buf = new Uint8Array(65536);
      for (;;) {
        const r = libc().recv(h.peer, buf, buf.length, 0);
        if (r <= 0) break;
        inSocket += r;
      }
      // Every byte in the socket belongs to a packet counted as sent, except the cut one's.
      const cut = inSocket - written * size;
      expect(cut).toBeGreaterThan(0);
      expect(cut).toBeLessThan(size);
      expect(h.counters[counter('txPackets')]).toBe(written);
      expect(h.counters[counter('txBytes')]).toBe(written * size);
      expect(h.counters[counter('txDropped')]).toBe(n - written); // the cut one + queueLimit 0 drops
    });

    it('names a bad option in a TypeError', () => {
      const { TunIo, counters } = tunIoAddon();
      const fds = new Int32Array(2);
      expect(libc().socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds)).toBe(0);
      const base: TunIoOptions = {
        fd: fds[0]!,
        slab: new ArrayBuffer(64),
        lengths: new Uint32Array(1),
        counters: new Float64Array(counters.count),
        slotSize: 64,
        batchSize: 1,
        queueLimit: 1,
        batchesPerWake: 1,
        onBatch: () => {},
        onError: () => {},
      };
      const bad = (patch: Record<string, unknown>) => () => new TunIo({ ...base, ...patch } as TunIoOptions);
      expect(bad({ slotSize: 0 })).toThrow(/option slotSize must be an integer/);
      expect(bad({ onBatch: 1 })).toThrow(/option onBatch must be a function/);
      expect(bad({ lengths: new Float64Array(1) })).toThrow(/option lengths must be a Uint32Array/);
      expect(bad({ counters: new Float64Array(1) })).toThrow(/option counters has fewer than counterCount/);
      expect(bad({ device: { path: '/dev/net/tun', name: '' } })).toThrow(/fd or device: exactly one/);
      expect(bad({ offload: true })).toThrow(/option flags must be a Uint8Array/);
      expect(bad({ offload: true, flags: new Uint8Array(1) })).toThrow(
        /option gsoSizes must be a Uint16Array/,
      );
      // Refused options adopt nothing: the fd is still the caller's, open.
      expect(libc().fcntl(fds[0]!, F_GETFD, 0)).not.toBe(-1);
      libc().close(fds[0]!);
      libc().close(fds[1]!);
    });
  },
);

describe(
  'the counter layout shared with the addon',
  skipUnless(linux, `needs Linux (this is ${process.platform})`),
  () => {
    it('comes from the addon (names in its order) and matches LinuxTunCounters', () => {
      const { counters } = tunIoAddon();
      expect(counters.count).toBe(9);
      expect(Object.keys(counters.index).sort()).toEqual([
        'echoReplies',
        'gsoPacketsRead',
        'gsoPacketsWritten',
        'rxBytes',
        'rxDropped',
        'rxPackets',
        'txBytes',
        'txDropped',
        'txPackets',
      ]);
      expect(new Set(Object.values(counters.index))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8]));
    });

    it("refuses an addon whose counters are not this package's (a stale build) with one clear line", () => {
      const names = [
        'rxPackets',
        'rxBytes',
        'txPackets',
        'txBytes',
        'rxDropped',
        'txDropped',
        'gsoPacketsRead',
        'gsoPacketsWritten',
        'echoReplies',
      ];
      expect(checkCounterLayout([...names].reverse(), 9).index.txDropped).toBe(3);
      for (const [n, c] of [
        [names, 10],
        [names.slice(1), 8],
        [[...names.slice(1), 'rxErrors'], 9],
        [undefined, 9],
      ] as const) {
        expect(() => checkCounterLayout(n, c)).toThrow(TunError);
        expect(() => checkCounterLayout(n, c)).toThrow(/the build is stale, rebuild it/);
      }
    });
  },
);
