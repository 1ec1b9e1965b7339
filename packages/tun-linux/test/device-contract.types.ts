/**
 * Compile-time check (run by `tsc --noEmit`, this package's typecheck): LinuxTun satisfies the device contract
 * declared once in @ztun/packet, and the package re-exports that contract unchanged. Methods are bivariant
 * in TypeScript, so the batch parameters are compared exactly as well.
 */
import type { DeviceCounters, PacketBatch, TunDevice } from '@ztun/packet';
import type { LinuxTun } from '../src/device.linux.js';
import type * as pkg from '../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Receiver = Parameters<TunDevice['onBatch']>[0];

export const deviceFitsTheContract = (d: LinuxTun): TunDevice => d;
export const batchParametersAreTheContracts: [
  Equal<Parameters<LinuxTun['onBatch']>[0], Receiver>,
  Equal<Parameters<LinuxTun['writeBatch']>[0], PacketBatch>,
] = [true, true];
export const reexportsAreTheContract: [
  Equal<pkg.TunDevice, TunDevice>,
  Equal<pkg.PacketBatch, PacketBatch>,
  Equal<pkg.DeviceCounters, DeviceCounters>,
] = [true, true, true];
