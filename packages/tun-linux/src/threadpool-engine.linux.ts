import { read as fsRead, writeSync } from 'node:fs';
import type { RtNetlink } from '@ztun/routing-linux';
import type { Engine, EngineHooks, MutableBatch } from './engine.linux.js';
import { makeBatch } from './engine.linux.js';
import { getLibc } from './libc.linux.js';
import type { CounterLayout } from './tun-io.linux.js';

/**
 * The slow baseline: a blocking fd, `fs.read` on libuv's threadpool with one packet per call, `fs.writeSync`
 * per packet. For benchmarks; it cannot wait for writability and holds a threadpool thread while idle. Its fd
 * is opened through koffi (libc.linux.ts) and is this engine's alone: the addon never sees it.
 */
export class ThreadpoolEngine implements Engine {
  private reading = false;
  private inFlight = false;
  private closing = false;
  private pending = false; // a packet read while paused, delivered on resume
  private readonly batch: MutableBatch;
  private readDone?: () => void;
  private readonly rxPackets: number;
  private readonly rxBytes: number;
  private readonly txPackets: number;
  private readonly txBytes: number;
  private readonly rxDropped: number;
  private readonly txDropped: number;

  readonly offload = { checksum: false, tso: false } as const;

  constructor(
    private fdValue: number,
    slotSize: number,
    private readonly counters: Float64Array,
    layout: CounterLayout,
    private readonly hooks: EngineHooks,
    private readonly netlink: RtNetlink,
    private readonly index: number,
  ) {
    this.batch = makeBatch(1, slotSize);
    this.batch.count = 1;
    ({
      rxPackets: this.rxPackets,
      rxBytes: this.rxBytes,
      txPackets: this.txPackets,
      txBytes: this.txBytes,
      rxDropped: this.rxDropped,
      txDropped: this.txDropped,
    } = layout.index);
  }

  get fd(): number {
    return this.fdValue;
  }

  setReading(on: boolean): void {
    this.reading = on;
    if (!on) return;
    if (!this.pending) {
      this.next();
      return;
    }
    // The packet read while paused goes out from the loop, not from inside resume().
    setImmediate(() => {
      if (!this.reading || !this.pending || this.closing) return;
      this.pending = false;
      this.hooks.deliver(this.batch);
      this.next();
    });
  }

  private next(): void {
    if (!this.reading || this.inFlight || this.closing || this.pending) return;
    this.inFlight = true;
    fsRead(this.fdValue, this.batch.data, 0, this.batch.data.length, null, (err, n) => {
      this.inFlight = false;
      if (this.closing) {
        this.readDone?.();
        return;
      }
      if (err) {
        const errno = -(err.errno ?? -5);
        if (errno === 14) {
          this.counters[this.rxDropped]! += 1; // EFAULT: larger than the slot
          this.next();
          return;
        }
        this.hooks.fail('read', errno);
        return;
      }
      if (n === 0 || n >= this.batch.data.length) {
        this.counters[this.rxDropped]! += 1; // a full slot: the kernel cut an oversize packet
        this.next();
        return;
      }
      this.batch.lengths[0] = n;
      this.counters[this.rxPackets]! += 1;
      this.counters[this.rxBytes]! += n;
      if (!this.reading) {
        this.pending = true;
        return;
      }
      this.hooks.deliver(this.batch);
      this.next();
    });
  }

  writeBatch(data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void {
    for (let i = 0; i < count; i++) this.writeRange(data, offsets[i]!, lengths[i]!);
  }

  write(packet: Uint8Array): void {
    this.writeRange(packet, 0, packet.length);
  }

  private writeRange(data: Uint8Array, offset: number, length: number): void {
    if (this.closing || length === 0 || offset + length > data.length) {
      this.counters[this.txDropped]! += 1;
      return;
    }
    try {
      writeSync(this.fdValue, data, offset, length);
      this.counters[this.txPackets]! += 1;
      this.counters[this.txBytes]! += length;
    } catch {
      this.counters[this.txDropped]! += 1;
    }
  }

  answerEchoRequests(): boolean {
    return false; // the baseline hands every packet to JS
  }

  queueLength(): number {
    return 0;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.inFlight) {
      // A blocking read cannot be cancelled; deleting the link detaches the fd and wakes it (EFAULT).
      const done = new Promise<void>((resolve) => {
        this.readDone = resolve;
      });
      try {
        this.netlink.deleteLink(this.index);
      } catch {
        // ENODEV: already gone, so the read has returned or will
      }
      await done;
    }
    this.netlink.close();
    getLibc().close(this.fdValue);
    this.fdValue = -1;
  }
}
