// The Windows plan of `ztun run`: the Wintun adapter (name, GUID, MTU) with its addresses, then routes through
// IP Helper, each tagged as ztun's (Protocol NetMgmt + a metric in 7024..7039, @ztun/tun-windows routing.ts):
// the tunnel's prefixes on the adapter, and host routes for the proxy plus --exclude prefixes via the
// physical gateway. `--dry-run` prints it (anywhere: `--platform win32`); run applies it in order and undoes
// it in reverse, so what is printed is what happens. Pure.

import { type Egress, formatGuid, guidFromName } from '@ztun/tun-windows';
import { type Cidr, formatCidr, ipFamily, networkOf } from '../cidr.js';
import { describeProxy, type RunConfig } from '../config.js';
import { dnsText } from './dns-text.js';

/** A route ztun adds: `on` the tunnel adapter (on-link) or the physical egress of its family (via its gateway). */
export interface PlannedRoute {
  readonly on: 'tunnel' | 'egress';
  readonly destination: Cidr;
  /** 0..15: ZTUN_ROUTE_METRIC_BASE + priority. */
  readonly priority: number;
  readonly why: 'capture' | 'route' | 'proxy' | 'exclude';
}

export interface WindowsPlan {
  readonly adapter: { readonly name: string; readonly guid: string; readonly mtu: number };
  readonly addresses: readonly Cidr[];
  readonly routes: readonly PlannedRoute[];
  /** The physical egress per family (read from the system on Windows); undefined when not read (another OS). */
  readonly egress: Partial<Record<4 | 6, Egress>> | undefined;
  readonly notes: readonly string[];
}

/** Why `ztun run` on Windows refuses this configuration (one line), or undefined. */
export function windowsRefusal(config: RunConfig): string | undefined {
  if (config.killSwitch) {
    return '--kill-switch is not available on Windows yet (routes there do not outlive the Wintun adapter); run without it';
  }
  return undefined;
}

const half = (family: 4 | 6, address: string): Cidr => ({ family, address, prefixLength: 1 });

export function buildWindowsPlan(
  config: RunConfig,
  proxyAddresses: readonly string[],
  egress: Partial<Record<4 | 6, Egress>> | undefined,
): WindowsPlan {
  const families = [...new Set(config.addresses.map((a) => a.family))];
  const routes: PlannedRoute[] = [];
  const notes: string[] = [];
  if (config.autoRoute) {
    // Two halves instead of a default route: longer than any 0.0.0.0/0, so they win without touching it.
    for (const f of families) {
      const [a, b] = f === 4 ? ['0.0.0.0', '128.0.0.0'] : ['::', '8000::'];
      for (const d of [half(f, a!), half(f, b!)])
        routes.push({ on: 'tunnel', destination: d, priority: 0, why: 'capture' });
    }
    for (const f of [4, 6] as const) {
      if (!families.includes(f))
        notes.push(`IPv${f} is not captured by --auto-route: the tunnel has no IPv${f} --address`);
    }
  } else {
    // resolveConfig has refused a --route of a family the tunnel has no address of.
    for (const r of config.routes)
      routes.push({ on: 'tunnel', destination: networkOf(r), priority: 0, why: 'route' });
  }
  for (const address of proxyAddresses) {
    const f = ipFamily(address);
    if (f === 0) continue;
    routes.push({
      on: 'egress',
      destination: { family: f, address, prefixLength: f === 4 ? 32 : 128 },
      priority: 0,
      why: 'proxy',
    });
  }
  for (const e of config.excludes)
    routes.push({ on: 'egress', destination: networkOf(e), priority: 0, why: 'exclude' });
  if (config.proxy.kind === 'socks5' && proxyAddresses.length === 0) {
    notes.push(`proxy host ${config.proxy.host} did not resolve; it gets no host route`);
  }
  for (const f of families) {
    if (
      egress &&
      !egress[f] &&
      (routes.some((r) => r.on === 'egress' && r.destination.family === f) || config.autoRoute)
    )
      notes.push(
        `no IPv${f} default route outside the tunnel was found: ztun's own IPv${f} sockets are refused, and IPv${f} host/exclude routes cannot be added`,
      );
  }
  if (!config.splice) notes.push('--no-splice has no effect on Windows (there is no splice relay)');
  return {
    adapter: { name: config.name, guid: formatGuid(guidFromName(config.name)), mtu: config.mtu },
    addresses: config.addresses,
    routes,
    egress,
    notes,
  };
}

/** How many changes the plan makes: the adapter, each address, each route. */
export const windowsChangeCount = (plan: WindowsPlan): number =>
  1 + plan.addresses.length + plan.routes.length;

/** Routes that can be added (an egress route needs that family's egress; the dry run prints them all). */
export function routeTarget(plan: WindowsPlan, r: PlannedRoute): { alias: string; gateway: string | null } {
  if (r.on === 'tunnel') return { alias: plan.adapter.name, gateway: null };
  const e = plan.egress?.[r.destination.family];
  return e
    ? { alias: e.alias, gateway: e.gateway }
    : { alias: `<IPv${r.destination.family} physical interface>`, gateway: '<its gateway>' };
}

/** A route as the equivalent PowerShell command (ztun itself calls CreateIpForwardEntry2). */
export function describeRoute(plan: WindowsPlan, r: PlannedRoute, direction: 'apply' | 'undo'): string {
  const t = routeTarget(plan, r);
  const hop = t.gateway ? ` -NextHop ${t.gateway}` : '';
  const verb = direction === 'apply' ? 'New-NetRoute' : 'Remove-NetRoute';
  const metric = direction === 'apply' ? ` -RouteMetric ${7024 + r.priority} -Protocol NetMgmt` : '';
  return `${verb} -InterfaceAlias "${t.alias}" -DestinationPrefix ${formatCidr(r.destination)}${hop}${metric}  # ${r.why}`;
}

function sources(plan: WindowsPlan): string {
  const parts = ([4, 6] as const)
    .map((f) => plan.egress?.[f])
    .filter((e): e is Egress => e !== undefined)
    .map((e) => `${e.source} (${e.alias})`);
  return parts.length > 0 ? parts.join(', ') : "<the physical interface's address>";
}

/** The full dry-run text: what run would do, in order, then what teardown undoes, in order. */
export function formatWindowsPlan(config: RunConfig, plan: WindowsPlan): string {
  const { name, guid, mtu } = plan.adapter;
  const lines = [
    `# ztun run --dry-run (Windows): ${windowsChangeCount(plan)} changes; nothing was changed`,
    '# (PowerShell equivalents; ztun makes them through wintun.dll and IP Helper, as Administrator)',
    `# WintunCreateAdapter "${name}" ${guid}, then:`,
    `Set-NetIPInterface -InterfaceAlias "${name}" -NlMtuBytes ${mtu}`,
    ...plan.addresses.map(
      (a) =>
        `New-NetIPAddress -InterfaceAlias "${name}" -IPAddress ${a.address} -PrefixLength ${a.prefixLength}`,
    ),
    ...plan.routes.map((r) => describeRoute(plan, r, 'apply')),
    `# then: start the stack on ${name} (proxy ${describeProxy(config.proxy)}, outbound sockets bound to ${sources(plan)}, icmp ${config.icmp}, udp-timeout ${config.udpTimeoutMs / 1000}s, dns ${dnsText(config)}${config.pcap ? `, pcap ${config.pcap}` : ''})`,
    '# on Ctrl+C, SIGTERM or console close, in this order:',
    ...[...plan.routes].reverse().map((r) => describeRoute(plan, r, 'undo')),
    `# WintunCloseAdapter "${name}" (removes the adapter with its addresses and routes)`,
    '# if ztun is killed: Windows removes the adapter with the process; `ztun cleanup` removes the tagged routes left on the physical interface',
    ...plan.notes.map((n) => `# note: ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}
