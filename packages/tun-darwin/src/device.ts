/**
 * The utun device: batching, framing and the write queue, over a small `UtunFd` interface. The macOS fd
 * (utun.darwin.ts) implements UtunFd with koffi; tests use a fake. OS-free.
 */
import type { DeviceCounters, PacketBatch, TunDevice } from '@ztun/packet';
import { EAGAIN, EINTR, ENOBUFS, UTUN_HEADER_BYTES } from './constants.js';
import { UtunError } from './errors.js';
import { frameUtunPacketInto, stripUtunBatch, utunFamilyOf, writeUtunHeader } from './framing.js';

/**
 * One non-blocking utun socket. Reads and writes return a length or a negative errno (no exceptions on the
 * packet path). Readiness is reported through the handler given to `bind`, on the event loop.
 */
export interface UtunFd {
  bind(onReady: (readable: boolean, writable: boolean) => void): void;
  /** Reads one datagram into buffer[offset, offset+length): its length, or -errno (-EAGAIN: none pending). */
  read(buffer: Uint8Array, offset: number, length: number): number;
  /** Writes one datagram: bytes written, or -errno (-EAGAIN / -ENOBUFS: the kernel queue is full). */
  write(buffer: Uint8Array, offset: number, length: number): number;
  /** Which readiness to watch; both false stops polling. */
  setInterest(readable: boolean, writable: boolean): void;
  /** Stops polling and closes the socket (closing a utun socket removes the interface). */
  close(): Promise<void>;
}

export interface UtunDeviceInfo {
  name: string;
  index: number;
  mtu: number;
}

export interface UtunDeviceOptions {
  /** Packets per batch handed to the receiver. Default 64. */
  batchSize?: number;
  /** Packets held for a later write when the kernel says EAGAIN/ENOBUFS. Default 1024. */
  queueLimit?: number;
  /** Batches delivered per wake-up before yielding to the event loop. Default 4. */
  batchesPerWake?: number;
}

// errnos after which the fd is unusable: report once and stop polling.
const FATAL_ERRNOS = new Set([
  9 /* EBADF */, 6 /* ENXIO */, 57 /* ENOTCONN */, 32 /* EPIPE */, 19 /* ENODEV */,
]);
const MAX_PACKET = 0xffff;

interface MutableBatch {
  count: number;
  readonly data: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
}

export class UtunDevice implements TunDevice {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  private readonly stats: DeviceCounters = {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    rxDropped: 0,
    txDropped: 0,
  };
  /** Slot = header + MTU + 1: a read that fills a slot was truncated (oversize) and is dropped. */
  readonly slotSize: number;
  private readonly batchSize: number;
  private readonly queueLimit: number;
  private readonly batchesPerWake: number;
  private readonly slab: Uint8Array;
  private readonly datagramLengths: Uint32Array;
  private readonly batch: MutableBatch;
  private readonly scratch = new Uint8Array(UTUN_HEADER_BYTES + MAX_PACKET);
  private readonly queue: Uint8Array[] = [];
  private queueHead = 0;
  private receiver: ((batch: PacketBatch) => void) | undefined;
  private readonly errorListeners: ((err: Error) => void)[] = [];
  private paused = false;
  private failed = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly fd: UtunFd,
    info: UtunDeviceInfo,
    options: UtunDeviceOptions = {},
  ) {
    this.name = info.name;
    this.index = info.index;
    this.mtu = info.mtu;
    this.batchSize = options.batchSize ?? 64;
    this.queueLimit = options.queueLimit ?? 1024;
    this.batchesPerWake = options.batchesPerWake ?? 4;
    this.slotSize = UTUN_HEADER_BYTES + info.mtu + 1;
    this.slab = new Uint8Array(this.batchSize * this.slotSize);
    this.datagramLengths = new Uint32Array(this.batchSize);
    this.batch = {
      count: 0,
      data: this.slab,
      offsets: new Uint32Array(this.batchSize),
      lengths: new Uint32Array(this.batchSize),
    };
    fd.bind((readable, writable) => this.onReady(readable, writable));
  }

  get counters(): Readonly<DeviceCounters> {
    return this.stats;
  }

  onBatch(receiver: (batch: PacketBatch) => void): void {
    this.receiver = receiver;
    this.updateInterest();
  }

  onError(listener: (err: Error) => void): void {
    this.errorListeners.push(listener);
  }

  pause(): void {
    this.paused = true;
    this.updateInterest();
  }

  resume(): void {
    this.paused = false;
    this.updateInterest();
  }

  private queued(): number {
    return this.queue.length - this.queueHead;
  }

  private updateInterest(): void {
    if (this.closed || this.failed) return;
    this.fd.setInterest(this.receiver !== undefined && !this.paused, this.queued() > 0);
  }

  private fail(operation: string, errno: number): void {
    this.failed = true;
    this.fd.setInterest(false, false);
    const error = new UtunError(`${operation} ${this.name}`, errno);
    for (const listener of this.errorListeners) listener(error);
  }

  private onReady(readable: boolean, writable: boolean): void {
    if (this.closed || this.failed) return;
    if (writable) this.flushQueue();
    if (readable) this.readBatches();
  }

  private readBatches(): void {
    const { slab, slotSize, batchSize, datagramLengths, batch } = this;
    for (let wake = 0; wake < this.batchesPerWake; wake++) {
      if (this.paused || this.closed || this.failed || !this.receiver) return;
      let n = 0;
      while (n < batchSize) {
        const r = this.fd.read(slab, n * slotSize, slotSize);
        if (r >= 0) {
          datagramLengths[n++] = r;
          continue;
        }
        if (r === -EINTR) continue;
        if (r === -EAGAIN) break;
        if (FATAL_ERRNOS.has(-r)) {
          this.fail('read', -r);
          return;
        }
        this.stats.rxDropped++; // a transient per-datagram error (e.g. ENOBUFS): that one is lost
        break;
      }
      if (n === 0) return;
      const stripped = stripUtunBatch(slab, slotSize, datagramLengths, n, batch.offsets, batch.lengths);
      this.stats.rxDropped += stripped.dropped;
      this.stats.rxPackets += stripped.count;
      this.stats.rxBytes += stripped.bytes;
      if (stripped.count > 0) {
        batch.count = stripped.count;
        this.receiver(batch);
      }
      if (n < batchSize) return; // drained
    }
  }

  writeBatch(batch: PacketBatch): void {
    for (let i = 0; i < batch.count; i++) this.writePacket(batch.data, batch.offsets[i]!, batch.lengths[i]!);
  }

  write(packet: Uint8Array): void {
    this.writePacket(packet, 0, packet.length);
  }

  private writePacket(data: Uint8Array, offset: number, length: number): void {
    const family = this.closed || this.failed || length > MAX_PACKET ? 0 : utunFamilyOf(data, offset, length);
    if (family === 0) {
      this.stats.txDropped++;
      return;
    }
    // Where the datagram is: in place in our read slab (the header room before a received packet), or
    // framed into the scratch buffer.
    let buf: Uint8Array;
    let start: number;
    const slabOffset =
      data.buffer === this.slab.buffer ? data.byteOffset + offset - this.slab.byteOffset : -1;
    if (
      slabOffset >= 0 &&
      slabOffset % this.slotSize === UTUN_HEADER_BYTES &&
      slabOffset + length < slabOffset - UTUN_HEADER_BYTES + this.slotSize
    ) {
      buf = this.slab;
      start = slabOffset - UTUN_HEADER_BYTES;
      writeUtunHeader(buf, start, family);
    } else {
      buf = this.scratch;
      start = 0;
      frameUtunPacketInto(data, offset, length, buf, 0);
    }
    const size = UTUN_HEADER_BYTES + length;
    if (this.queued() > 0) {
      this.enqueue(buf, start, size); // keep order behind what is already waiting
      return;
    }
    const r = this.fd.write(buf, start, size);
    if (r >= 0) {
      this.stats.txPackets++;
      this.stats.txBytes += length;
    } else if (r === -EAGAIN || r === -ENOBUFS) {
      this.enqueue(buf, start, size);
      this.updateInterest();
    } else if (FATAL_ERRNOS.has(-r)) {
      this.stats.txDropped++;
      this.fail('write', -r);
    } else {
      this.stats.txDropped++; // EINVAL, EMSGSIZE…: this packet only
    }
  }

  private enqueue(buf: Uint8Array, start: number, size: number): void {
    if (this.queued() >= this.queueLimit) {
      this.stats.txDropped++;
      return;
    }
    this.queue.push(buf.slice(start, start + size));
  }

  private flushQueue(): void {
    while (this.queued() > 0) {
      const datagram = this.queue[this.queueHead]!;
      const r = this.fd.write(datagram, 0, datagram.length);
      if (r === -EAGAIN || r === -ENOBUFS) break;
      this.queueHead++;
      if (r >= 0) {
        this.stats.txPackets++;
        this.stats.txBytes += datagram.length - UTUN_HEADER_BYTES;
      } else {
        this.stats.txDropped++;
        if (FATAL_ERRNOS.has(-r)) {
          this.fail('write', -r);
          return;
        }
      }
    }
    if (this.queueHead > 0 && this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
    this.updateInterest();
  }

  /** Closes the socket, which removes the utun interface. Packets still queued are counted as dropped. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.stats.txDropped += this.queued();
    this.queue.length = 0;
    this.queueHead = 0;
    this.fd.setInterest(false, false);
    this.closing = this.fd.close();
    return this.closing;
  }
}
