import type { StackSockets } from '@ztun/packet';
import type { RunConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { ProxyAddress } from '../proxy-address.js';
import type { Tunnel } from '../tunnel/types.js';

/** What a platform module (one per OS: linux.ts, darwin.ts, windows.ts) provides to the CLI. */
export interface Platform {
  /** e.g. 'linux'. */
  readonly os: string;
  /** Why `ztun run` cannot work on this system at all (unsupported OS), or undefined. */
  readonly unsupported?: string;
  /** The OS's socket options for ztun's own sockets (marking, reset); absent: Node's API only. */
  readonly sockets?: StackSockets;
  /**
   * The `--dry-run` text: every change run would make here, in order, then teardown's undo, then notes.
   * `proxyAddresses`: the SOCKS5 server's resolved addresses (they get bypass rules).
   */
  dryRun(config: RunConfig, proxyAddresses: readonly string[]): Promise<string>;
  /**
   * The one composition for this OS: device + addresses + routes/auto-route + stack + outbound + relay +
   * socket options. Starts at once; `ready` tells when traffic flows, `close()` undoes everything.
   */
  createTunnel(config: RunConfig, ctx: TunnelContext): Tunnel;
  /** Sends a service-manager notification (systemd's sd_notify: READY=1, STOPPING=1…) to $NOTIFY_SOCKET;
   *  returns why it failed, or undefined (also when no socket is set). Absent where not implemented. */
  notify?(message: string): string | undefined;
  /** Removes what a crashed run left behind (found by ztun's tags). Resolves the exit code. */
  cleanup(ctx: { log: Logger; name: string }): Promise<number>;
}

export interface TunnelContext {
  /** The SOCKS5 server's resolved addresses (the plan gives them bypass rules). */
  readonly proxyAddresses: readonly string[];
  /** The SOCKS5 server's address, cached and refreshed off the tunnel (absent for `direct`). The tunnel
   *  owns it from here: close() stops its refresh. */
  readonly proxy?: ProxyAddress;
  readonly log: Logger;
}

/** A refusal that is reported as one line and a non-zero exit (not a crash). */
export class RunRefused extends Error {
  override readonly name = 'RunRefused';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
