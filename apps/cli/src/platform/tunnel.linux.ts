// The Linux tunnel: TUN (@ztun/tun-linux) + addresses + the auto-route transaction (@ztun/routing-linux) +
// the stack with SO_MARK-pinned outbounds and the splice(2) relay. One lock per network namespace.

import { setTimeout as delay } from 'node:timers/promises';
import {
  type AppliedAutoRoute,
  AutoRouteError,
  applyAutoRoute,
  flushAutoRoute,
  RtNetlink,
  type UndoFailure,
} from '@ztun/routing-linux';
import {
  adoptTun,
  type LinuxTun,
  linuxSockets,
  openTun,
  spliceRelaySupported,
  tunFdInfo,
} from '@ztun/tun-linux';
import { formatCidr } from '../cidr.js';
import type { RunConfig } from '../config.js';
import { type Assembled, crashBehaviour, snapshotOf, startStack } from '../tunnel/assemble.js';
import { lifecycleTunnel } from '../tunnel/lifecycle.js';
import type { Tunnel } from '../tunnel/types.js';
import { acquireNetnsLock, type LockTaken } from './lock.linux.js';
import { reclaimAfterMassClose } from './memory.linux.js';
import { buildPlan, changeCount, type DeviceChange, describeDeviceChange } from './plan.linux.js';
import { findLink, heldText, linuxPreflight } from './preflight.linux.js';
import {
  noLinkLocal,
  offloadNote,
  openFileNote,
  queueDropReader,
  spliceRelayFor,
} from './tunnel-parts.linux.js';
import { RunRefused, type TunnelContext } from './types.js';

export function createLinuxTunnel(config: RunConfig, ctx: TunnelContext): Tunnel {
  const { log } = ctx;
  let plan = buildPlan(config, ctx.proxyAddresses);
  let lock: LockTaken | undefined;
  let nl: RtNetlink | undefined;
  let device: LinuxTun | undefined;
  const applied: DeviceChange[] = [];
  let routing: AppliedAutoRoute | undefined;
  let routingFailures: readonly UndoFailure[] = [];
  let parts: Assembled | undefined;
  let queueDrops: (() => number) | undefined;
  let stopReclaim: (() => void) | undefined;

  /** Applies one change; false when there was nothing to do (an adopted device's own address). */
  async function applyDeviceChange(change: DeviceChange, netlink: RtNetlink): Promise<boolean> {
    switch (change.op) {
      case 'adopt': {
        const tun = await adoptTun({ fd: change.fd, writeThread: writeThreadWanted() });
        device = tun;
        if (!netlink.getLink(tun.index).up)
          throw new RunRefused(
            `${tun.name} (fd ${change.fd}) is down: its owner brings it up before handing it over`,
          );
        return true;
      }
      case 'link-add': {
        const tun = await openTun({
          name: change.name,
          mtu: change.mtu,
          addresses: [],
          up: false,
          offload: config.offload,
          writeThread: writeThreadWanted(),
        });
        try {
          netlink.setLink(tun.index, { txQueueLen: change.txQueueLen });
        } catch (err) {
          await tun.close();
          throw err;
        }
        device = tun;
        return true;
      }
      case 'address-add': {
        const cidr = formatCidr(change.address);
        if (
          config.fd !== undefined &&
          netlink.listAddresses({ index: device!.index }).some((a) => a.cidr === cidr)
        )
          return false;
        netlink.addAddress({ index: device!.index, cidr });
        return true;
      }
      case 'link-up':
        noLinkLocal(device!.name);
        netlink.setLink(device!.index, { up: true });
        return true;
    }
  }

  /** Undoes the applied device changes in reverse. Returns false when something could not be removed. */
  async function undoDevice(netlink: RtNetlink): Promise<boolean> {
    let ok = true;
    for (const change of [...applied].reverse()) {
      try {
        if (change.op !== 'link-up') log.debug(describeDeviceChange(change, 'undo'));
        if (change.op === 'address-add')
          netlink.deleteAddress({ index: device!.index, cidr: formatCidr(change.address) });
        else if (change.op === 'link-add' || change.op === 'adopt') {
          const t0 = Date.now();
          await device?.close();
          log.debug(`device closed in ${Date.now() - t0} ms`);
        }
      } catch (err) {
        ok = false;
        log.warn(`could not undo '${describeDeviceChange(change)}': ${(err as Error).message}`);
      }
    }
    return ok;
  }

  return lifecycleTunnel(
    {
      async start(signal, fail) {
        const refusal = linuxPreflight();
        if (refusal) throw new RunRefused(refusal);
        const held = acquireNetnsLock();
        if ('heldBy' in held) {
          throw new RunRefused(
            `${heldText(held)} in this network namespace; stop it first (one per namespace)`,
          );
        }
        lock = held;
        const fdNote = openFileNote(log);
        const netlink = RtNetlink.open();
        nl = netlink;
        const left = flushAutoRoute(netlink);
        if (left.routes + left.rules > 0) {
          log.warn(`removed what an earlier run left behind: ${left.routes} route(s), ${left.rules} rule(s)`);
        }
        if (config.fd !== undefined) {
          // The adopted device's name decides the routes: read it from the descriptor before planning.
          try {
            plan = buildPlan({ ...config, name: tunFdInfo(config.fd).name }, ctx.proxyAddresses);
          } catch (err) {
            throw new RunRefused(`--fd ${config.fd}: ${(err as Error).message}`);
          }
        }
        const existing = config.fd === undefined ? findLink(netlink, config.name) : undefined;
        if (existing) {
          throw new RunRefused(
            `interface ${config.name} already exists (${existing.kind ?? 'not a TUN'}; another ztun?): choose another --name`,
          );
        }
        for (const change of plan.device) {
          if (signal.aborted) return abortedStart();
          log.debug(describeDeviceChange(change));
          if (await applyDeviceChange(change, netlink)) applied.push(change);
        }
        if (signal.aborted) return abortedStart();
        const dev = device!;
        // Routes and rules as one transaction: a failure half-way (EEXIST…) has undone its own steps on throw.
        try {
          routing = applyAutoRoute(netlink, plan.routing, {
            oif: dev.index,
            onStep: (t) => log.debug(t),
          });
        } catch (err) {
          if (err instanceof AutoRouteError) routingFailures = err.undoFailures;
          throw err;
        }
        if (signal.aborted) return abortedStart();

        queueDrops = queueDropReader(netlink, dev.index);
        const splice = config.splice && spliceRelaySupported();
        if (config.splice && !splice)
          log.warn('splice relay unavailable (addon without it?): relaying through Node streams');
        const pin = { mark: config.fwmark };
        const assembled = await startStack(
          {
            config,
            device: dev,
            sockets: linuxSockets,
            pin,
            ...(ctx.proxy ? { proxy: ctx.proxy } : {}),
            ...(splice ? { relay: spliceRelayFor(log) } : {}),
            log,
          },
          signal,
          fail,
          (held) => {
            parts = held;
          },
        );
        stopReclaim = reclaimAfterMassClose(
          () => assembled.stack.counters.tcpOpen,
          (line) => log.debug(line),
          () => assembled.stack.counters.tcpTotal,
        );
        const startedAt = Date.now();
        const reader = queueDrops;
        const readyNotes = [fdNote, offloadNote(dev)].filter((n): n is string => n !== undefined);
        return {
          info: {
            name: dev.name,
            index: dev.index,
            mtu: dev.mtu,
            addresses: config.addresses.map(formatCidr),
            routes: plan.routing.steps.filter((s) => s.kind === 'route' && !s.route.unreachable).length,
            changes: changeCount(plan),
            crashBehaviour: crashBehaviour(config),
            ...(readyNotes.length ? { notes: readyNotes } : {}),
          },
          stats: () => snapshotOf(assembled, dev, reader(), startedAt),
          connections: () => assembled.connections(),
        };
      },

      async teardown(reason, ready) {
        ctx.proxy?.stop();
        stopReclaim?.();
        if (!ready && (applied.length > 0 || routing)) {
          const count = applied.length + (routing ? plan.routing.steps.length : 0);
          log.info(`${reason} during start-up: undoing the ${count} change(s) applied so far`);
        } else if (ready) {
          const what =
            config.fd === undefined ? config.name : `ztun's addresses (${device?.name} stays with its owner)`;
          log.info(`${reason}: closing connections and removing routes, rules and ${what}`);
        }
        const stopAt = Date.now();
        try {
          // stack.close() resets open TCP connections while its packet path still runs, so every client gets a
          // RST. Routes and rules must go even if the stack cannot close cleanly.
          if (parts) {
            const closed = await Promise.race([
              parts.stack.close().then(() => true),
              delay(5000, false, { ref: false }),
            ]);
            if (!closed) log.warn('the stack did not close within 5 s; removing routes and rules anyway');
            log.debug(`stack closed after ${Date.now() - stopAt} ms`);
          }
        } catch (err) {
          log.warn(`closing the stack: ${(err as Error).message}`);
        }
        const routingLeft = [...routingFailures, ...(routing?.undo() ?? [])];
        for (const f of routingLeft) log.warn(`could not undo '${f.text}': ${f.error.message}`);
        let clean = routingLeft.length === 0;
        if (nl) {
          clean = (await undoDevice(nl)) && clean;
          nl.close();
        } else if (device) {
          await device.close();
        }
        lock?.release();
        return clean;
      },
    },
    log,
  );
}

/** start() returns this when close() came in between steps; lifecycleTunnel turns it into TunnelStartAborted. */
/** TUN writes on the addon's write thread (issue 17 item 6); `ZTUN_TUN_WRITE_THREAD=0` writes inline. */
function writeThreadWanted(): boolean {
  return process.env.ZTUN_TUN_WRITE_THREAD !== '0';
}

function abortedStart(): never {
  throw new Error('aborted');
}
