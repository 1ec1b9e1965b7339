import type { RouteEntry, RouteSocket, RouteSystem } from './client.js';
import { routeEntryFromMessage } from './client.js';
import { DarwinErrno, RTM_ADD, RTM_CHANGE, RTM_DELETE } from './constants.js';
import { RouteSyscallError } from './errors.js';
import { decodeRoutingMessage, type RouteMessage } from './message.js';

export type RouteEvent =
  /** An rt_msghdr message seen on the routing socket (anyone's RTM_ADD/DELETE/CHANGE/…); `entry` is null for non-IP destinations. */
  | { kind: 'route'; message: RouteMessage; entry: RouteEntry | null }
  /** Interface and address messages (RTM_IFINFO, RTM_NEWADDR…), identified by type only. */
  | { kind: 'interface'; type: number }
  /** The socket overflowed (ENOBUFS): messages were lost, so re-read whatever state you track. */
  | { kind: 'overflow' };

export interface RouteMonitorOptions {
  /** How long one read waits before checking whether to stop. Default 500 ms. */
  pollMs?: number;
  onError?: (error: Error) => void;
}

/**
 * Watches the routing socket (which delivers every process's route changes and interface events), so a
 * caller can refresh its scoped defaults when the physical default route changes (seed 004). Undecodable
 * messages are skipped.
 */
export class RouteMonitor {
  private socket: RouteSocket | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly system: RouteSystem,
    private readonly onEvent: (event: RouteEvent) => void,
    private readonly options: RouteMonitorOptions = {},
  ) {}

  /** Opens the socket and starts reading; resolves once the socket is open. */
  async start(): Promise<void> {
    if (this.running) return;
    this.socket = await this.system.openRouteSocket();
    this.running = this.loop(this.socket);
  }

  private async loop(socket: RouteSocket): Promise<void> {
    const buffer = new Uint8Array(8192);
    const pollMs = this.options.pollMs ?? 500;
    try {
      while (!this.stopped) {
        let length: number;
        try {
          length = await socket.read(buffer, pollMs);
        } catch (error) {
          if (error instanceof RouteSyscallError && error.errno === DarwinErrno.ENOBUFS) {
            this.onEvent({ kind: 'overflow' });
            continue;
          }
          if (error instanceof RouteSyscallError && error.errno === DarwinErrno.EINTR) continue;
          if (!this.stopped) this.options.onError?.(error as Error);
          return;
        }
        if (length <= 0 || this.stopped) continue;
        const decoded = decodeRoutingMessage(buffer, 0, length);
        if (!decoded.ok || decoded.value.kind === 'route2') continue;
        if (decoded.value.kind === 'other') {
          this.onEvent({ kind: 'interface', type: decoded.value.type });
          continue;
        }
        const message = decoded.value.message;
        this.onEvent({ kind: 'route', message, entry: routeEntryFromMessage(message) });
      }
    } finally {
      socket.close();
    }
  }

  /** Stops reading and closes the socket (after the read in progress, at most pollMs). Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

/** True for a successful RTM_ADD/DELETE/CHANGE of an unscoped default route (0.0.0.0/0 or ::/0). */
export function isDefaultRouteChange(event: RouteEvent): boolean {
  if (event.kind !== 'route' || event.entry === null) return false;
  const { type, errno } = event.message;
  const isChange = type === RTM_ADD || type === RTM_DELETE || type === RTM_CHANGE;
  return isChange && errno === 0 && event.entry.prefixLength === 0 && !event.entry.scoped;
}
