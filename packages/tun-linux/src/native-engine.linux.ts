import type { Engine, EngineHooks } from './engine.linux.js';
import { makeBatch } from './engine.linux.js';
import { errnoName, TunError } from './errors.js';
import type { NativeTunIo } from './tun-io.linux.js';
import { tunIoAddon } from './tun-io.linux.js';

export interface NativeEngineOptions {
  /** The clone device and the interface name to ask for ('' lets the kernel pick tun%d)… */
  devicePath: string;
  name: string;
  /** …or an fd of an attached TUN to adopt instead (the addon owns it from here: adoptTun passes a dup). */
  fd?: number;
  offload: boolean;
  slotSize: number;
  batchSize: number;
  queueLimit: number;
  batchesPerWake: number;
  counters: Float64Array;
  hooks: EngineHooks;
}

/**
 * The addon: it opens the device (open + TUNSETIFF), polls the fd with uv_poll on the loop, reads batches
 * into one slab, writes batches in one call, and closes the fd. JS never holds the fd.
 */
export class NativeEngine implements Engine {
  private readonly io: NativeTunIo;
  private readonly offload: boolean;

  /** Opens the device; a refusal is a TunError naming the step (`open /dev/net/tun`, `TUNSETIFF`…). */
  constructor(options: NativeEngineOptions) {
    const batch = makeBatch(options.batchSize, options.slotSize);
    if (options.offload) batch.flags = new Uint8Array(options.batchSize);
    const { TunIo } = tunIoAddon();
    const { hooks } = options;
    this.offload = options.offload;
    try {
      this.io = new TunIo({
        ...(options.fd !== undefined
          ? { fd: options.fd }
          : { device: { path: options.devicePath, name: options.name } }),
        offload: options.offload,
        slab: batch.data.buffer as ArrayBuffer,
        lengths: batch.lengths,
        ...(batch.flags ? { flags: batch.flags } : {}),
        slotSize: options.slotSize,
        batchSize: options.batchSize,
        queueLimit: options.queueLimit,
        batchesPerWake: options.batchesPerWake,
        counters: options.counters,
        onBatch: (count) => {
          batch.count = count;
          hooks.deliver(batch);
        },
        onError: (operation, errno) => hooks.fail(operation, errno),
      });
    } catch (err) {
      throw openError(err, options);
    }
  }

  /** The interface name the kernel gave ('' for an adopted fd). */
  get name(): string {
    return this.io.name;
  }

  get fd(): number {
    return this.io.fd;
  }

  setReading(on: boolean): void {
    if (on) this.io.resume();
    else this.io.pause();
  }

  writeBatch(
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    flags: Uint8Array | undefined,
  ): void {
    // Flags matter only to an offload fd (a plain one would get a NEEDS_CSUM packet it cannot take).
    this.io.writeBatch(data, offsets, lengths, count, this.offload ? flags : undefined);
  }

  write(packet: Uint8Array): void {
    this.io.write(packet);
  }

  queueLength(): number {
    return this.io.queueLength();
  }

  async close(): Promise<void> {
    this.io.close(); // stops polling and closes the fd, in the addon
  }
}

/** The addon's open failure ({ operation, errno }) as a TunError naming the step. */
function openError(err: unknown, options: NativeEngineOptions): unknown {
  const { operation, errno } = err as { operation?: unknown; errno?: unknown };
  if (typeof operation !== 'string' || typeof errno !== 'number') return err;
  if (operation === 'open') return TunError.fromErrno(`open ${options.devicePath}`, errno);
  if (operation === 'TUNSETIFF' && options.name) {
    return TunError.fromErrno(operation, errno, `name "${options.name}": ${errnoName(errno)}`);
  }
  return TunError.fromErrno(operation, errno);
}
