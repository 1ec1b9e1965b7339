import type { StackSockets } from '@ztun/packet';
import type { RunConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Plan, PlanTags } from '../plan.js';
import type { ProxyAddress } from '../proxy-address.js';

/** What a platform module (one per OS: linux.ts, darwin.ts, windows.ts) provides to the CLI. */
export interface Platform {
  /** e.g. 'linux'. */
  readonly os: string;
  /** Why `ztun run` cannot work on this system at all (unsupported OS), or undefined. */
  readonly unsupported?: string;
  /** The OS's socket options for ztun's own sockets (marking, reset); absent: Node's API only. */
  readonly sockets?: StackSockets;
  /** The tags that mark ztun's routes and rules here (needed to build the plan). */
  tags(): Promise<PlanTags>;
  /** Applies the plan, runs the tunnel until SIGINT/SIGTERM, undoes the plan. Resolves the exit code. */
  run(ctx: RunContext): Promise<number>;
  /** Removes what a crashed run left behind (found by ztun's tags). Resolves the exit code. */
  cleanup(ctx: { log: Logger; name: string }): Promise<number>;
}

export interface RunContext {
  readonly config: RunConfig;
  readonly plan: Plan;
  /** The SOCKS5 server's resolved addresses (for logs; the plan already bypasses them). */
  readonly proxyAddresses: readonly string[];
  /** The SOCKS5 server's address, cached and refreshed off the tunnel (absent for `direct`). */
  readonly proxy?: ProxyAddress;
  readonly log: Logger;
  /** Where stats go (stdout), and whether it is a terminal. */
  readonly statsOut: { write(text: string): void; isTTY: boolean };
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
