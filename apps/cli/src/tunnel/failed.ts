import { EMPTY_STATS, type Tunnel } from './types.js';

/** A tunnel that could not start at all: nothing was applied, so there is nothing to undo. */
export function failedTunnel(error: Error): Tunnel {
  const ready = Promise.reject(error);
  ready.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  return {
    ready,
    stopped: Promise.resolve({ reason: 'start failed', error }),
    stats: () => EMPTY_STATS,
    close: () => Promise.resolve({ clean: true }),
  };
}
