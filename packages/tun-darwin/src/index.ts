// The device contract is declared once, in @ztun/packet; re-exported so imports from here keep working.
export type { DeviceCounters, PacketBatch, TunDevice } from '@ztun/packet';
export * from './constants.js';
export { UtunDevice, type UtunDeviceInfo, type UtunDeviceOptions, type UtunFd } from './device.js';
export * from './errors.js';
export { loadUtunFfiTypes, type UtunFfiTypes } from './ffi-types.js';
export * from './framing.js';
export { loadDarwinSockets } from './sockets.darwin.js';
export * from './structs.js';
export type { OpenUtunOptions } from './utun.darwin.js';
export { utunUnitFor } from './utun.darwin.js';

import type { UtunDevice } from './device.js';
import type { OpenUtunOptions } from './utun.darwin.js';

/** Creates a utun device (macOS only; rejects elsewhere). The darwin code and koffi load on first call. */
export async function openUtun(options?: OpenUtunOptions): Promise<UtunDevice> {
  const mod = await import('./utun.darwin.js');
  return mod.openUtun(options);
}
