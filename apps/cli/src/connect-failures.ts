// Failed outbound connects (each client got a RST): counted for the stats, and told at warn level at most
// once per quiet period so a proxy that goes down mid-run is visible without flooding the log.

export interface ConnectFailures {
  /** Records one failed connect to `destination` ("addr:port"). */
  failed(destination: string, err: Error): void;
  /** Failed connects so far. */
  readonly count: number;
}

export function connectFailureReporter(
  log: { warn(msg: string): void; debug(msg: string): void },
  quietMs = 10_000,
  now: () => number = Date.now,
): ConnectFailures {
  let count = 0;
  let unreported = 0;
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  return {
    failed(destination, err) {
      count++;
      const t = now();
      if (t - lastWarnAt < quietMs) {
        unreported++;
        log.debug(`connect ${destination} failed: ${err.message}`);
        return;
      }
      const more =
        unreported > 0
          ? ` (and ${unreported} more in the last ${Math.round((t - lastWarnAt) / 1000)} s)`
          : '';
      log.warn(`connect ${destination} failed: ${err.message}; the client got a reset${more}`);
      lastWarnAt = t;
      unreported = 0;
    },
    get count() {
      return count;
    },
  };
}
