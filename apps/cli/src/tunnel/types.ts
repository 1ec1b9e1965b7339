// The tunnel contract: what `createTunnel` returns on every OS. One composition per OS implements it
// (platform/tunnel.linux.ts, …); the CLI's `run` and embedders use only this shape.

import type { ConnectionInfo } from '../counting.js';
import type { StatsSnapshot } from '../stats.js';

/** What the tunnel is, once traffic flows. */
export interface TunnelInfo {
  /** The device's real name (macOS picks `utunN` itself). */
  readonly name: string;
  /** The OS interface index of the device. */
  readonly index: number;
  readonly mtu: number;
  /** The device's addresses as CIDR text, e.g. `198.18.0.1/15`. */
  readonly addresses: readonly string[];
  /** Routes that send traffic into the device (not counting auto-route's rules). */
  readonly routes: number;
  /** OS changes applied: links, addresses, routes, rules. */
  readonly changes: number;
  /** What happens to routed traffic if the process dies without cleaning up (one phrase for the ready line). */
  readonly crashBehaviour: string;
  /** Limits worth knowing at start (e.g. a low open-file limit), one phrase each, for the ready line. */
  readonly notes?: readonly string[];
}

/** Why the tunnel stopped serving. */
export interface TunnelStop {
  /** e.g. 'SIGTERM', 'closed', 'device error'. */
  readonly reason: string;
  /** Set when the tunnel stopped by itself because something failed. */
  readonly error?: Error;
}

/** What close() left behind. */
export interface TunnelClosed {
  /** Everything the tunnel applied was removed (false: something could not be undone; it was logged). */
  readonly clean: boolean;
  /** The final counters, read just before the device went (undefined if it never became ready). */
  readonly stats?: StatsSnapshot;
}

export interface Tunnel {
  /**
   * Resolves once packets flow through the device. Rejects — after undoing whatever was applied — when start
   * fails (a `RunRefused` for a refusal with a one-line reason, e.g. not root) or when close() came first
   * (`TunnelStartAborted`).
   */
  readonly ready: Promise<TunnelInfo>;
  /** Resolves when the tunnel stops serving: close() was called, or it failed by itself (device error). */
  readonly stopped: Promise<TunnelStop>;
  /** Counters now (zeros before ready). Cheap: read from the stack's and the device's counters. */
  stats(): StatsSnapshot;
  /** The open TCP connections and UDP sessions now (empty before ready, or where not tracked). */
  connections?(): ConnectionInfo[];
  /**
   * Stops the tunnel: resets open connections, removes routes, rules, addresses and the device in reverse
   * order. Aborts a start-up in progress. Idempotent: every call returns the same promise. Never rejects.
   */
  close(reason?: string): Promise<TunnelClosed>;
}

/** ready's rejection when close() was called before the tunnel was ready. */
export class TunnelStartAborted extends Error {
  override readonly name = 'TunnelStartAborted';
  constructor(readonly reason: string) {
    super(`start-up aborted (${reason})`);
  }
}

/** Stats before the tunnel is ready. */
export const EMPTY_STATS: StatsSnapshot = Object.freeze({
  uptimeMs: 0,
  tcpOpen: 0,
  udpOpen: 0,
  bytesOut: 0,
  bytesIn: 0,
  packetsOut: 0,
  packetsIn: 0,
  drops: 0,
  connectFailures: 0,
  udpAssociateFailures: 0,
});
