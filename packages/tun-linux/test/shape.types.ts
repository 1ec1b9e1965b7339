/**
 * Compile-time check (run by `tsc --noEmit`, the package's typecheck): LinuxTun fits the device shape that
 * @ztun/stack declares, read straight from its source. A type-only import, so no package dependency.
 */
import type {
  PacketBatch as StackBatch,
  DeviceCounters as StackCounters,
  TunDevice as StackTunDevice,
} from '../../stack/src/device.js';
import type { LinuxTun } from '../src/device.linux.js';
import type { DeviceCounters, PacketBatch, TunDevice } from '../src/types.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export const linuxTunIsAStackDevice = (d: LinuxTun): StackTunDevice => d;
export const ourShapeEqualsTheStacks: [
  Equal<TunDevice, StackTunDevice>,
  Equal<PacketBatch, StackBatch>,
  Equal<DeviceCounters, StackCounters>,
] = [true, true, true];
