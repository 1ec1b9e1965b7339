// The macOS tunnel: utun (@ztun/tun-darwin) + the route plan through AF_ROUTE (@ztun/routing-darwin) +
// the stack, whose outbound sockets (direct, and the SOCKS5 connection itself) are pinned to the physical
// interface with IP_BOUND_IF / IPV6_BOUND_IF (seed 004; there is no SO_MARK on macOS) and relayed by
// Node streams (no splice). A RouteMonitor re-pins when the physical default moves. Everything OS-specific
// comes through DarwinHost (host.darwin.ts), so the same code runs on a Mac and against a model on Linux.

import { setTimeout as delay } from 'node:timers/promises';
import type { StackSockets, TunDevice } from '@ztun/packet';
import {
  isDefaultRouteChange,
  RouteClient,
  type RouteClientOptions,
  RouteMonitor,
} from '@ztun/routing-darwin';
import { openUtunWith } from '@ztun/tun-darwin';
import type { Family } from '../cidr.js';
import type { RunConfig } from '../config.js';
import { type Assembled, snapshotOf, startStack } from '../tunnel/assemble.js';
import { lifecycleTunnel } from '../tunnel/lifecycle.js';
import type { Tunnel } from '../tunnel/types.js';
import type { DarwinHost } from './host.darwin.js';
import type { DarwinEgress } from './plan.darwin.js';
import { buildDarwinPlan, darwinRefusal } from './plan.darwin.js';
import { DarwinRouting, findEgress, flushTagged } from './routes.darwin.js';
import { RunRefused, type TunnelContext } from './types.js';

/** The pin follows the egress: every socket ztun creates asks for the index current at that moment. */
function followingSockets(base: StackSockets, indexFor: (family: 4 | 6) => number | undefined): StackSockets {
  return {
    ...base,
    createPinnedSocket(family, kind, pin) {
      const index = indexFor(family);
      const { boundInterfaceIndex: _, ...rest } = pin;
      return base.createPinnedSocket(
        family,
        kind,
        index === undefined ? rest : { ...rest, boundInterfaceIndex: index },
      );
    },
  };
}

/** True when every address of the SOCKS5 server is a loopback one (127/8, ::1). */
export function loopbackProxy(config: RunConfig, proxyAddresses: readonly string[]): boolean {
  if (config.proxy.kind !== 'socks5' || proxyAddresses.length === 0) return false;
  return proxyAddresses.every((a) => a === '::1' || /^127\./.test(a));
}

export function createDarwinTunnel(
  config: RunConfig,
  ctx: TunnelContext,
  host: DarwinHost,
  clientOptions: RouteClientOptions = {},
): Tunnel {
  const { log } = ctx;
  const plan = buildDarwinPlan(config, ctx.proxyAddresses);
  let lock: { release(): void } | undefined;
  let device: TunDevice | undefined;
  let routing: DarwinRouting | undefined;
  let monitor: RouteMonitor | undefined;
  let parts: Assembled | undefined;
  let following = Promise.resolve();

  /** Re-reads the unscoped defaults and moves scoped default, bypasses and pin after them. */
  const refollow = (r: DarwinRouting, client: RouteClient, utunIndex: number) => {
    following = following
      .then(async () => {
        const now = new Map<Family, DarwinEgress>();
        for (const f of [4, 6] as const) {
          const e = await findEgress(client, f, utunIndex).catch(() => undefined);
          if (e) now.set(f, e);
        }
        const moved = await r.follow(now);
        for (const f of moved) {
          const e = r.egress.get(f)!;
          log.info(
            `default route moved: IPv${f} now leaves through ${e.interfaceName}${e.gateway ? ` via ${e.gateway}` : ''}; ztun's sockets and scoped default re-pinned there`,
          );
        }
      })
      .catch((err) => log.warn(`re-pinning after a default-route change: ${(err as Error).message}`));
  };

  return lifecycleTunnel(
    {
      async start(signal, fail) {
        const refusal = darwinRefusal(config);
        if (refusal) throw new RunRefused(refusal);
        if (!host.isRoot())
          throw new RunRefused(
            'ztun run needs root on macOS (utun and route changes are privileged): run it with sudo',
          );
        const held = await host.lock();
        if ('heldBy' in held) {
          throw new RunRefused(
            `another ztun${held.heldBy.pid ? ` (pid ${held.heldBy.pid})` : ''} is running on this Mac; stop it first (one at a time: each owns the scoped defaults)`,
          );
        }
        lock = held;
        const routes = await host.routes();
        const client = new RouteClient(routes, clientOptions);
        const left = await flushTagged(client);
        if (left.scoped + left.routes > 0) {
          log.warn(
            `removed what an earlier run left behind: ${left.scoped} scoped default(s), ${left.routes} route(s)`,
          );
        }
        const egress = new Map<Family, DarwinEgress>();
        for (const f of [4, 6] as const) {
          const e = await findEgress(client, f);
          if (e) egress.set(f, e);
        }
        const captured = new Set(plan.steps.filter((s) => s.kind === 'tunnel').map((s) => s.family));
        if (config.autoRoute && ![...captured].some((f) => egress.has(f))) {
          throw new RunRefused(
            "no default route to pin ztun's own sockets to (is the Mac offline?): --auto-route needs one",
          );
        }
        if (signal.aborted) return aborted();
        try {
          const sys = await host.utunSyscalls();
          device = openUtunWith(sys, {
            ...(plan.unit === undefined ? {} : { unit: plan.unit }),
            mtu: plan.mtu,
            addresses: [...plan.addresses],
          });
        } catch (err) {
          const why = (err as Error).message;
          throw new RunRefused(
            `cannot open a utun device (${why})${plan.unit === undefined ? '' : `: is utun${plan.unit} taken? leave out --name`}`,
          );
        }
        const dev = device;
        const r = new DarwinRouting(client, routes, { name: dev.name, index: dev.index }, egress, log);
        routing = r;
        for (const step of plan.steps) {
          if (signal.aborted) return aborted();
          await r.apply(step);
        }
        const base = await host.sockets();
        const sockets = followingSockets(
          base,
          (f) => r.egress.get(f)?.interfaceIndex ?? r.egress.get(f === 4 ? 6 : 4)?.interfaceIndex,
        );
        // A SOCKS5 server on loopback (ssh -D, a local client) carries every outbound socket and never
        // enters the utun; IP_BOUND_IF to en0 would make 127.0.0.1 unreachable (a scoped lookup on en0).
        const pinned = loopbackProxy(config, ctx.proxyAddresses)
          ? undefined
          : (r.egress.get(4) ?? r.egress.get(6));
        const pin = pinned ? { boundInterfaceIndex: pinned.interfaceIndex } : {};
        monitor = new RouteMonitor(
          routes,
          (event) => {
            if (event.kind === 'overflow' || isDefaultRouteChange(event)) refollow(r, client, dev.index);
          },
          { onError: (err) => log.warn(`route monitor: ${err.message}`) },
        );
        await monitor.start();
        const assembled = await startStack(
          {
            config,
            device: dev,
            sockets,
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
            addresses: [...plan.addresses],
            routes: plan.steps.filter((s) => s.kind === 'tunnel').length,
            changes: plan.addresses.length + 1 + r.count,
            crashBehaviour:
              'fail-open: if ztun dies, its utun and routes go with it (ztun cleanup removes the tagged scoped defaults)',
          },
          stats: () => snapshotOf(assembled, dev, 0, startedAt),
        };
      },

      async teardown(reason, ready) {
        ctx.proxy?.stop();
        if (ready)
          log.info(`${reason}: closing connections and removing routes and ${device?.name ?? 'the utun'}`);
        else if (routing?.count || device)
          log.info(`${reason} during start-up: undoing what was applied so far`);
        let clean = true;
        await monitor?.stop();
        await following;
        if (parts) {
          const closed = await Promise.race([
            parts.stack.close().then(() => true),
            delay(5000, false, { ref: false }),
          ]);
          if (!closed) log.warn('the stack did not close within 5 s; removing routes anyway');
        }
        for (const f of (await routing?.undo()) ?? []) {
          log.warn(f);
          clean = false;
        }
        try {
          await device?.close(); // closing the utun socket removes the interface and its addresses
        } catch (err) {
          log.warn(`closing ${device?.name}: ${(err as Error).message}`);
          clean = false;
        }
        lock?.release();
        return clean;
      },
    },
    log,
  );
}

function aborted(): never {
  throw new Error('aborted');
}
