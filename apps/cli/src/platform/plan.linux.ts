import {
  type AutoRouteNote,
  type AutoRoutePlan,
  type AutoRouteTags,
  describeStep,
  planAutoRoute,
  ZTUN_TAGS,
} from '@ztun/routing-linux';
import { type Cidr, formatCidr } from '../cidr.js';
import { describeProxy, KERNEL_TUN_TXQUEUELEN, type RunConfig } from '../config.js';
import { dnsText } from './dns-text.js';

// The Linux plan of `ztun run`: the TUN device (link, addresses, up) and then @ztun/routing-linux's
// auto-route plan (table, rules, kill-switch routes; see its auto-route/plan.ts). `--dry-run` prints it; run
// applies it in order and undoes it in reverse on teardown, so what is printed is exactly what happens.

export type DeviceChange =
  | { readonly op: 'link-add'; readonly name: string; readonly mtu: number; readonly txQueueLen: number }
  | { readonly op: 'address-add'; readonly dev: string; readonly address: Cidr }
  | { readonly op: 'link-up'; readonly dev: string };

export interface LinuxPlan {
  /** The TUN's own changes, applied first and undone last. */
  readonly device: readonly DeviceChange[];
  /** Routes and rules, applied and undone as one transaction by @ztun/routing-linux. */
  readonly routing: AutoRoutePlan;
  /** Things the user should know about the plan (e.g. a family that is not captured). */
  readonly notes: readonly string[];
}

/** The CLI's words for a note of the routing plan. */
function noteText(note: AutoRouteNote): string {
  if (note.kind === 'family-not-captured') {
    return note.refused
      ? `IPv${note.family} is refused by --kill-switch while ztun runs and after: the tunnel has no IPv${note.family} --address to carry it`
      : `IPv${note.family} is not captured by --auto-route: the tunnel has no IPv${note.family} --address`;
  }
  return `--exclude ${note.prefix} has no effect: no IPv${note.family} traffic is routed into the tunnel`;
}

/** Builds the plan. `proxyAddresses`: the SOCKS5 server's resolved addresses (empty for direct). */
export function buildPlan(
  config: RunConfig,
  proxyAddresses: readonly string[] = [],
  tags: AutoRouteTags = ZTUN_TAGS,
): LinuxPlan {
  const dev = config.name;
  const device: DeviceChange[] = [
    { op: 'link-add', name: dev, mtu: config.mtu, txQueueLen: config.txQueueLen },
  ];
  for (const address of config.addresses) device.push({ op: 'address-add', dev, address });
  device.push({ op: 'link-up', dev });
  const routing = planAutoRoute({
    dev,
    families: [...new Set(config.addresses.map((a) => a.family))],
    table: config.table,
    fwmark: config.fwmark,
    captureDefault: config.autoRoute,
    routes: config.routes.map(formatCidr),
    exclude: config.excludes.map(formatCidr),
    bypass: proxyAddresses,
    killSwitch: config.killSwitch,
    tags,
  });
  const notes = routing.notes.map(noteText);
  if (config.proxy.kind === 'socks5' && proxyAddresses.length === 0) {
    notes.push(`proxy host ${config.proxy.host} did not resolve; it gets no bypass rule`);
  }
  return { device, routing, notes };
}

/** A device change as the equivalent iproute2 command (what an operator would type to do the same). */
export function describeDeviceChange(change: DeviceChange, direction: 'apply' | 'undo' = 'apply'): string {
  const verb = direction === 'apply' ? 'add' : 'del';
  switch (change.op) {
    case 'link-add':
      return direction === 'apply'
        ? `ip tuntap add dev ${change.name} mode tun && ip link set ${change.name} mtu ${change.mtu}` +
            (change.txQueueLen !== KERNEL_TUN_TXQUEUELEN ? ` txqueuelen ${change.txQueueLen}` : '')
        : `ip link del ${change.name}`;
    case 'address-add':
      return `ip addr ${verb} ${formatCidr(change.address)} dev ${change.dev}`;
    case 'link-up':
      // No IPv6 link-local address: the kernel would otherwise send router solicitations and MLD reports
      // into the TUN that nobody answers.
      return direction === 'apply'
        ? `ip link set ${change.dev} addrgenmode none && ip link set ${change.dev} up`
        : `ip link set ${change.dev} down`;
  }
}

/** Every change as an iproute2 command, in the order run applies them. */
export function applyLines(plan: LinuxPlan): string[] {
  return [
    ...plan.device.map((c) => describeDeviceChange(c, 'apply')),
    ...plan.routing.steps.map((s) => describeStep(s, 'apply')),
  ];
}

/** The device changes teardown undoes, in its order. link-up needs no undo: removing the link suffices. */
export function deviceUndoOrder(plan: LinuxPlan): DeviceChange[] {
  return [...plan.device].reverse().filter((c) => c.op !== 'link-up');
}

/** Every undo as an iproute2 command, in teardown's order: rules and routes, then addresses and the link. */
export function undoLines(plan: LinuxPlan): string[] {
  return [
    ...[...plan.routing.steps].reverse().map((s) => describeStep(s, 'undo')),
    ...deviceUndoOrder(plan).map((c) => describeDeviceChange(c, 'undo')),
  ];
}

/** How many changes the plan makes. */
export const changeCount = (plan: LinuxPlan): number => plan.device.length + plan.routing.steps.length;

const hex = (n: number) => `0x${n.toString(16)}`;

export { dnsText } from './dns-text.js';

/** The full dry-run text: what run would do, in order, then what teardown undoes, in order. */
export function formatPlan(config: RunConfig, plan: LinuxPlan): string {
  const lines: string[] = [];
  lines.push(`# ztun run --dry-run: ${changeCount(plan)} changes; nothing was changed`);
  lines.push(...applyLines(plan));
  const stack = [
    `proxy ${describeProxy(config.proxy)}`,
    `outbound SO_MARK ${hex(config.fwmark)}`,
    `icmp ${config.icmp}`,
    `udp-timeout ${config.udpTimeoutMs / 1000}s`,
    `dns ${dnsText(config)}`,
    config.killSwitch ? 'kill-switch: the unreachable routes stay if ztun dies' : 'fail-open if ztun dies',
    config.pcap ? `pcap ${config.pcap}` : undefined,
  ].filter(Boolean);
  lines.push(`# then: start the stack on ${config.name} (${stack.join(', ')})`);
  lines.push('# on SIGINT/SIGTERM, in this order:');
  lines.push(...undoLines(plan));
  for (const n of plan.notes) lines.push(`# note: ${n}`);
  return `${lines.join('\n')}\n`;
}
