// The macOS platform: dry-run plan (plan.darwin.ts), the tunnel (tunnel.darwin.ts) and cleanup by ztun's
// RTF_PROTO1 tag. Every OS call goes through a DarwinHost (host.darwin.ts): the Mac's by default.

import { RouteClient, type RouteClientOptions, RouteNotFoundError } from '@ztun/routing-darwin';
import type { Logger } from '../log.js';
import { type DarwinHost, macHost } from './host.darwin.js';
import { buildDarwinPlan, type DarwinEgress, formatDarwinPlan } from './plan.darwin.js';
import { findEgress } from './routes.darwin.js';
import { createDarwinTunnel } from './tunnel.darwin.js';
import { type Platform, RunRefused } from './types.js';

/** Removes every route a killed run left: tagged scoped defaults, then tagged unscoped (bypass) routes. */
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
    const client = new RouteClient(await host.routes(), options);
    const scoped = await client.flushScopedDefaults();
    let others = 0;
    for (const e of await client.listRoutes()) {
      if (!e.tagged || e.scoped) continue;
      const via =
        e.gateway.kind === 'address'
          ? { gateway: e.gateway.scopeId ? `${e.gateway.address}%${e.gateway.scopeId}` : e.gateway.address }
          : { interfaceIndex: e.gateway.kind === 'link' ? e.gateway.index : e.interfaceIndex };
      try {
        await client.deleteRoute({ destination: e.destination, ...via, tag: true });
        others++;
      } catch (err) {
        if (!(err instanceof RouteNotFoundError)) throw err;
      }
    }
    // A utun goes with the process that opened it, so a killed ztun leaves no device behind.
    log.info(`removed ${scoped} scoped default(s) and ${others} route(s) tagged by ztun (RTF_PROTO1)`);
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
