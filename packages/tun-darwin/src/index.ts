// The device contract is declared once, in @ztun/packet; re-exported so imports from here keep working.
export type { DeviceCounters, PacketBatch, TunDevice } from '@ztun/packet';
export * from './constants.js';
export { UtunDevice, type UtunDeviceInfo, type UtunDeviceOptions, type UtunFd } from './device.js';
export * from './errors.js';
export { loadUtunFfiTypes, type UtunFfiTypes } from './ffi-types.js';
export * from './framing.js';
export { type OpenUtunOptions, openUtunWith, type UtunSyscalls, utunUnitFor } from './open-utun.js';
export { loadDarwinSockets } from './sockets.darwin.js';
export * from './structs.js';

import type { UtunDevice } from './device.js';
import type { OpenUtunOptions, UtunSyscalls } from './open-utun.js';

/** Creates a utun device (macOS only; rejects elsewhere). The darwin code and koffi load on first call. */
export async function openUtun(options?: OpenUtunOptions): Promise<UtunDevice> {
  const mod = await import('./utun.darwin.js');
  return mod.openUtun(options);
}

/** The koffi UtunSyscalls of this Mac, for `openUtunWith` (macOS only; rejects elsewhere). */
export async function loadUtunSyscalls(): Promise<UtunSyscalls> {
  const mod = await import('./utun.darwin.js');
  return mod.loadUtunSyscalls();
}
