import { describe, expect, it } from 'vitest';
import {
  EAGAIN,
  ENOBUFS,
  frameUtunPacket,
  type PacketBatch,
  type TunDevice,
  UtunDevice,
  UtunError,
  type UtunFd,
} from '../src/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** IPv4/IPv6 packets with a recognisable body. */
function ipv4(id: number, len = 28): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[4] = id >> 8;
  p[5] = id & 0xff;
  return p;
}
function ipv6(id: number, len = 48): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x60;
  p[4] = id >> 8;
  p[5] = id & 0xff;
  return p;
}

/** A fake utun socket: an inbound datagram queue, a kernel write queue with a capacity, errno injection. */
class FakeUtunFd implements UtunFd {
  inbound: Uint8Array[] = [];
  written: Uint8Array[] = [];
  writtenFrom: Uint8Array[] = []; // the buffer each write came from (to see in-place writes)
  reads = 0;
  writeCapacity = Number.POSITIVE_INFINITY;
  writeErrno: number | undefined;
  readErrno: number | undefined;
  interest = { readable: false, writable: false };
  closed = 0;
  private onReady: (readable: boolean, writable: boolean) => void = () => {};

  bind(onReady: (readable: boolean, writable: boolean) => void): void {
    this.onReady = onReady;
  }
  read(buffer: Uint8Array, offset: number, length: number): number {
    this.reads++;
    if (this.readErrno !== undefined) return -this.readErrno;
    const next = this.inbound.shift();
    if (!next) return -EAGAIN;
    const n = Math.min(next.length, length); // datagram semantics: the rest is discarded
    buffer.set(next.subarray(0, n), offset);
    return n;
  }
  write(buffer: Uint8Array, offset: number, length: number): number {
    if (this.writeErrno !== undefined) return -this.writeErrno;
    if (this.written.length >= this.writeCapacity) return -EAGAIN;
    this.written.push(buffer.slice(offset, offset + length));
    this.writtenFrom.push(buffer);
    return length;
  }
  setInterest(readable: boolean, writable: boolean): void {
    this.interest = { readable, writable };
  }
  async close(): Promise<void> {
    this.closed++;
  }
  /** What the poller would do: report readiness for what is watched. */
  fire(): void {
    const readable = this.interest.readable && (this.inbound.length > 0 || this.readErrno !== undefined);
    const writable = this.interest.writable && this.written.length < this.writeCapacity;
    if (readable || writable) this.onReady(readable, writable);
  }
}

function device(fd: FakeUtunFd, options = {}) {
  return new UtunDevice(fd, { name: 'utun7', index: 21, mtu: 1500 }, options);
}

function packetsOf(batch: PacketBatch): string[] {
  const out: string[] = [];
  for (let i = 0; i < batch.count; i++) {
    out.push(hex(batch.data.subarray(batch.offsets[i]!, batch.offsets[i]! + batch.lengths[i]!)));
  }
  return out;
}

describe('UtunDevice: the TunDevice shape over a utun fd', () => {
  it('fits TunDevice structurally', () => {
    const d: TunDevice = device(new FakeUtunFd());
    expect([d.name, d.index, d.mtu]).toEqual(['utun7', 21, 1500]);
  });

  it('reads in batches, strips the header, and counts', () => {
    const fd = new FakeUtunFd();
    const d = device(fd, { batchSize: 4, batchesPerWake: 2 });
    const sent = Array.from({ length: 10 }, (_, i) => (i % 2 ? ipv6(i) : ipv4(i)));
    fd.inbound = sent.map((p) => frameUtunPacket(p)!);
    const batches: string[][] = [];
    expect(fd.interest.readable).toBe(false); // no receiver yet: not polling
    d.onBatch((b) => batches.push(packetsOf(b)));
    expect(fd.interest.readable).toBe(true);
    fd.fire();
    // One wake-up delivers at most batchesPerWake batches; the rest waits for the next poll.
    expect(batches.map((b) => b.length)).toEqual([4, 4]);
    fd.fire();
    expect(batches.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(batches.flat()).toEqual(sent.map(hex));
    expect(d.counters).toMatchObject({ rxPackets: 10, rxBytes: 5 * 28 + 5 * 48, rxDropped: 0 });
  });

  it('drops and counts oversize, short and unknown-family datagrams; never throws', () => {
    const fd = new FakeUtunFd();
    const d = device(fd);
    fd.inbound = [
      frameUtunPacket(ipv4(1, 1500))!, // exactly the MTU: fine
      frameUtunPacket(ipv4(2, 1501))!, // over the MTU: truncated by the read, dropped
      new Uint8Array([0, 0, 0, 2]),
      new Uint8Array([0, 0, 0, 10, 0x60]), // Linux's AF_INET6
      frameUtunPacket(ipv6(3))!,
    ];
    const got: string[] = [];
    d.onBatch((b) => got.push(...packetsOf(b)));
    fd.fire();
    expect(got).toEqual([hex(ipv4(1, 1500)), hex(ipv6(3))]);
    expect(d.counters.rxDropped).toBe(3);
    expect(d.slotSize).toBe(4 + 1500 + 1);
  });

  it('pause/resume switch read polling', () => {
    const fd = new FakeUtunFd();
    const d = device(fd);
    d.onBatch(() => d.pause()); // backpressure from inside the receiver
    fd.inbound = Array.from({ length: 100 }, (_, i) => frameUtunPacket(ipv4(i))!);
    fd.fire();
    expect(fd.interest.readable).toBe(false);
    expect(d.counters.rxPackets).toBe(64); // one batch, then it stopped
    d.resume();
    expect(fd.interest.readable).toBe(true);
  });

  it('echo: the receiver rewrites in place and writes the same batch — headers added without copying', () => {
    const fd = new FakeUtunFd();
    const d = device(fd);
    d.onBatch((batch) => {
      for (let i = 0; i < batch.count; i++) batch.data[batch.offsets[i]! + 8] = 0x77; // e.g. a TTL rewrite
      d.writeBatch(batch);
    });
    fd.inbound = [frameUtunPacket(ipv4(1))!, frameUtunPacket(ipv6(2))!];
    fd.fire();
    const expected = [ipv4(1), ipv6(2)].map((p) => {
      p[8] = 0x77;
      return hex(frameUtunPacket(p)!);
    });
    expect(fd.written.map(hex)).toEqual(expected);
    // Written straight from the read slab: the header went into the 4 bytes before each packet.
    expect(fd.writtenFrom.every((b) => b.length === 64 * (4 + 1500 + 1))).toBe(true);
    expect(d.counters).toMatchObject({ txPackets: 2, txBytes: 28 + 48, txDropped: 0 });
  });

  it('write() and foreign batches are framed through the scratch buffer', () => {
    const fd = new FakeUtunFd();
    const d = device(fd);
    d.write(ipv6(9));
    const data = new Uint8Array(200);
    data.set(ipv4(5), 10);
    data.set(ipv6(6), 100);
    d.writeBatch({ count: 2, data, offsets: new Uint32Array([10, 100]), lengths: new Uint32Array([28, 48]) });
    expect(fd.written.map(hex)).toEqual([ipv6(9), ipv4(5), ipv6(6)].map((p) => hex(frameUtunPacket(p)!)));
  });

  it('not IPv4/IPv6, or refused by the kernel (EINVAL): dropped and counted, nothing thrown', () => {
    const fd = new FakeUtunFd();
    const d = device(fd);
    d.write(new Uint8Array([0x10, 1, 2, 3]));
    d.write(new Uint8Array(0));
    fd.writeErrno = 22;
    d.write(ipv4(1));
    expect(d.counters.txDropped).toBe(3);
    expect(fd.written).toEqual([]);
  });

  it('EAGAIN/ENOBUFS: queued in order, flushed when writable; beyond the bound dropped', () => {
    const fd = new FakeUtunFd();
    const d = device(fd, { queueLimit: 3 });
    fd.writeCapacity = 1;
    for (let i = 0; i < 6; i++) d.write(ipv4(i));
    // 1 written, 3 queued, 2 dropped (queue bound)
    expect(fd.written.length).toBe(1);
    expect(d.counters.txDropped).toBe(2);
    expect(fd.interest.writable).toBe(true);
    fd.writeCapacity = 10;
    fd.fire();
    expect(fd.written.map(hex)).toEqual([0, 1, 2, 3].map((i) => hex(frameUtunPacket(ipv4(i))!)));
    expect(fd.interest.writable).toBe(false);
    expect(d.counters).toMatchObject({ txPackets: 4, txDropped: 2 });

    // ENOBUFS behaves like EAGAIN, and later writes queue behind it (order kept).
    fd.writeErrno = ENOBUFS;
    d.write(ipv6(7));
    fd.writeErrno = undefined;
    d.write(ipv6(8));
    expect(fd.written.length).toBe(4);
    fd.fire();
    expect(fd.written.slice(4).map(hex)).toEqual([ipv6(7), ipv6(8)].map((p) => hex(frameUtunPacket(p)!)));
  });

  it('a queued in-place packet is a copy (the read slab is reused by the next batch)', () => {
    const fd = new FakeUtunFd();
    const d = device(fd);
    fd.writeCapacity = 0;
    d.onBatch((b) => d.writeBatch(b));
    fd.inbound = [frameUtunPacket(ipv4(1))!];
    fd.fire();
    fd.inbound = [frameUtunPacket(ipv4(2))!]; // overwrites slot 0
    d.pause();
    fd.writeCapacity = 10;
    fd.fire();
    expect(fd.written.map(hex)).toEqual([hex(frameUtunPacket(ipv4(1))!)]);
  });

  it('a fatal read error (EBADF/ENXIO) is reported once through onError and polling stops', () => {
    const fd = new FakeUtunFd();
    const d = device(fd);
    const errors: Error[] = [];
    d.onError((e) => errors.push(e));
    d.onBatch(() => {});
    fd.readErrno = 6; // ENXIO: the interface went away
    fd.fire();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(UtunError);
    expect((errors[0] as UtunError).code).toBe('ENXIO');
    expect(fd.interest).toEqual({ readable: false, writable: false });
  });

  it('close() is idempotent, stops polling, counts still-queued packets as dropped', async () => {
    const fd = new FakeUtunFd();
    const d = device(fd);
    d.onBatch(() => {});
    fd.writeCapacity = 0;
    d.write(ipv4(1));
    d.write(ipv4(2));
    await Promise.all([d.close(), d.close()]);
    await d.close();
    expect(fd.closed).toBe(1);
    expect(fd.interest).toEqual({ readable: false, writable: false });
    expect(d.counters.txDropped).toBe(2);
    d.write(ipv4(3)); // after close: dropped, not thrown
    expect(d.counters.txDropped).toBe(3);
  });
});
