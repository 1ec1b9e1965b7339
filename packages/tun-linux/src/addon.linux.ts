import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TunError } from './errors.js';
import type { NativeTunIoClass } from './tun-io.linux.js';

export interface NativeAddon {
  /** native/tun_io.cc; see src/tun-io.linux.ts. */
  TunIo: NativeTunIoClass;
  /** The DeviceCounters fields in the order of the shared Float64Array, and their number. */
  counterNames: readonly string[];
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
