import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { formatCidr } from '../cidr.js';
import { describeProxy, type ProxyConfig } from '../config.js';
import type { Logger } from '../log.js';
import { type Change, describeChange, type PlanTags, undoOrder } from '../plan.js';
import { type StatsSnapshot, startStatsReporter } from '../stats.js';
import type {
  RoutingLinuxModule,
  RtNetlinkLike,
  StackLike,
  StackModule,
  TunDeviceLike,
  TunLinuxModule,
} from './linux-deps.js';
import { type Platform, type RunContext, RunRefused } from './types.js';

const CAP_NET_ADMIN = 12;

async function routingModule(): Promise<RoutingLinuxModule> {
  const mod = (await import('@ztun/routing-linux')) as unknown as Partial<RoutingLinuxModule>;
  if (!mod.RtNetlink || typeof mod.ZTUN_RT_PROTOCOL !== 'number') {
    throw new RunRefused('@ztun/routing-linux is not built (no RtNetlink export): run `pnpm build` first');
  }
  return mod as RoutingLinuxModule;
}

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

/** Removes ztun-tagged routes and rules. Returns how many of each went. */
async function flushLeftovers(nl: RtNetlinkLike): Promise<{ routes: number; rules: number }> {
  const r = (await nl.flushZtun()) as { routes?: unknown; rules?: unknown } | number | undefined;
  const count = (v: unknown) => (typeof v === 'number' ? v : Array.isArray(v) ? v.length : 0);
  if (typeof r === 'number') return { routes: r, rules: 0 };
  return { routes: count(r?.routes), rules: count(r?.rules) };
}

/** Is the SOCKS5 server accepting TCP connections right now? */
function probeTcp(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (why: string | undefined) => {
      s.destroy();
      resolve(why);
    };
    s.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    s.once('connect', () => done(undefined));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

function outboundFor(stack: StackModule, proxy: ProxyConfig, fwmark: number): unknown {
  if (proxy.kind === 'direct') return stack.directOutbound({ mark: fwmark });
  return stack.socks5Outbound({
    host: proxy.host,
    port: proxy.port,
    ...(proxy.username !== undefined ? { username: proxy.username, password: proxy.password ?? '' } : {}),
  });
}

/** Reads whichever counters the stack and device expose into one snapshot. */
function snapshotFrom(stack: StackLike, device: TunDeviceLike, startedAt: number): StatsSnapshot {
  const c = (stack.counters ?? {}) as Record<string, unknown>;
  const num = (...keys: string[]) => {
    for (const k of keys) {
      const v = c[k];
      if (typeof v === 'number') return v;
    }
    return 0;
  };
  const d = device.counters;
  const dropsByReason =
    typeof c.drops === 'object' && c.drops !== null ? (c.drops as Record<string, number>) : undefined;
  const stackDrops = dropsByReason ? Object.values(dropsByReason).reduce((a, b) => a + b, 0) : num('dropped');
  return {
    uptimeMs: Date.now() - startedAt,
    tcpOpen: num('tcpOpen', 'tcpSessions'),
    udpOpen: num('udpOpen', 'udpSessions'),
    // rx on the TUN = what users send out; tx = what comes back to them.
    bytesOut: d.rxBytes ?? 0,
    bytesIn: d.txBytes ?? 0,
    packetsOut: d.rxPackets ?? 0,
    packetsIn: d.txPackets ?? 0,
    drops: (d.rxDropped ?? 0) + (d.txDropped ?? 0) + stackDrops,
    ...(dropsByReason ? { dropsByReason } : {}),
  };
}

async function run(ctx: RunContext): Promise<number> {
  const { config, plan, log } = ctx;
  const refusal = linuxPreflight();
  if (refusal) throw new RunRefused(refusal);

  const routing = await routingModule();
  const tun = (await import('@ztun/tun-linux')) as unknown as TunLinuxModule;
  const stackMod = (await import('@ztun/stack')) as unknown as StackModule;

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

  const nl = await routing.RtNetlink.open();
  let device: TunDeviceLike | undefined;
  let stack: StackLike | undefined;
  let stopStats: (() => void) | undefined;
  const applied: Change[] = [];
  let exitCode = 0;

  try {
    const left = await flushLeftovers(nl);
    if (left.routes + left.rules > 0) {
      log.warn(`removed what an earlier run left behind: ${left.routes} route(s), ${left.rules} rule(s)`);
    }
    const existing = await nl.getLink(config.name);
    if (existing) {
      throw new RunRefused(
        `interface ${config.name} already exists (${existing.kind ?? 'not a TUN'}; another ztun?): choose another --name`,
      );
    }

    for (const change of plan.changes) {
      if (stopReason) break;
      log.debug(describeChange(change));
      device = await applyChange(change, nl, tun, device);
      applied.push(change);
    }

    if (!stopReason) {
      const dev = device!;
      stack = await stackMod.createStack({
        device: dev,
        outbound: outboundFor(stackMod, config.proxy, config.fwmark),
        icmp: config.icmp,
        udpTimeoutMs: config.udpTimeoutMs,
        ...(config.pcap ? { pcap: config.pcap } : {}),
      });
      dev.onError((err) => {
        log.error(`device ${dev.name}: ${err.message}`);
        exitCode = 1;
        stopReason ??= 'device error';
        wake?.();
      });
      if (config.proxy.kind === 'socks5') {
        const why = await probeTcp(config.proxy.host, config.proxy.port, 2000);
        if (why) {
          log.warn(
            `proxy ${describeProxy(config.proxy)} is not reachable (${why}); connections get resets until it is back`,
          );
        }
      }
      const startedAt = Date.now();
      const routed = plan.changes.filter((c) => c.op === 'route-add').length;
      log.info(
        `ready: ${dev.name} ${config.addresses.map(formatCidr).join(' ')} mtu ${dev.mtu}, ` +
          `proxy ${describeProxy(config.proxy)}, ${config.autoRoute ? 'auto-route' : `${routed} route(s)`}, ` +
          `${plan.changes.length} changes applied`,
      );
      const interval = config.statsIntervalMs ?? (ctx.statsOut.isTTY ? 1000 : 10_000);
      if (interval > 0) {
        const s = stack;
        stopStats = startStatsReporter({
          snapshot: () => snapshotFrom(s, dev, startedAt),
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
    if (stopReason)
      log.info(`${stopReason}: closing connections and removing routes, rules and ${config.name}`);
    try {
      await stack?.close();
    } catch (err) {
      log.warn(`closing the stack: ${(err as Error).message}`);
    }
    const undone = await undo(applied, nl, device, log);
    if (!undone) exitCode = exitCode || 1;
    await nl.close();
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
  }
  if (exitCode === 0) log.info('stopped; everything it added is removed');
  return exitCode;
}

async function applyChange(
  change: Change,
  nl: RtNetlinkLike,
  tun: TunLinuxModule,
  device: TunDeviceLike | undefined,
): Promise<TunDeviceLike | undefined> {
  switch (change.op) {
    case 'link-add':
      return await tun.openTun({ name: change.name, mtu: change.mtu, addresses: [], up: false });
    case 'address-add':
      await nl.addAddress({ index: device!.index, cidr: formatCidr(change.address) });
      return device;
    case 'link-up':
      await nl.setLink(device!.index, { up: true });
      return device;
    case 'route-add':
      await nl.addRoute(routeSpec(change, device!));
      return device;
    case 'rule-add':
      await nl.addRule(ruleSpec(change));
      return device;
  }
}

function routeSpec(change: Extract<Change, { op: 'route-add' }>, device: TunDeviceLike) {
  const r = change.route;
  return {
    dst: r.dst.prefixLength === 0 ? 'default' : formatCidr(r.dst),
    family: r.family,
    oif: device.index,
    table: r.table,
    protocol: r.protocol,
  };
}

function ruleSpec(change: Extract<Change, { op: 'rule-add' }>) {
  const r = change.rule;
  return {
    family: r.family,
    priority: r.priority,
    table: r.table,
    ...(r.dst ? { dst: formatCidr(r.dst) } : {}),
    ...(r.fwmark !== undefined ? { fwmark: r.fwmark, fwmask: r.fwmask ?? 0xffffffff } : {}),
    ...(r.invert ? { invert: true } : {}),
    ...(r.suppressPrefixLength !== undefined ? { suppressPrefixLength: r.suppressPrefixLength } : {}),
  };
}

/** Undoes applied changes in reverse. Returns false when something could not be removed. */
async function undo(
  applied: readonly Change[],
  nl: RtNetlinkLike,
  device: TunDeviceLike | undefined,
  log: Logger,
): Promise<boolean> {
  let ok = true;
  for (const change of undoOrder({ changes: applied, notes: [] })) {
    try {
      log.debug(describeChange(change, 'undo'));
      switch (change.op) {
        case 'rule-add':
          await nl.deleteRule(ruleSpec(change));
          break;
        case 'route-add':
          await nl.deleteRoute(routeSpec(change, device!));
          break;
        case 'address-add':
          await nl.deleteAddress({ index: device!.index, cidr: formatCidr(change.address) });
          break;
        case 'link-add':
          await device?.close();
          break;
        case 'link-up':
          break;
      }
    } catch (err) {
      ok = false;
      log.warn(`could not undo '${describeChange(change)}': ${(err as Error).message}`);
    }
  }
  return ok;
}

async function cleanup(ctx: { log: Logger; name: string }): Promise<number> {
  const refusal = linuxPreflight();
  if (refusal) throw new RunRefused(refusal.replace('ztun run', 'ztun cleanup'));
  const routing = await routingModule();
  const nl = await routing.RtNetlink.open();
  try {
    const left = await flushLeftovers(nl);
    // A TUN without IFF_TUN_PERSIST disappears with its last fd, so a killed ztun leaves no device;
    // one that is still there belongs to a live process.
    const link = await nl.getLink(ctx.name);
    ctx.log.info(
      `removed ${left.routes} route(s) and ${left.rules} rule(s) tagged by ztun` +
        (link ? `; ${ctx.name} still exists and is held by a running process, left alone` : ''),
    );
    return 0;
  } finally {
    await nl.close();
  }
}

export const platform: Platform = {
  os: 'linux',
  async tags(): Promise<PlanTags> {
    const r = await routingModule();
    return {
      routeProtocol: r.ZTUN_RT_PROTOCOL,
      rulePriorityMin: r.ZTUN_RULE_PRIORITY_MIN,
      rulePriorityMax: r.ZTUN_RULE_PRIORITY_MAX,
    };
  },
  run,
  cleanup,
};
