import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TunError } from './errors.js';

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

let addon: NativeAddon | undefined;

/** Loads build/Release/ztun_tun.node (built by `node-gyp rebuild` on install). */
export function loadAddon(): NativeAddon {
  if (addon) return addon;
  // src/ (tests) and dist/ (package) both sit one level below the package root.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const path = ['build/Release/ztun_tun.node', 'build/Debug/ztun_tun.node']
    .map((p) => join(root, p))
    .find((p) => existsSync(p));
  if (!path) {
    throw new TunError(
      'load native addon',
      'ENOENT',
      2,
      `no build/Release/ztun_tun.node under ${root}; run \`node-gyp rebuild\` there (pnpm install does it)`,
    );
  }
  addon = createRequire(import.meta.url)(path) as NativeAddon;
  return addon;
}
