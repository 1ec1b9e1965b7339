import type { Engine, EngineHooks, TunOffload } from './engine.linux.js';
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
  /** Writes on a thread of the addon's own (OpenTunOptions.writeThread). */
  writeThread?: boolean;
  /** The TSO flags asked for with offload (default TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN; 0: checksum only). */
  tsoFlags?: number;
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
  readonly offload: TunOffload;

  /** Opens the device; a refusal is a TunError naming the step (`open /dev/net/tun`, `TUNSETIFF`…). */
  constructor(options: NativeEngineOptions) {
    const batch = makeBatch(options.batchSize, options.slotSize);
    if (options.offload) {
      batch.flags = new Uint8Array(options.batchSize);
      batch.gsoSize = new Uint16Array(options.batchSize);
    }
    const { TunIo } = tunIoAddon();
    const { hooks } = options;
    try {
      this.io = new TunIo({
        ...(options.fd !== undefined
          ? { fd: options.fd }
          : { device: { path: options.devicePath, name: options.name } }),
        offload: options.offload,
        ...(options.writeThread ? { writeThread: true } : {}),
        slab: batch.data.buffer as ArrayBuffer,
        lengths: batch.lengths,
        ...(batch.flags ? { flags: batch.flags, gsoSizes: batch.gsoSize! } : {}),
        ...(options.tsoFlags !== undefined ? { tsoFlags: options.tsoFlags } : {}),
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
    this.offload = offloadOf(options, this.io);
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
    gsoSizes: Uint16Array | undefined,
  ): void {
    // Flags and GSO sizes matter only to an offload fd (a plain one would get a NEEDS_CSUM packet it cannot
    // take, or a super-packet).
    if (this.offload.checksum) this.io.writeBatch(data, offsets, lengths, count, flags, gsoSizes);
    else this.io.writeBatch(data, offsets, lengths, count);
  }

  write(packet: Uint8Array): void {
    this.io.write(packet);
  }

  queueLength(): number {
    return this.io.queueLength();
  }

  answerEchoRequests(families: number): boolean {
    this.io.answerEchoRequests(families);
    return true;
  }

  async close(): Promise<void> {
    this.io.close(); // stops polling and closes the fd, in the addon
  }
}

const TSO_ASKED = 0x0e; // TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN (linux/if_tun.h)

/** What the kernel took: the TUN_F_* flags TUNSETOFFLOAD accepted, or the refusal of the TSO ones. */
function offloadOf(options: NativeEngineOptions, io: NativeTunIo): TunOffload {
  if (!options.offload) return { checksum: false, tso: false, uso: false };
  if (options.fd !== undefined) {
    // Adopted: its owner chose the offloads (TUNSETOFFLOAD cannot be read back); super-packets are handled if
    // it enabled TSO.
    // USO is not probed on it (that would change its owner's settings): UDP replies go one per datagram.
    return {
      checksum: true,
      tso: true,
      uso: false,
      note: "adopted: the owner's TUNSETOFFLOAD settings apply",
    };
  }
  const tso = (io.offloadFlags & TSO_ASKED) !== 0;
  const uso = io.usoWritable === true;
  if (tso) return { checksum: true, tso, uso };
  if (io.tsoRefused !== 0) {
    return {
      checksum: true,
      tso,
      uso,
      note: `the kernel refused TSO: TUNSETOFFLOAD ${errnoName(io.tsoRefused)}`,
    };
  }
  return { checksum: true, tso, uso, note: 'TSO not asked for' };
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
