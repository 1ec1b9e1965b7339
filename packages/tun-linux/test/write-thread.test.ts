// The TUN write thread (native/tun_writer.h, issue 17 item 6): writeBatch hands copies of the packets to a
// thread of the addon's own, which writes them in order. Over a datagram socketpair whose buffer holds far
// fewer packets than a burst, so the thread meets EAGAIN and must wait for room without losing or reordering
// anything.
import { skipUnless, waitFor } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { counter, type Harness, harness, libc, linux, packet } from './tun-io-harness.js';

const F_SETFL = 4;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;

/** A batch of `n` packets of `size` bytes, numbered from `first`. */
function burst(first: number, n: number, size: number) {
  const data = new Uint8Array(n * size);
  const view = new DataView(data.buffer);
  const offsets = new Uint32Array(n);
  const lengths = new Uint32Array(n).fill(size);
  for (let i = 0; i < n; i++) {
    view.setUint32(i * size, first + i);
    offsets[i] = i * size;
  }
  return { data, offsets, lengths, n };
}

/**
 * Hands a burst over in writeBatch calls of `chunk` packets (10 × 1000 B: under the 16 KiB from which a batch
 * counts as bulk and, with the thread idle, is written inline). Returns the packets taken (handed over).
 */
function handOver(h: Harness, b: ReturnType<typeof burst>, chunk = 10): number {
  let taken = 0;
  for (let i = 0; i < b.n; i += chunk) {
    const n = Math.min(chunk, b.n - i);
    taken += h.io.writeBatch(b.data, b.offsets.subarray(i), b.lengths.subarray(i), n);
  }
  return taken;
}

/** Every packet waiting in the peer now, by sequence number. */
function drain(peer: number, size: number, into: number[]): void {
  const buf = new Uint8Array(2048);
  for (;;) {
    const r = libc().recv(peer, buf, buf.length, 0);
    if (r < 0) return;
    expect(r).toBe(size);
    into.push(new DataView(buf.buffer).getUint32(0));
  }
}

describe(
  'the TUN write thread',
  skipUnless(linux, `the native TunIo tests need Linux (this is ${process.platform})`),
  () => {
    it('writes bursts far larger than the socket takes at once in order, without loss, from copies', async () => {
      const h = harness({ batchSize: 8, queueLimit: 8, writeThread: true });
      const size = 1000;
      const got: number[] = [];
      let sent = 0;
      // Three writeBatch calls of 1300 packets each (~3.9 MB against a ~200 KB socket buffer; fewer than the
      // 4096 the thread holds, so none may drop): the thread
      // waits for room again and again; each batch's memory is overwritten as soon as writeBatch returns.
      for (let round = 0; round < 3; round++) {
        const b = burst(sent, 1300, size);
        expect(handOver(h, b)).toBe(b.n); // all handed over
        b.data.fill(0xee);
        sent += b.n;
        drain(h.peer, size, got);
      }
      await waitFor(
        'every packet at the peer',
        () => {
          drain(h.peer, size, got);
          return got.length >= sent && h.io.queueLength() === 0;
        },
        10_000,
        5,
      );
      expect(got).toEqual([...Array(sent).keys()]);
      expect(h.counters[counter('txPackets')]).toBe(sent);
      expect(h.counters[counter('txBytes')]).toBe(sent * size);
      expect(h.counters[counter('txDropped')]).toBe(0);
      expect(h.errors).toEqual([]);
    });

    it('keeps writing while the JS thread is blocked', () => {
      const h = harness({ batchSize: 8, queueLimit: 8, writeThread: true });
      const size = 1000;
      const b = burst(0, 2000, size);
      expect(handOver(h, b)).toBe(b.n);
      // The peer blocking (a 20 s receive timeout only so a broken build fails instead of hanging): this
      // thread now sits in recv(2) until every packet came, and never returns to the event loop, so only
      // another thread can have written the ones the socket buffer had no room for at first.
      expect(libc().fcntl(h.peer, F_SETFL, 0)).toBe(0);
      const timeout = new BigInt64Array([20n, 0n]); // struct timeval { tv_sec, tv_usec }
      expect(libc().setsockopt(h.peer, SOL_SOCKET, SO_RCVTIMEO, new Int32Array(timeout.buffer), 16)).toBe(0);
      const buf = new Uint8Array(2048);
      const got: number[] = [];
      while (got.length < b.n) {
        const r = libc().recv(h.peer, buf, buf.length, 0);
        if (r < 0) break;
        got.push(new DataView(buf.buffer).getUint32(0));
      }
      expect(got).toEqual([...Array(b.n).keys()]);
    });

    it('drops and counts past its limit, never blocking the JS thread', () => {
      // Nobody reads the peer: the thread writes what fits and then waits; writeBatch still returns at once.
      const h = harness({ batchSize: 8, queueLimit: 8, writeThread: true });
      const b = burst(0, 5000, 1000); // the thread's limit is max(queueLimit, 4096) packets waiting
      const handed = handOver(h, b);
      expect(handed).toBeGreaterThanOrEqual(4096);
      expect(handed).toBeLessThan(b.n);
      expect(h.counters[counter('txDropped')]).toBe(b.n - handed);
      // close() drops what is still waiting and counts it: every packet is written or counted once.
      const dropped = h.io.close();
      expect(h.counters[counter('txPackets')] + h.counters[counter('txDropped')]).toBe(b.n);
      expect(dropped).toBeGreaterThan(0);
    });

    it('writes a bulk batch or a lone packet inline while the thread is idle, and behind it while it is not', async () => {
      const h = harness({ batchSize: 8, queueLimit: 8, writeThread: true });
      const size = 1000;
      const got: number[] = [];
      // Idle thread, 50 × 1000 B: written here, so the packets are in the socket when writeBatch returns.
      const bulk = burst(0, 50, size);
      expect(h.io.writeBatch(bulk.data, bulk.offsets, bulk.lengths, bulk.n)).toBe(50);
      drain(h.peer, size, got);
      expect(got).toEqual([...Array(50).keys()]);
      // A lone packet (a request/response exchange) too: the hop to the thread would be pure latency.
      const lone = burst(50, 1, 100);
      expect(h.io.writeBatch(lone.data, lone.offsets, lone.lengths, 1)).toBe(1);
      const buf = new Uint8Array(2048);
      expect(libc().recv(h.peer, buf, buf.length, 0)).toBe(100);
      // Now fill the socket through the thread (small batches), and while it waits for room, a bulk batch:
      // it must queue behind the thread's packets, not jump ahead of them.
      const small = burst(51, 1000, size);
      expect(handOver(h, small)).toBe(1000);
      expect(h.io.queueLength()).toBeGreaterThan(0);
      const late = burst(1051, 50, size);
      expect(h.io.writeBatch(late.data, late.offsets, late.lengths, late.n)).toBe(50);
      await waitFor(
        'every packet at the peer',
        () => {
          drain(h.peer, size, got);
          return got.length >= 1100;
        },
        10_000,
        5,
      );
      expect(got).toEqual([...Array(1101).keys()].filter((i) => i !== 50));
      expect(h.counters[counter('txDropped')]).toBe(0);
    });

    it('reports a fatal write error (EPIPE) from the thread at the next write, then drops and counts', async () => {
      const h = harness({ batchSize: 8, queueLimit: 8, writeThread: true });
      expect(libc().shutdown(h.fd, 1)).toBe(0); // SHUT_WR: every write fails with EPIPE
      expect(h.io.write(packet(1, 10))).toBe(1); // handed over; the thread finds out
      await waitFor('the thread to meet EPIPE', () => h.io.queueLength() === 0, 5000, 5);
      h.io.write(packet(2, 10));
      expect(h.errors).toEqual([['write', 32]]);
      h.io.write(packet(3, 10));
      expect(h.errors).toHaveLength(1);
      expect(h.counters[counter('txDropped')]).toBe(3);
    });
  },
);
