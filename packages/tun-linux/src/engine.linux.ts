import type { PacketBatch } from '@ztun/packet';

// What a LinuxTun drives: the native addon (native-engine.linux.ts) or the fs.read baseline
// (threadpool-engine.linux.ts). Both update the device's counters in place.

/** What the kernel took of the offload request (LinuxTun.offload). */
export interface TunOffload {
  /** TUN_F_CSUM: partial checksums both ways (PacketBatch.flags). */
  readonly checksum: boolean;
  /** TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN: TCP super-packets both ways (PacketBatch.gsoSize). */
  readonly tso: boolean;
  /** Why TSO is off although offload was asked for (the kernel's refusal), or how it was decided. */
  readonly note?: string;
}

export interface Engine {
  /** The device's fd, for diagnostics; -1 once closed. */
  readonly fd: number;
  readonly offload: TunOffload;
  setReading(on: boolean): void;
  writeBatch(
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    flags: Uint8Array | undefined,
    gsoSizes: Uint16Array | undefined,
  ): void;
  write(packet: Uint8Array): void;
  queueLength(): number;
  /** Echo requests of these families (1: IPv4, 2: IPv6) answered in the read path; false: not this engine. */
  answerEchoRequests(families: number): boolean;
  close(): Promise<void>;
}

/** Where an engine reports batches and errors. */
export interface EngineHooks {
  deliver(batch: PacketBatch): void;
  fail(operation: string, errno: number): void;
}

/**
 * Hooks that forward to a device attached after the engine exists (the engine opens the fd, then the device
 * is configured and built). Nothing arrives before: reading starts with onBatch, errors with I/O.
 */
export class LateHooks implements EngineHooks {
  private target: EngineHooks | undefined;
  attach(target: EngineHooks): void {
    this.target = target;
  }
  deliver(batch: PacketBatch): void {
    this.target?.deliver(batch);
  }
  fail(operation: string, errno: number): void {
    this.target?.fail(operation, errno);
  }
}

/** A reusable batch whose count the engine rewrites before each delivery. */
export interface MutableBatch {
  count: number;
  readonly data: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  flags?: Uint8Array;
  gsoSize?: Uint16Array;
}

export function makeBatch(batchSize: number, slotSize: number): MutableBatch {
  const data = new Uint8Array(new ArrayBuffer(batchSize * slotSize));
  const offsets = new Uint32Array(batchSize);
  for (let i = 0; i < batchSize; i++) offsets[i] = i * slotSize;
  return { count: 0, data, offsets, lengths: new Uint32Array(batchSize) };
}
