// The macOS platform: dry-run plan (plan.darwin.ts), the tunnel (tunnel.darwin.ts) and cleanup by ztun's
// RTF_PROTO1 tag. Every OS call goes through a DarwinHost (host.darwin.ts): the Mac's by default.

import { RouteClient, type RouteClientOptions } from '@ztun/routing-darwin';
import type { Logger } from '../log.js';
import { type DarwinHost, macHost } from './host.darwin.js';
import { buildDarwinPlan, type DarwinEgress, formatDarwinPlan } from './plan.darwin.js';
import { findEgress, flushTagged } from './routes.darwin.js';
import { createDarwinTunnel } from './tunnel.darwin.js';
import { type Platform, RunRefused } from './types.js';

/** `ztun cleanup`: what a killed run left (flushTagged), refused while a ztun runs. */
async function cleanupWith(host: DarwinHost, log: Logger, options: RouteClientOptions): Promise<number> {
  if (!host.isRoot())
    throw new RunRefused('ztun cleanup needs root on macOS (route changes are privileged): run it with sudo');
  const lock = await host.lock();
  if ('heldBy' in lock) {
    throw new RunRefused(
      `ztun${lock.heldBy.pid ? ` (pid ${lock.heldBy.pid})` : ''} is running on this Mac; its routes are not leftovers (stop it with SIGTERM)`,
    );
  }
  try {
    const left = await flushTagged(new RouteClient(await host.routes(), options));
    // A utun goes with the process that opened it, so a killed ztun leaves no device behind.
    log.info(
      `removed ${left.scoped} scoped default(s) and ${left.routes} route(s) tagged by ztun (RTF_PROTO1)`,
    );
    return 0;
  } finally {
    lock.release();
  }
}

/** The macOS platform over `host` (tests pass the simulated XNU's; `clientOptions` too). */
export function createDarwinPlatform(host: DarwinHost, clientOptions: RouteClientOptions = {}): Platform {
  return {
    os: 'darwin',
    async dryRun(config, proxyAddresses) {
      // RTM_GET needs no privileges: on a Mac the plan names the real egress; elsewhere placeholders.
      const egress: DarwinEgress[] = [];
      try {
        const client = new RouteClient(await host.routes(), { ...clientOptions, maxAttempts: 1 });
        for (const f of [4, 6] as const) {
          const e = await findEgress(client, f);
          if (e) egress.push(e);
        }
      } catch {
        // not on a Mac, or no route socket: placeholders
      }
      return formatDarwinPlan(config, buildDarwinPlan(config, proxyAddresses), egress);
    },
    createTunnel: (config, ctx) => createDarwinTunnel(config, ctx, host, clientOptions),
    cleanup: (ctx) => cleanupWith(host, ctx.log, clientOptions),
  };
}

export const platform: Platform = createDarwinPlatform(macHost());
