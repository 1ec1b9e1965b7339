import { nativeAddon } from './load-addon.linux.js';
import type { NativeTunIoClass } from './tun-io.linux.js';

export interface NativeAddon {
  /** native/tun_io.cc; see src/tun-io.linux.ts. */
  TunIo: NativeTunIoClass;
  /** The DeviceCounters fields in the order of the shared Float64Array, and their number. */
  counterNames: readonly string[];
  counterCount: number;
}

/** The addon, loaded once: a source build (build/Release) or the prebuild for this platform (load-addon.linux.ts). */
export function loadAddon(): NativeAddon {
  return nativeAddon().exports as NativeAddon;
}
