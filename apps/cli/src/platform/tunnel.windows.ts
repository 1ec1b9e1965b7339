// The Windows tunnel: a Wintun adapter (@ztun/tun-windows) with its addresses and MTU, tagged routes through IP
// Helper, and the stack with outbound sockets bound to the physical interface's address (egress.windows.ts
// says why that keeps them out of the tunnel). The system's DLLs come in through WindowsSystem, so the same
// composition runs against stateful fakes on Linux (test/tunnel.windows.test.ts).

import { setTimeout as delay } from 'node:timers/promises';
import { portableSockets } from '@ztun/stack';
import {
  findEgress,
  type IpHelperApi,
  openWintunDevice,
  TunError,
  WindowsRouting,
  type WindowsTun,
  type WintunApi,
} from '@ztun/tun-windows';
import { formatCidr } from '../cidr.js';
import type { RunConfig } from '../config.js';
import { type Assembled, crashBehaviour, snapshotOf, startStack } from '../tunnel/assemble.js';
import { lifecycleTunnel } from '../tunnel/lifecycle.js';
import type { Tunnel } from '../tunnel/types.js';
import {
  buildWindowsPlan,
  describeRoute,
  type PlannedRoute,
  type WindowsPlan,
  windowsChangeCount,
  windowsRefusal,
} from './plan.windows.js';
import { RunRefused, type TunnelContext } from './types.js';

/** What the Windows tunnel takes from the system (the real one: platform/windows.ts; fakes in tests). */
export interface WindowsSystem {
  /** Whether this process runs elevated (shell32 IsUserAnAdmin). */
  isAdmin(): Promise<boolean>;
  /** wintun.dll, found as @ztun/tun-windows' findWintunDll says; a TunError DLL_NOT_FOUND names where it looked. */
  loadWintun(): Promise<WintunApi>;
  ipHelper(): Promise<IpHelperApi>;
}

/** A one-line refusal for a TunError from opening the adapter. */
function adapterRefusal(name: string, err: unknown): RunRefused | unknown {
  if (!(err instanceof TunError)) return err;
  if (err.code === 'DLL_NOT_FOUND') return new RunRefused(`wintun.dll: ${err.message}`);
  return new RunRefused(`could not create the Wintun adapter ${name}: ${err.message}`);
}

export function createWindowsTunnel(config: RunConfig, ctx: TunnelContext, system: WindowsSystem): Tunnel {
  const { log } = ctx;
  let plan: WindowsPlan | undefined;
  let routing: WindowsRouting | undefined;
  let device: WindowsTun | undefined;
  const added: { route: PlannedRoute; luid: bigint; nextHop: string | null }[] = [];
  let parts: Assembled | undefined;

  return lifecycleTunnel(
    {
      async start(signal, fail) {
        const refusal = windowsRefusal(config);
        if (refusal) throw new RunRefused(refusal);
        if (!(await system.isAdmin())) {
          throw new RunRefused(
            'ztun run needs Administrator on Windows (it creates a Wintun adapter and changes routes): start it from an elevated prompt',
          );
        }
        let api: WintunApi;
        try {
          api = await system.loadWintun();
        } catch (err) {
          throw adapterRefusal(config.name, err);
        }
        const ip = await system.ipHelper();
        const r = new WindowsRouting(ip);
        routing = r;
        const left = r.removeLeftoverRoutes();
        if (left > 0) log.warn(`removed what an earlier run left behind: ${left} route(s)`);
        const families = [...new Set(config.addresses.map((a) => a.family))];
        const p = buildWindowsPlan(config, ctx.proxyAddresses, findEgress(ip, families));
        plan = p;
        for (const n of p.notes) log.warn(n);
        if (signal.aborted) return abortedStart();
        log.debug(`WintunCreateAdapter ${p.adapter.name} ${p.adapter.guid} mtu ${p.adapter.mtu}`);
        try {
          device = openWintunDevice(api, r, {
            name: config.name,
            mtu: config.mtu,
            addresses: config.addresses.map(formatCidr),
            logger: { info: (m) => log.debug(m), warn: (m) => log.warn(m), error: (m) => log.error(m) },
          });
        } catch (err) {
          throw adapterRefusal(config.name, err);
        }
        const dev = device;
        for (const route of p.routes) {
          if (signal.aborted) return abortedStart();
          const egress = route.on === 'egress' ? p.egress?.[route.destination.family] : undefined;
          if (route.on === 'egress' && !egress) continue; // noted in the plan
          const luid = egress ? egress.luid : dev.luid;
          const nextHop = egress ? egress.gateway : null;
          log.debug(describeRoute(p, route, 'apply'));
          r.addRoute({ luid, destination: formatCidr(route.destination), nextHop, priority: route.priority });
          added.push({ route, luid, nextHop });
        }
        if (signal.aborted) return abortedStart();
        // Node cannot set IP_UNICAST_IF on its sockets; binding them to the physical address does the same
        // under the strong host send model (egress.windows.ts).
        const pin = { sourceAddress: { v4: p.egress?.[4]?.source, v6: p.egress?.[6]?.source } };
        const assembled = await startStack(
          {
            config,
            device: dev,
            sockets: portableSockets,
            pin,
            ...(ctx.proxy ? { proxy: ctx.proxy } : {}),
            log,
          },
          signal,
          fail,
          (held) => {
            parts = held;
          },
        );
        const startedAt = Date.now();
        return {
          info: {
            name: dev.name,
            index: dev.index,
            mtu: dev.mtu,
            addresses: config.addresses.map(formatCidr),
            routes: added.filter((a) => a.route.on === 'tunnel').length,
            changes: windowsChangeCount(p),
            crashBehaviour: crashBehaviour(config),
          },
          stats: () => snapshotOf(assembled, dev, 0, startedAt),
        };
      },

      async teardown(reason, ready) {
        ctx.proxy?.stop();
        if (!ready && (device || added.length > 0)) {
          log.info(
            `${reason} during start-up: undoing the ${added.length + (device ? 1 : 0)} change(s) applied so far`,
          );
        } else if (ready) {
          log.info(`${reason}: closing connections and removing routes and ${config.name}`);
        }
        try {
          if (parts) {
            const closed = await Promise.race([
              parts.stack.close().then(() => true),
              delay(5000, false, { ref: false }),
            ]);
            if (!closed) log.warn('the stack did not close within 5 s; removing routes anyway');
          }
        } catch (err) {
          log.warn(`closing the stack: ${(err as Error).message}`);
        }
        let clean = true;
        for (const a of added.splice(0).reverse()) {
          try {
            log.debug(describeRoute(plan!, a.route, 'undo'));
            routing!.deleteRoute({
              luid: a.luid,
              destination: formatCidr(a.route.destination),
              nextHop: a.nextHop,
              priority: a.route.priority,
            });
          } catch (err) {
            clean = false;
            log.warn(
              `could not remove the route to ${formatCidr(a.route.destination)}: ${(err as Error).message}`,
            );
          }
        }
        try {
          await device?.close(); // WintunCloseAdapter removes the adapter with its addresses and routes
        } catch (err) {
          clean = false;
          log.warn(`closing ${config.name}: ${(err as Error).message}`);
        }
        return clean;
      },
    },
    log,
  );
}

/** start() returns this when close() came in between steps; lifecycleTunnel turns it into TunnelStartAborted. */
function abortedStart(): never {
  throw new Error('aborted');
}
