// Failed outbound connects (each client got a RST) and failed UDP associations: counted for the stats, and
// told at warn level at most once per quiet period so a proxy that goes down mid-run is visible without
// flooding the log.

export interface ConnectFailures {
  /** Records one failure concerning `subject` (e.g. the destination "addr:port"). */
  failed(subject: string, err: Error): void;
  /** Failures so far. */
  readonly count: number;
}

type FailureLog = { warn(msg: string): void; debug(msg: string): void };

/**
 * Counts failures; warns `text(subject, err); consequence` at most once per `quietMs` (saying how many it
 * held back), the rest at debug level.
 */
export function failureReporter(
  log: FailureLog,
  what: { text(subject: string, err: Error): string; consequence: string },
  quietMs = 10_000,
  now: () => number = Date.now,
): ConnectFailures {
  let count = 0;
  let unreported = 0;
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  return {
    failed(subject, err) {
      count++;
      const t = now();
      const text = what.text(subject, err);
      if (t - lastWarnAt < quietMs) {
        unreported++;
        log.debug(text);
        return;
      }
      const more =
        unreported > 0
          ? ` (and ${unreported} more in the last ${Math.round((t - lastWarnAt) / 1000)} s)`
          : '';
      log.warn(`${text}; ${what.consequence}${more}`);
      lastWarnAt = t;
      unreported = 0;
    },
    get count() {
      return count;
    },
  };
}

export function connectFailureReporter(
  log: FailureLog,
  quietMs = 10_000,
  now: () => number = Date.now,
): ConnectFailures {
  return failureReporter(
    log,
    { text: (d, err) => `connect ${d} failed: ${err.message}`, consequence: 'the client got a reset' },
    quietMs,
    now,
  );
}
