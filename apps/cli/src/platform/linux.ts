import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type AppliedAutoRoute,
  AutoRouteError,
  applyAutoRoute,
  flushAutoRoute,
  NetlinkError,
  RtNetlink,
  type UndoFailure,
} from '@ztun/routing-linux';
import {
  checkSocks5Proxy,
  createStack,
  directOutbound,
  handlerFromOutbound,
  type Outbound,
  type Stack,
  socks5Outbound,
} from '@ztun/stack';
import {
  canSplice,
  type LinuxTun,
  linuxSockets,
  openTun,
  spliceRelay,
  spliceRelaySupported,
  spliceRelayTotals,
} from '@ztun/tun-linux';
import { formatCidr } from '../cidr.js';
import { describeProxy, type ProxyConfig, type RunConfig } from '../config.js';
import { type ConnectFailures, connectFailureReporter } from '../connect-failures.js';
import { countingOutbound, type TrafficCounters } from '../counting.js';
import type { Logger } from '../log.js';
import type { ProxyAddress } from '../proxy-address.js';
import { formatBytes, type StatsSnapshot, startStatsReporter } from '../stats.js';
import { acquireNetnsLock, type LockHeld } from './lock.linux.js';
import {
  buildPlan,
  changeCount,
  type DeviceChange,
  describeDeviceChange,
  formatPlan,
  type LinuxPlan,
} from './plan.linux.js';
import { type Platform, type RunContext, RunRefused } from './types.js';

const CAP_NET_ADMIN = 12;

/** Why this process cannot change links/routes here, or undefined. */
export function linuxPreflight(
  statusText: string | undefined = readProcStatus(),
  tunExists = existsSync('/dev/net/tun'),
): string | undefined {
  const capEff = statusText ? /^CapEff:\s*([0-9a-f]+)$/im.exec(statusText)?.[1] : undefined;
  if (capEff !== undefined && (BigInt(`0x${capEff}`) & (1n << BigInt(CAP_NET_ADMIN))) === 0n) {
    return 'ztun run needs root (CAP_NET_ADMIN) to create the TUN device and routes: run it with sudo';
  }
  if (!tunExists) {
    return '/dev/net/tun is missing: load the tun module (modprobe tun) or, in a container, pass --device /dev/net/tun';
  }
  return undefined;
}

function readProcStatus(): string | undefined {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
}

/** The link called `name`, or undefined when there is none. */
function findLink(nl: RtNetlink, name: string) {
  try {
    return nl.getLink(name);
  } catch (err) {
    if (err instanceof NetlinkError && err.code === 'ENODEV') return undefined;
    throw err;
  }
}

/**
 * The outbound; its sockets carry SO_MARK so the `not fwmark` rule keeps them out of the TUN. A proxy
 * given by name is reached at the cached address (never a lookup per connection).
 */
function outboundFor(proxy: ProxyConfig, fwmark: number, address: ProxyAddress | undefined): Outbound {
  if (proxy.kind === 'direct') return directOutbound({ mark: fwmark, sockets: linuxSockets });
  return socks5Outbound({ ...socks5Options(proxy, address), mark: fwmark, sockets: linuxSockets });
}

function socks5Options(proxy: Extract<ProxyConfig, { kind: 'socks5' }>, address: ProxyAddress | undefined) {
  return {
    host: proxy.host,
    port: proxy.port,
    ...(address ? { resolveHost: () => address.address() } : {}),
    ...(proxy.username !== undefined ? { username: proxy.username, password: proxy.password ?? '' } : {}),
  };
}

/**
 * Hands a connected pair to the splice(2) relay (client = A, upstream = B) when both are plain TCP sockets;
 * false leaves it to stream piping (e.g. a socket Node has already seen end).
 */
function spliceOrNot(client: unknown, upstream: unknown, log: Logger): boolean {
  if (!canSplice(client) || !canSplice(upstream)) return false;
  spliceRelay(client, upstream).done.then((r) => {
    if (r.reason === 'error')
      log.debug(`splice relay: socket ${r.side ?? '?'} failed: ${r.code ?? 'unknown'}`);
    else if (r.reason === 'fallback')
      log.debug(`splice relay: carried by Node streams (${r.cause}: ${r.code ?? r.detail ?? 'unknown'})`);
  });
  return true;
}

/** The outbound's counts plus what the splice relay moved since now (those bytes never pass Node's sockets). */
function withSplicedBytes(inner: TrafficCounters): TrafficCounters {
  const start = spliceRelayTotals();
  return {
    bytesUp: () => inner.bytesUp() + spliceRelayTotals().bytesAtoB - start.bytesAtoB,
    bytesDown: () => inner.bytesDown() + spliceRelayTotals().bytesBtoA - start.bytesBtoA,
  };
}

/** One stats snapshot from the stack's and the device's counters. */
function snapshotFrom(
  stack: Stack,
  device: LinuxTun,
  traffic: TrafficCounters,
  connectFailures: ConnectFailures,
  queueDrops: number,
  startedAt: number,
): StatsSnapshot {
  const c = stack.counters;
  const d = device.counters;
  const dropsByReason: Record<string, number> = {};
  let drops = d.rxDropped + d.txDropped + queueDrops;
  for (const [reason, n] of Object.entries(c.drops)) {
    drops += n;
    if (n > 0) dropsByReason[reason] = n;
  }
  if (d.rxDropped) dropsByReason.deviceRead = d.rxDropped;
  if (d.txDropped) dropsByReason.deviceWrite = d.txDropped;
  if (queueDrops) dropsByReason.deviceQueue = queueDrops;
  return {
    uptimeMs: Date.now() - startedAt,
    tcpOpen: c.tcpOpen,
    udpOpen: c.udpOpen,
    bytesOut: traffic.bytesUp(),
    bytesIn: traffic.bytesDown(),
    // Packets the stack read from / wrote to the TUN (both directions of NATed TCP pass each way).
    packetsOut: c.rxPackets,
    packetsIn: c.txPackets,
    drops,
    dropsByReason,
    connectFailures: connectFailures.count,
    deviceQueueDrops: queueDrops,
  };
}

/**
 * Packets the kernel dropped at the TUN's own queue (IFLA_STATS64 tx_dropped: tun_net_xmit found the
 * queue of `txqueuelen` packets towards ztun full). ztun never sees them, so only the kernel can count
 * them. Reads fresh each call; the last good value when the link cannot be read (e.g. during teardown).
 */
function queueDropReader(nl: RtNetlink, index: number): () => number {
  let last = 0;
  return () => {
    try {
      last = nl.getLinkStats(index).txDropped;
    } catch {
      // keep the last value
    }
    return last;
  };
}

/** The ready line's word on what happens to routed traffic if ztun dies without cleaning up. */
function crashBehaviour(config: RunConfig): string {
  return config.killSwitch
    ? 'kill-switch: routed traffic is dropped if ztun dies'
    : 'fail-open: if ztun dies, routed traffic bypasses the tunnel until ztun cleanup (see --kill-switch)';
}

async function run(ctx: RunContext): Promise<number> {
  const { config, log } = ctx;
  const plan = buildPlan(config, ctx.proxyAddresses);
  const refusal = linuxPreflight();
  if (refusal) throw new RunRefused(refusal);
  const lock = acquireNetnsLock();
  if ('heldBy' in lock) {
    throw new RunRefused(`${heldText(lock)} in this network namespace; stop it first (one per namespace)`);
  }

  // Signals from now on end the run through the same teardown (also when they arrive mid-setup).
  let stopReason: string | undefined;
  let wake: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopReason) {
      log.warn(`${sig} again: still removing routes and rules, please wait`);
      return;
    }
    stopReason = sig;
    wake?.();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  // A bug that escapes to the event loop must still remove the routes and rules before the process ends.
  let fatal = false;
  const onFatal = (err: unknown) => {
    log.error(`internal error: ${(err as Error)?.stack ?? String(err)}`);
    fatal = true;
    stopReason ??= 'internal error';
    wake?.();
  };
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);

  let nl: RtNetlink;
  try {
    nl = RtNetlink.open();
  } catch (err) {
    lock.release();
    throw err;
  }
  let device: LinuxTun | undefined;
  let stack: Stack | undefined;
  let traffic: TrafficCounters | undefined;
  let connectFailures: ConnectFailures | undefined;
  let stopStats: (() => void) | undefined;
  let queueDrops: (() => number) | undefined;
  let ready = false;
  let queueDropped = 0;
  const applied: DeviceChange[] = [];
  let routing: AppliedAutoRoute | undefined;
  let routingFailures: readonly UndoFailure[] = [];
  let exitCode = 0;
  // Ends the start-up proxy check the moment a signal arrives.
  const startup = new AbortController();
  void stopped.then(() => startup.abort());

  try {
    const left = flushAutoRoute(nl);
    if (left.routes + left.rules > 0) {
      log.warn(`removed what an earlier run left behind: ${left.routes} route(s), ${left.rules} rule(s)`);
    }
    const existing = findLink(nl, config.name);
    if (existing) {
      throw new RunRefused(
        `interface ${config.name} already exists (${existing.kind ?? 'not a TUN'}; another ztun?): choose another --name`,
      );
    }

    for (const change of plan.device) {
      if (stopReason) break;
      log.debug(describeDeviceChange(change));
      device = await applyChange(change, nl, device, config.offload);
      applied.push(change);
    }
    // Routes and rules as one transaction: a failure half-way (EEXIST…) has undone its own steps on throw.
    if (!stopReason) {
      try {
        routing = applyAutoRoute(nl, plan.routing, { oif: device!.index, onStep: (t) => log.debug(t) });
      } catch (err) {
        if (err instanceof AutoRouteError) routingFailures = err.undoFailures;
        throw err;
      }
    }

    if (!stopReason) {
      const dev = device!;
      const v4 = config.addresses.find((a) => a.family === 4);
      const v6 = config.addresses.find((a) => a.family === 6);
      queueDrops = queueDropReader(nl, dev.index);
      const outbound = countingOutbound(outboundFor(config.proxy, config.fwmark, ctx.proxy));
      const failures = connectFailureReporter(log);
      connectFailures = failures;
      const splice = config.splice && spliceRelaySupported();
      if (config.splice && !splice)
        log.warn('splice relay unavailable (addon without it?): relaying through Node streams');
      traffic = splice ? withSplicedBytes(outbound) : outbound;
      const handler = handlerFromOutbound(outbound, {
        onConnectError: (dest, err) => failures.failed(dest, err),
        sockets: linuxSockets,
        ...(splice ? { relay: (client, upstream) => spliceOrNot(client, upstream, log) } : {}),
      });
      stack = createStack({
        device: dev,
        handler,
        sockets: linuxSockets,
        addresses: {
          ...(v4 ? { ipv4: { tunAddress: v4.address, prefix: v4.prefixLength } } : {}),
          ...(v6 ? { ipv6: { tunAddress: v6.address, prefix: v6.prefixLength } } : {}),
        },
        // The TUN's own prefixes: the marked outbound sockets would find them on main's connected routes,
        // straight back into the TUN (a loop), so flows there are refused.
        loopPrefixes: config.addresses.map(formatCidr),
        icmp: config.icmp,
        udpTimeoutMs: config.udpTimeoutMs,
        ...(config.pcap ? { pcap: config.pcap } : {}),
        logger: { warn: (m) => log.warn(m), error: (m) => log.error(m), debug: (m) => log.debug(m) },
      });
      await stack.start();
      dev.onError((err) => {
        log.error(`device ${dev.name}: ${err.message}`);
        exitCode = 1;
        stopReason ??= 'device error';
        wake?.();
      });
      if (config.proxy.kind === 'socks5' && !stopReason) {
        // Reachable, and takes our credentials (a wrong password would otherwise show only as resets).
        const p = config.proxy;
        const why = await checkSocks5Proxy({
          ...socks5Options(p, ctx.proxy),
          mark: config.fwmark,
          sockets: linuxSockets,
          timeoutMs: 2000,
          signal: startup.signal,
        });
        if (why && !stopReason) {
          log.warn(
            `proxy ${describeProxy(p)} ${why}; connections get resets until ${why.startsWith('is not reachable') ? 'it is back' : 'that is fixed'}`,
          );
        }
      }
    }
    if (!stopReason) {
      const dev = device!;
      const startedAt = Date.now();
      const routed = plan.routing.steps.filter((s) => s.kind === 'route' && !s.route.unreachable).length;
      ready = true;
      log.info(
        `ready: ${dev.name} ${config.addresses.map(formatCidr).join(' ')} mtu ${dev.mtu}, ` +
          `proxy ${describeProxy(config.proxy)}, ${config.autoRoute ? 'auto-route' : `${routed} route(s)`}, ` +
          `${changeCount(plan)} changes applied; ${crashBehaviour(config)}`,
      );
      const interval = config.statsIntervalMs ?? (ctx.statsOut.isTTY ? 1000 : 10_000);
      if (interval > 0) {
        const s = stack!;
        const t = traffic!;
        const f = connectFailures!;
        const q = queueDrops!;
        stopStats = startStatsReporter({
          snapshot: () => snapshotFrom(s, dev, t, f, q(), startedAt),
          intervalMs: interval,
          tty: ctx.statsOut.isTTY,
          write: (t) => ctx.statsOut.write(t),
        });
      }
      await stopped;
    }
  } catch (err) {
    exitCode = 1;
    if (err instanceof RunRefused) {
      log.error(err.message);
      exitCode = err.exitCode;
    } else {
      log.error(`start failed: ${(err as Error).message}`);
    }
  } finally {
    stopStats?.();
    ctx.proxy?.stop();
    const stopAt = Date.now();
    // Read before the device goes.
    queueDropped = queueDrops?.() ?? 0;
    if (stopReason && !ready)
      log.info(
        `${stopReason} during start-up: undoing the ${appliedCount(applied, routing, plan)} change(s) applied so far`,
      );
    else if (stopReason)
      log.info(`${stopReason}: closing connections and removing routes, rules and ${config.name}`);
    try {
      // stack.close() resets open TCP connections while its packet path still runs, so every client gets a
      // RST. Routes and rules must go even if the stack cannot close cleanly.
      if (stack) {
        const closed = await Promise.race([
          stack.close().then(() => true),
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
    const undone = (await undoDevice(applied, nl, device, log)) && routingLeft.length === 0;
    if (!undone) exitCode = exitCode || 1;
    nl.close();
    lock.release();
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
    if (fatal) exitCode = 1;
  }
  if (exitCode === 0) {
    const failed = connectFailures?.count ? `; ${connectFailures.count} connects failed` : '';
    const queue = queueDropped ? `; ${queueDropped} packets dropped at the TUN's kernel queue` : '';
    const totals =
      traffic && ready
        ? ` (carried ${formatBytes(traffic.bytesUp())} up, ${formatBytes(traffic.bytesDown())} down${failed}${queue})`
        : ready
          ? ''
          : ' before ready';
    log.info(`stopped${totals}; everything it added is removed`);
  }
  return exitCode;
}

/** `addrgenmode none` (before the link goes up): no IPv6 link-local address, so no RS/MLD into the TUN. */
function noLinkLocal(name: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${name}/addr_gen_mode`, '1');
  } catch {
    // IPv6 disabled on this system: nothing would be generated anyway.
  }
}

async function applyChange(
  change: DeviceChange,
  nl: RtNetlink,
  device: LinuxTun | undefined,
  offload: boolean,
): Promise<LinuxTun> {
  switch (change.op) {
    case 'link-add': {
      const tun = await openTun({ name: change.name, mtu: change.mtu, addresses: [], up: false, offload });
      try {
        nl.setLink(tun.index, { txQueueLen: change.txQueueLen });
      } catch (err) {
        await tun.close();
        throw err;
      }
      return tun;
    }
    case 'address-add':
      nl.addAddress({ index: device!.index, cidr: formatCidr(change.address) });
      return device!;
    case 'link-up':
      noLinkLocal(device!.name);
      nl.setLink(device!.index, { up: true });
      return device!;
  }
}

/** How many changes are in place: the device's and, once applied, every routing step. */
function appliedCount(
  applied: readonly DeviceChange[],
  routing: AppliedAutoRoute | undefined,
  plan: LinuxPlan,
): number {
  return applied.length + (routing ? plan.routing.steps.length : 0);
}

/** Undoes the applied device changes in reverse. Returns false when something could not be removed. */
async function undoDevice(
  applied: readonly DeviceChange[],
  nl: RtNetlink,
  device: LinuxTun | undefined,
  log: Logger,
): Promise<boolean> {
  let ok = true;
  for (const change of [...applied].reverse()) {
    try {
      if (change.op !== 'link-up') log.debug(describeDeviceChange(change, 'undo'));
      switch (change.op) {
        case 'address-add':
          nl.deleteAddress({ index: device!.index, cidr: formatCidr(change.address) });
          break;
        case 'link-add': {
          const t0 = Date.now();
          await device?.close();
          log.debug(`device closed in ${Date.now() - t0} ms`);
          break;
        }
        case 'link-up':
          break;
      }
    } catch (err) {
      ok = false;
      log.warn(`could not undo '${describeDeviceChange(change)}': ${(err as Error).message}`);
    }
  }
  return ok;
}

/** `another ztun (pid N) is running`, or `… is starting` when it has not written its PID yet. */
function heldText(lock: LockHeld): string {
  const pid = lock.heldBy.pid;
  return pid === undefined ? 'another ztun is starting' : `another ztun (pid ${pid}) is running`;
}

async function cleanup(ctx: { log: Logger; name: string }): Promise<number> {
  const refusal = linuxPreflight();
  if (refusal) throw new RunRefused(refusal.replace('ztun run', 'ztun cleanup'));
  // Holding the lock while flushing also keeps a ztun from starting half-way through.
  const lock = acquireNetnsLock();
  if ('heldBy' in lock) {
    throw new RunRefused(
      `${heldText(lock).replace('another ztun', 'ztun')} in this network namespace; its routes and rules are not leftovers (stop it with SIGTERM)`,
    );
  }
  let nl: RtNetlink;
  try {
    nl = RtNetlink.open();
  } catch (err) {
    lock.release();
    throw err;
  }
  try {
    const left = flushAutoRoute(nl);
    // A TUN without IFF_TUN_PERSIST disappears with its last fd, so a killed ztun leaves no device;
    // one that is still there belongs to a live process.
    const link = findLink(nl, ctx.name);
    ctx.log.info(
      `removed ${left.routes} route(s) and ${left.rules} rule(s) tagged by ztun` +
        (link ? `; ${ctx.name} still exists and is held by a running process, left alone` : ''),
    );
    return 0;
  } finally {
    nl.close();
    lock.release();
  }
}

export const platform: Platform = {
  os: 'linux',
  sockets: linuxSockets,
  async dryRun(config, proxyAddresses) {
    return formatPlan(config, buildPlan(config, proxyAddresses));
  },
  run,
  cleanup,
};
