/**
 * The Wintun device over a WintunApi: batched reads that never block the event loop (when the ring is empty
 * the wait on the read event runs on a worker thread), writes straight into the send ring. OS-free; the
 * Windows bindings are injected (wintun.windows.ts), tests inject a fake.
 */
import type { DeviceCounters, PacketBatch, TunDevice } from '@ztun/packet';
import { WAIT_FAILED, WINTUN_MAX_IP_PACKET_SIZE } from './constants.js';
import { classifyReceiveError, classifySendError, TunError, win32Error } from './errors.js';
import type { TunLogger } from './logger.js';
import type { AdapterHandle, EventHandle, SessionHandle, WintunApi } from './wintun-api.js';

export interface WindowsTunParts {
  api: WintunApi;
  adapter: AdapterHandle;
  session: SessionHandle;
  name: string;
  index: number;
  luid: bigint;
  mtu: number;
  /** Most packets handed over per batch. */
  batchSize: number;
  /** Full batches delivered back to back before yielding to the event loop. */
  batchesPerWake?: number | undefined;
  /** Bound on one off-thread wait, so close() ends a wait within this time. */
  waitTimeoutMs: number;
  logger?: TunLogger | undefined;
  /** Runs in close() after the session ended, before the adapter handle is closed. */
  beforeRelease?: (() => void) | undefined;
}

interface MutableBatch {
  count: number;
  data: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
}

type DrainResult = 'batch' | 'empty' | 'stop';

export class WindowsTun implements TunDevice {
  readonly name: string;
  readonly index: number;
  readonly luid: bigint;
  readonly mtu: number;
  readonly counters: DeviceCounters = {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    rxDropped: 0,
    txDropped: 0,
  };

  private readonly api: WintunApi;
  private readonly adapter: AdapterHandle;
  private readonly session: SessionHandle;
  private readonly event: EventHandle;
  private readonly batch: MutableBatch;
  private readonly batchSize: number;
  private readonly waitTimeoutMs: number;
  private readonly batchesPerWake: number;
  private readonly logger: TunLogger | undefined;
  private readonly beforeRelease: (() => void) | undefined;
  private receiver: ((batch: PacketBatch) => void) | undefined;
  private readonly errorListeners: ((err: Error) => void)[] = [];
  private paused = false;
  /** No more I/O: closed, or the adapter is gone / the ring failed. */
  private stopped = false;
  private closing: Promise<void> | undefined;
  private pumpRunning: Promise<void> | undefined;

  constructor(parts: WindowsTunParts) {
    this.api = parts.api;
    this.adapter = parts.adapter;
    this.session = parts.session;
    this.name = parts.name;
    this.index = parts.index;
    this.luid = parts.luid;
    this.mtu = parts.mtu;
    this.batchSize = parts.batchSize;
    this.waitTimeoutMs = parts.waitTimeoutMs;
    this.batchesPerWake = parts.batchesPerWake ?? 4;
    this.logger = parts.logger;
    this.beforeRelease = parts.beforeRelease;
    this.event = parts.api.getReadWaitEvent(parts.session);
    // Room for batchSize MTU-sized packets, plus one maximal packet so any packet always fits.
    const bytes = parts.batchSize * parts.mtu + WINTUN_MAX_IP_PACKET_SIZE;
    this.batch = {
      count: 0,
      data: parts.api.allocBuffer ? parts.api.allocBuffer(bytes) : new Uint8Array(bytes),
      offsets: new Uint32Array(parts.batchSize),
      lengths: new Uint32Array(parts.batchSize),
    };
  }

  onBatch(receiver: (batch: PacketBatch) => void): void {
    this.receiver = receiver;
    this.startPump();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.startPump();
  }

  onError(listener: (err: Error) => void): void {
    this.errorListeners.push(listener);
  }

  /**
   * Each packet is copied into the send ring now. There is no extra queue: Wintun gives no "writable again"
   * signal, so the ring (its capacity is the bound) is the queue and a full ring drops, counted in txDropped.
   */
  writeBatch(batch: PacketBatch): void {
    const { data, offsets, lengths } = batch;
    for (let i = 0; i < batch.count; i++) this.send(data, offsets[i]!, lengths[i]!);
  }

  write(packet: Uint8Array): void {
    this.send(packet, 0, packet.length);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    // The session owns the read event: end it only after the off-thread wait has returned.
    await this.pumpRunning;
    try {
      this.api.endSession(this.session);
      this.beforeRelease?.();
    } finally {
      this.api.closeAdapter(this.adapter);
      // Nothing reads the batch buffer any more (the pump has stopped and batches are valid only during the
      // receiver call).
      this.api.freeBuffer?.(this.batch.data);
    }
  }

  private send(data: Uint8Array, offset: number, length: number): void {
    if (this.stopped || length === 0 || length > WINTUN_MAX_IP_PACKET_SIZE) {
      this.counters.txDropped++;
      return;
    }
    let status: number;
    try {
      status = this.api.sendPacket(this.session, data, offset, length);
    } catch (err) {
      this.counters.txDropped++;
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (status === 0) {
      this.counters.txPackets++;
      this.counters.txBytes += length;
      return;
    }
    this.counters.txDropped++;
    const kind = classifySendError(status);
    if (kind !== 'drop') this.fail(win32Error('WintunAllocateSendPacket', status));
  }

  private startPump(): void {
    if (this.pumpRunning || this.stopped || this.paused || !this.receiver) return;
    this.pumpRunning = this.pump()
      .catch((err: unknown) => {
        // A throwing binding must not become an unhandled rejection (fatal in Node): report it once.
        this.fail(err instanceof Error ? err : new Error(String(err)));
      })
      .finally(() => {
        this.pumpRunning = undefined;
        // resume() may have run after the loop saw `paused` but before this callback: start again if so.
        this.startPump();
      });
  }

  private async pump(): Promise<void> {
    let backToBack = 0;
    while (!this.stopped && !this.paused && this.receiver) {
      const r = this.drain();
      if (r === 'stop') return;
      if (r === 'empty') {
        backToBack = 0;
        const w = await this.api.waitForEvent(this.event, this.waitTimeoutMs);
        if (w === WAIT_FAILED) {
          this.fail(new TunError('WIN32', 'WaitForSingleObject', 'waiting on the Wintun read event failed'));
          return;
        }
        continue; // signalled or timed out: either way, look at the ring (and at stopped) again
      }
      // The ring may hold more: take a few batches back to back, then let other callbacks run.
      if (++backToBack >= this.batchesPerWake) {
        backToBack = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Receive up to one batch and hand it over. */
  private drain(): DrainResult {
    const b = this.batch;
    const room = b.data.length - WINTUN_MAX_IP_PACKET_SIZE;
    let used = 0;
    let count = 0;
    let result: DrainResult = 'batch';
    while (count < this.batchSize && used <= room) {
      const n = this.api.receivePacket(this.session, b.data, used);
      if (n > 0) {
        b.offsets[count] = used;
        b.lengths[count] = n;
        count++;
        used += n;
        this.counters.rxPackets++;
        this.counters.rxBytes += n;
        continue;
      }
      if (n === 0) {
        this.counters.rxDropped++; // Wintun never sends empty packets; skip it
        continue;
      }
      const kind = classifyReceiveError(-n);
      if (kind === 'empty') {
        result = 'empty';
      } else {
        this.fail(win32Error('WintunReceivePacket', -n));
        result = 'stop';
      }
      break;
    }
    if (count > 0) {
      b.count = count;
      try {
        this.receiver!(b);
      } catch (err) {
        this.emit(err instanceof Error ? err : new Error(String(err)));
      }
      b.count = 0;
      return result === 'stop' ? 'stop' : 'batch';
    }
    return result;
  }

  /** A fatal condition: stop I/O (close() still releases everything) and report it once. */
  private fail(err: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.emit(err);
  }

  private emit(err: Error): void {
    if (this.errorListeners.length === 0) {
      (this.logger ?? console).error(`${this.name}: ${err.message}`);
      return;
    }
    for (const l of this.errorListeners) l(err);
  }
}
