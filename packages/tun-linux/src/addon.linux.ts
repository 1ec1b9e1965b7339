import { nativeAddon } from './load-addon.linux.js';

/** The native TunIo class (native/tun_io.cc). */
export interface NativeTunIo {
  resume(): void;
  pause(): void;
  writeBatch(
    data: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    flags?: Uint8Array,
  ): number;
  write(packet: Uint8Array): number;
  queueLength(): number;
  close(): number;
}

export interface NativeAddon {
  TunIo: new (
    fd: number,
    slab: ArrayBuffer,
    lengths: Uint32Array,
    slotSize: number,
    batchSize: number,
    queueLimit: number,
    counters: Float64Array,
    onBatch: (count: number) => void,
    onError: (operation: string, errno: number) => void,
    batchesPerWake: number,
    /** One byte per slot: the fd is an IFF_VNET_HDR TUN (offload); reads record per-packet flags here. */
    flags?: Uint8Array,
  ) => NativeTunIo;
  counterCount: number;
}

/** The addon, loaded once: a source build (build/Release) or the prebuild for this platform (load-addon.linux.ts). */
export function loadAddon(): NativeAddon {
  return nativeAddon().exports as NativeAddon;
}
