// The Tunnel contract's life cycle, once for every OS: start (aborted by close()), stop by itself on a
// failure, and one teardown that undoes exactly what start applied — after a failed start too.

import type { ConnectionInfo } from '../counting.js';
import type { Logger } from '../log.js';
import type { StatsSnapshot } from '../stats.js';
import {
  EMPTY_STATS,
  type Tunnel,
  type TunnelClosed,
  type TunnelInfo,
  TunnelStartAborted,
  type TunnelStop,
} from './types.js';

export interface Started {
  readonly info: TunnelInfo;
  stats(): StatsSnapshot;
  /** The open connections and UDP sessions, when the composition tracks them. */
  connections?(): ConnectionInfo[];
}

/** One OS's tunnel as the two halves lifecycleTunnel needs. */
export interface TunnelSteps {
  /**
   * Applies the changes in order and starts the stack. Checks `signal` between steps and stops early when it
   * fires; records what it applied so teardown can undo it. `fail` ends the tunnel from inside (e.g. a device
   * error): the tunnel's `stopped` resolves with it and its owner calls close().
   */
  start(signal: AbortSignal, fail: (reason: string, error: Error) => void): Promise<Started>;
  /**
   * Undoes what start applied, in reverse (all of it, or the part before a failure or an abort). Called once.
   * `reason` says why; `ready` whether start had finished. Resolves false when something could not be undone.
   */
  teardown(reason: string, ready: boolean): Promise<boolean>;
}

export function lifecycleTunnel(steps: TunnelSteps, log: Logger): Tunnel {
  const abort = new AbortController();
  let started: Started | undefined;
  let closeReason: string | undefined;
  let settleStopped!: (stop: TunnelStop) => void;
  const stopped = new Promise<TunnelStop>((resolve) => {
    settleStopped = resolve;
  });
  let closing: Promise<TunnelClosed> | undefined;
  const teardownOnce = (reason: string) => {
    closing ??= (async () => {
      // Read before the device goes.
      const stats = started?.stats();
      let clean: boolean;
      try {
        clean = await steps.teardown(reason, started !== undefined);
      } catch (err) {
        log.warn(`teardown: ${(err as Error).message}`);
        clean = false;
      }
      return { clean, ...(stats ? { stats } : {}) };
    })();
    return closing;
  };

  const ready = (async () => {
    try {
      const s = await steps.start(abort.signal, (reason, error) => settleStopped({ reason, error }));
      if (abort.signal.aborted) throw new TunnelStartAborted(closeReason ?? 'closed');
      started = s;
      return s.info;
    } catch (err) {
      const aborted = abort.signal.aborted;
      const reason = aborted ? (closeReason ?? 'closed') : 'start failed';
      settleStopped(aborted ? { reason } : { reason, error: err as Error });
      await teardownOnce(reason);
      throw aborted ? new TunnelStartAborted(reason) : err;
    }
  })();
  ready.catch(() => {}); // the owner awaits it; a close() before ready must not leave an unhandled rejection

  return {
    ready,
    stopped,
    stats: () => started?.stats() ?? EMPTY_STATS,
    connections: () => started?.connections?.() ?? [],
    close(reason = 'closed') {
      closeReason ??= reason;
      abort.abort();
      settleStopped({ reason: closeReason });
      return ready.then(
        () => teardownOnce(closeReason!),
        () => teardownOnce(closeReason!),
      );
    },
  };
}
