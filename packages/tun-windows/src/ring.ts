import { WINTUN_MAX_RING_CAPACITY, WINTUN_MIN_RING_CAPACITY } from './constants.js';
import { TunError } from './errors.js';

/** WintunStartSession accepts a power of two in [128 KiB, 64 MiB] (wintun.h:153-171). */
export function validateRingCapacity(capacity: number): number {
  if (
    !Number.isInteger(capacity) ||
    capacity < WINTUN_MIN_RING_CAPACITY ||
    capacity > WINTUN_MAX_RING_CAPACITY ||
    (capacity & (capacity - 1)) !== 0
  ) {
    throw new TunError(
      'INVALID_ARGUMENT',
      'ringCapacity',
      `${capacity} is not a power of two between ${WINTUN_MIN_RING_CAPACITY} (128 KiB) and ${WINTUN_MAX_RING_CAPACITY} (64 MiB)`,
    );
  }
  return capacity;
}
