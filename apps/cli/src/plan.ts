import { type Cidr, cidrContains, type Family, formatCidr, parseCidr } from './cidr.js';
import { describeProxy, KERNEL_TUN_TXQUEUELEN, type RunConfig } from './config.js';

// The plan: every link, address, route and rule change `ztun run` makes, computed purely from the
// configuration. `--dry-run` prints it; `run` applies it in order and undoes it in reverse on teardown,
// so what is printed is exactly what happens.
//
// Linux auto-route (policy routing, as wg-quick does it), per address family that has a TUN address:
//   pref B+0  to <proxy server / --exclude>  lookup main     never into the TUN
//   pref B+1  lookup main suppress_prefixlength 0            main's specific routes (LAN, link) still win
//   pref B+2  not fwmark M lookup T                          everything else → table T: default dev TUN
// The tunnel's own outbound sockets carry SO_MARK M, skip B+2 and leave by main's default route: no loop.
// With --route only, B+1 is left out and table T holds just those prefixes.
//
// --kill-switch: table T also gets `unreachable <prefix> metric KILL_SWITCH_METRIC` beside each route via
// the TUN. The TUN's routes win while it exists (lower metric); when the TUN vanishes (SIGKILL: the kernel
// removes the device and every route through it) the unreachable routes and the rules stay, so routed
// traffic is refused instead of falling through to main around the proxy. With --auto-route, a family
// without a TUN address gets the rules and an unreachable default too: refused, never sent around.

export interface RoutedPrefix {
  readonly family: Family;
  /** Destination; prefix length 0 is the default route. */
  readonly dst: Cidr;
  /** The TUN; absent for an `unreachable` route. */
  readonly dev?: string;
  readonly table: number;
  readonly protocol: number;
  /** A kill-switch route: `unreachable`, no device, KILL_SWITCH_METRIC. */
  readonly unreachable?: boolean;
  readonly metric?: number;
}

export interface PolicyRule {
  readonly family: Family;
  readonly priority: number;
  /** Table id; 254 is main. */
  readonly table: number;
  readonly dst?: Cidr;
  readonly fwmark?: number;
  readonly fwmask?: number;
  /** `not`: the rule applies when its selector does NOT match. */
  readonly invert?: boolean;
  readonly suppressPrefixLength?: number;
}

export type Change =
  | { readonly op: 'link-add'; readonly name: string; readonly mtu: number; readonly txQueueLen: number }
  | { readonly op: 'address-add'; readonly dev: string; readonly address: Cidr }
  | { readonly op: 'link-up'; readonly dev: string }
  | { readonly op: 'route-add'; readonly route: RoutedPrefix }
  | { readonly op: 'rule-add'; readonly rule: PolicyRule };

export interface Plan {
  readonly changes: readonly Change[];
  /** Things the user should know about the plan (e.g. a family that is not captured). */
  readonly notes: readonly string[];
}

/** The tags that mark what ztun installed (from @ztun/routing-linux at run time). */
export interface PlanTags {
  readonly routeProtocol: number;
  readonly rulePriorityMin: number;
  readonly rulePriorityMax: number;
}

export const MAIN_TABLE = 254;
/** Metric of the kill-switch routes: above the TUN routes' (IPv4 0, IPv6 1024) so those win while they exist. */
export const KILL_SWITCH_METRIC = 0x7a74;

/** Builds the plan. `proxyAddresses`: the SOCKS5 server's resolved addresses (empty for direct). */
export function buildPlan(config: RunConfig, tags: PlanTags, proxyAddresses: readonly string[] = []): Plan {
  const changes: Change[] = [];
  const notes: string[] = [];
  const dev = config.name;
  const base = tags.rulePriorityMin;
  if (base + 2 > tags.rulePriorityMax) throw new Error('ztun rule priority range holds fewer than 3 rules');

  changes.push({ op: 'link-add', name: dev, mtu: config.mtu, txQueueLen: config.txQueueLen });
  for (const address of config.addresses) changes.push({ op: 'address-add', dev, address });
  changes.push({ op: 'link-up', dev });

  const tunFamilies = new Set(config.addresses.map((a) => a.family));
  const routed = new Map<Family, Cidr[]>();
  const addRouted = (c: Cidr) => {
    const list = routed.get(c.family) ?? [];
    if (!list.some((x) => formatCidr(x) === formatCidr(c))) list.push(c);
    routed.set(c.family, list);
  };
  if (config.autoRoute) {
    for (const family of [4, 6] as const) {
      if (tunFamilies.has(family) || config.killSwitch)
        addRouted(parseCidr(family === 4 ? '0.0.0.0/0' : '::/0'));
    }
    if (!tunFamilies.has(6)) {
      notes.push(
        config.killSwitch
          ? 'IPv6 is refused by --kill-switch while ztun runs and after: the tunnel has no IPv6 --address to carry it'
          : 'IPv6 is not captured by --auto-route: the tunnel has no IPv6 --address',
      );
    }
  }
  for (const r of config.routes) addRouted(r);

  for (const family of [4, 6] as const) {
    const prefixes = routed.get(family);
    if (!prefixes || !tunFamilies.has(family)) continue;
    for (const dst of prefixes) {
      changes.push({
        op: 'route-add',
        route: { family, dst, dev, table: config.table, protocol: tags.routeProtocol },
      });
    }
  }
  if (config.killSwitch) {
    for (const family of [4, 6] as const) {
      for (const dst of routed.get(family) ?? []) {
        changes.push({
          op: 'route-add',
          route: {
            family,
            dst,
            table: config.table,
            protocol: tags.routeProtocol,
            unreachable: true,
            metric: KILL_SWITCH_METRIC,
          },
        });
      }
    }
  }

  for (const family of [4, 6] as const) {
    const prefixes = routed.get(family);
    if (!prefixes) continue;
    const bypass: Cidr[] = [];
    for (const addr of proxyAddresses) {
      const c = parseCidr(addr, { bareIsHost: true });
      if (c.family !== family) continue;
      if (prefixes.some((p) => cidrContains(p, c.address))) bypass.push(c);
    }
    for (const ex of config.excludes) if (ex.family === family) bypass.push(ex);
    const seen = new Set<string>();
    for (const dst of bypass) {
      // The kernel refuses an identical second rule (EEXIST): one per prefix.
      if (seen.has(formatCidr(dst))) continue;
      seen.add(formatCidr(dst));
      changes.push({ op: 'rule-add', rule: { family, priority: base, table: MAIN_TABLE, dst } });
    }
    if (prefixes.some((p) => p.prefixLength === 0)) {
      changes.push({
        op: 'rule-add',
        rule: { family, priority: base + 1, table: MAIN_TABLE, suppressPrefixLength: 0 },
      });
    }
    changes.push({
      op: 'rule-add',
      rule: {
        family,
        priority: base + 2,
        table: config.table,
        fwmark: config.fwmark,
        fwmask: 0xffffffff,
        invert: true,
      },
    });
  }
  for (const ex of config.excludes) {
    if (!routed.has(ex.family)) {
      notes.push(
        `--exclude ${formatCidr(ex)} has no effect: no IPv${ex.family} traffic is routed into the tunnel`,
      );
    }
  }
  if (config.proxy.kind === 'socks5' && proxyAddresses.length === 0) {
    notes.push(`proxy host ${config.proxy.host} did not resolve; it gets no bypass rule`);
  }
  return { changes, notes };
}

const hex = (n: number) => `0x${n.toString(16)}`;
const tableName = (t: number) => (t === MAIN_TABLE ? 'main' : String(t));
const dstText = (c: Cidr) => (c.prefixLength === 0 ? 'default' : formatCidr(c));

function ruleText(rule: PolicyRule): string {
  const parts = [`pref ${rule.priority}`];
  if (rule.invert) parts.push('not');
  if (rule.dst) parts.push(`to ${formatCidr(rule.dst)}`);
  if (rule.fwmark !== undefined) {
    parts.push(
      `fwmark ${hex(rule.fwmark)}${rule.fwmask !== undefined && rule.fwmask !== 0xffffffff ? `/${hex(rule.fwmask)}` : ''}`,
    );
  }
  parts.push(`lookup ${tableName(rule.table)}`);
  if (rule.suppressPrefixLength !== undefined)
    parts.push(`suppress_prefixlength ${rule.suppressPrefixLength}`);
  return parts.join(' ');
}

/** One change as the equivalent iproute2 command (what an operator would type to do the same). */
export function describeChange(change: Change, direction: 'apply' | 'undo' = 'apply'): string {
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
    case 'route-add': {
      const r = change.route;
      if (r.unreachable)
        return `ip -${r.family} route ${verb} unreachable ${dstText(r.dst)} table ${tableName(r.table)} proto ${r.protocol} metric ${r.metric}`;
      return `ip -${r.family} route ${verb} ${dstText(r.dst)} dev ${r.dev} table ${tableName(r.table)} proto ${r.protocol}`;
    }
    case 'rule-add':
      return `ip -${change.rule.family} rule ${verb} ${ruleText(change.rule)}`;
  }
}

/** The full dry-run text: what run would do, in order, then what teardown undoes, in order. */
export function formatPlan(config: RunConfig, plan: Plan): string {
  const lines: string[] = [];
  lines.push(`# ztun run --dry-run: ${plan.changes.length} changes; nothing was changed`);
  for (const c of plan.changes) lines.push(describeChange(c, 'apply'));
  const stack = [
    `proxy ${describeProxy(config.proxy)}`,
    `outbound SO_MARK ${hex(config.fwmark)}`,
    `icmp ${config.icmp}`,
    `udp-timeout ${config.udpTimeoutMs / 1000}s`,
    config.killSwitch ? 'kill-switch: the unreachable routes stay if ztun dies' : 'fail-open if ztun dies',
    config.pcap ? `pcap ${config.pcap}` : undefined,
  ].filter(Boolean);
  lines.push(`# then: start the stack on ${config.name} (${stack.join(', ')})`);
  lines.push('# on SIGINT/SIGTERM, in this order:');
  for (const c of undoOrder(plan)) lines.push(describeChange(c, 'undo'));
  for (const n of plan.notes) lines.push(`# note: ${n}`);
  return `${lines.join('\n')}\n`;
}

/** The changes in the order teardown undoes them. link-up needs no undo: removing the link suffices. */
export function undoOrder(plan: Plan): Change[] {
  return [...plan.changes].reverse().filter((c) => c.op !== 'link-up');
}
