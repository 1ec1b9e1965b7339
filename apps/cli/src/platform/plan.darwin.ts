import { type Family, formatCidr, parseCidr } from '../cidr.js';
import { DEFAULT_MTU, DEFAULT_NAME, describeProxy, type RunConfig } from '../config.js';
import { dnsText } from './dns-text.js';

// The macOS plan of `ztun run` (pure: imports no macOS package, so `--dry-run --platform darwin` prints it on
// any OS). Seed 004 (NetBird #5918): ztun's own sockets are pinned to the physical interface with
// IP_BOUND_IF / IPV6_BOUND_IF, and a *scoped* default (RTF_IFSCOPE, rtm_index = that interface, tagged
// RTF_PROTO1) gives them a way out once the tunnel has captured everything else.
//
// Capture is the split 0.0.0.0/1 + 128.0.0.0/1 (::/1 + 8000::/1) through the utun, not a replaced default:
// - configd owns the unscoped default and rewrites it on every network change (DHCP renewal, Wi-Fi roam,
//   wake): a replaced default would be silently taken back; two more-specific routes outrank it untouched.
// - the unscoped default stays the system's word on which interface is physical: RouteMonitor watches it
//   and re-pins the scoped default and the sockets to its interface (item 1 of issue 13).
// - a killed ztun fails open and stays online: its utun detaches, xnu purges the routes through it, and
//   the untouched default carries on. Only the scoped default and bypass routes (on the physical interface)
//   remain, tagged, for `ztun cleanup`. A replaced default would leave the Mac with no default at all.

/** The physical egress of one family, from RTM_GET of the unscoped default. */
export interface DarwinEgress {
  readonly family: Family;
  readonly interfaceName: string;
  readonly interfaceIndex: number;
  /** The next hop; undefined for a point-to-point egress (the route's gateway is the link itself). */
  readonly gateway?: string;
}

export type DarwinRouteStep =
  /** RTM_ADD default, RTF_UP|RTF_STATIC|RTF_IFSCOPE|RTF_PROTO1 (+RTF_GATEWAY), rtm_index = egress. */
  | { readonly kind: 'scoped-default'; readonly family: Family }
  /** A prefix kept on the physical path (--exclude, the proxy): via the egress's gateway, tagged. */
  | {
      readonly kind: 'bypass';
      readonly cidr: string;
      readonly family: Family;
      readonly why: 'exclude' | 'proxy';
    }
  /** An interface route into the utun (sockaddr_dl gateway, no RTF_GATEWAY: seed 002), tagged. */
  | { readonly kind: 'tunnel'; readonly cidr: string; readonly family: Family };

export interface DarwinPlan {
  /** utunN asked for, or undefined: the kernel picks the first free unit. */
  readonly unit: number | undefined;
  readonly mtu: number;
  readonly addresses: readonly string[];
  /** Applied in this order, undone in reverse: scoped defaults, bypasses, then the capture. */
  readonly steps: readonly DarwinRouteStep[];
  readonly notes: readonly string[];
}

/** utun's own MTU (xnu if_utun.c:276); ztun's Linux default (65520) is not used on macOS. */
export const DARWIN_DEFAULT_MTU = 1500;

/** The utun unit `--name` asks for: undefined for the default name (kernel picks), N for utunN; else a refusal. */
export function utunUnitOf(name: string): number | undefined | { refused: string } {
  if (name === DEFAULT_NAME) return undefined;
  const m = /^utun(0|[1-9][0-9]{0,5})$/.exec(name);
  if (!m)
    return {
      refused: `on macOS --name must be utunN (the only names utun devices get) or left out; got ${name}`,
    };
  return Number(m[1]);
}

const SPLIT: Record<Family, readonly string[]> = { 4: ['0.0.0.0/1', '128.0.0.0/1'], 6: ['::/1', '8000::/1'] };

/** Options macOS does not have, as one refusal line; undefined when the config is fine here. */
export function darwinRefusal(config: RunConfig): string | undefined {
  const unit = utunUnitOf(config.name);
  if (typeof unit === 'object') return unit.refused;
  if (config.killSwitch)
    return '--kill-switch is Linux-only for now (macOS has no unreachable routes that outlive a utun)';
  return undefined;
}

export function buildDarwinPlan(config: RunConfig, proxyAddresses: readonly string[] = []): DarwinPlan {
  const unit = utunUnitOf(config.name);
  const families = [...new Set(config.addresses.map((a) => a.family))].sort() as Family[];
  const notes: string[] = [];
  const refusal = darwinRefusal(config);
  if (refusal) notes.push(`ztun run on macOS refuses this configuration: ${refusal}`);
  const tunnel: DarwinRouteStep[] = [];
  if (config.autoRoute) {
    for (const f of families) for (const cidr of SPLIT[f]) tunnel.push({ kind: 'tunnel', cidr, family: f });
  }
  for (const r of config.routes) tunnel.push({ kind: 'tunnel', cidr: formatCidr(r), family: r.family });
  const routed = new Set(tunnel.map((s) => s.family));
  const bypass: DarwinRouteStep[] = [];
  for (const e of config.excludes) {
    if (routed.has(e.family))
      bypass.push({ kind: 'bypass', cidr: formatCidr(e), family: e.family, why: 'exclude' });
    else
      notes.push(
        `--exclude ${formatCidr(e)} has no effect: no IPv${e.family} traffic is routed into the tunnel`,
      );
  }
  for (const a of proxyAddresses) {
    if (a === '::1' || a.startsWith('127.')) continue; // loopback never enters the utun: nothing to bypass
    const c = parseCidr(a, { bareIsHost: true });
    if (routed.has(c.family))
      bypass.push({ kind: 'bypass', cidr: formatCidr(c), family: c.family, why: 'proxy' });
  }
  const scoped: DarwinRouteStep[] = [...routed].sort().map((family) => ({ kind: 'scoped-default', family }));
  if (config.proxy.kind === 'socks5' && proxyAddresses.length === 0)
    notes.push(`proxy host ${config.proxy.host} did not resolve; it gets no bypass route`);
  if (config.autoRoute && !families.includes(6))
    notes.push('IPv6 is not captured by --auto-route: the tunnel has no IPv6 --address');
  return {
    unit: typeof unit === 'number' ? unit : undefined,
    mtu: config.mtu === DEFAULT_MTU ? DARWIN_DEFAULT_MTU : config.mtu,
    addresses: config.addresses.map(formatCidr),
    steps: [...scoped, ...bypass, ...tunnel],
    notes,
  };
}

const inet = (f: Family) => (f === 4 ? '-inet' : '-inet6');

/** One step as the route(8) command that does the same (what an operator would type), with its flags. */
export function describeDarwinStep(
  step: DarwinRouteStep,
  direction: 'apply' | 'undo',
  ctx: { utun: string; egress?: DarwinEgress | undefined },
): string {
  const verb = direction === 'apply' ? 'add' : 'delete';
  const ifname = ctx.egress?.interfaceName ?? '<egress>';
  const via = ctx.egress ? (ctx.egress.gateway ?? `-interface ${ifname}`) : '<gateway>';
  switch (step.kind) {
    case 'scoped-default':
      return `route -n ${verb} ${inet(step.family)} default ${via} -ifscope ${ifname}   # RTF_IFSCOPE|RTF_STATIC|RTF_PROTO1, rtm_index = ${ctx.egress?.interfaceIndex ?? `index of ${ifname}`}`;
    case 'bypass':
      return `route -n ${verb} ${inet(step.family)} ${step.cidr} ${via}   # RTF_STATIC|RTF_PROTO1 (${step.why === 'proxy' ? 'the proxy' : '--exclude'})`;
    case 'tunnel':
      return `route -n ${verb} ${inet(step.family)} ${step.cidr} -interface ${ctx.utun}   # RTF_STATIC|RTF_PROTO1, gateway sockaddr_dl (no RTF_GATEWAY)`;
  }
}

/** The `--dry-run` text for macOS. `egress`: the current defaults when known (on a Mac), else placeholders. */
export function formatDarwinPlan(
  config: RunConfig,
  plan: DarwinPlan,
  egress: readonly DarwinEgress[] = [],
): string {
  const utun = plan.unit === undefined ? 'utun<N>' : `utun${plan.unit}`;
  const ctx = (f: Family) => ({ utun, egress: egress.find((e) => e.family === f) });
  const lines = [
    `# ztun run --dry-run (macOS): ${plan.addresses.length + 1 + plan.steps.length} changes; nothing was changed`,
  ];
  lines.push(
    `open ${utun} (socket(PF_SYSTEM, SOCK_DGRAM, SYSPROTO_CONTROL) + connect sc_unit ${plan.unit === undefined ? '0 = first free' : plan.unit + 1}) && ifconfig ${utun} mtu ${plan.mtu} up`,
  );
  for (const a of plan.addresses) {
    lines.push(
      a.includes(':')
        ? `ifconfig ${utun} inet6 ${a} alias   # SIOCAIFADDR_IN6`
        : `ifconfig ${utun} inet ${a} ${a.split('/')[0]} alias   # SIOCAIFADDR, destination = itself`,
    );
  }
  for (const s of plan.steps) lines.push(describeDarwinStep(s, 'apply', ctx(s.family)));
  const pin = egress.length
    ? egress.map((e) => `IPv${e.family} ${e.interfaceName} (index ${e.interfaceIndex})`).join(', ')
    : 'the egress of each default route';
  lines.push(
    `# then: start the stack on ${utun} (proxy ${describeProxy(config.proxy)}, outbound sockets IP_BOUND_IF/IPV6_BOUND_IF to ${pin}, icmp ${config.icmp}, udp-timeout ${config.udpTimeoutMs / 1000}s, dns ${dnsText(config)}${config.pcap ? `, pcap ${config.pcap}` : ''}); when the default route moves, the scoped default, the bypass routes and the pin follow it`,
  );
  lines.push('# on SIGINT/SIGTERM, in this order:');
  for (const s of [...plan.steps].reverse()) lines.push(describeDarwinStep(s, 'undo', ctx(s.family)));
  lines.push(`close ${utun} (the kernel removes the interface, its addresses and any route through it)`);
  lines.push(
    '# fail-open: if ztun dies, the utun and its routes go with it; `ztun cleanup` removes the tagged scoped defaults and bypass routes',
  );
  for (const n of plan.notes) lines.push(`# note: ${n}`);
  return `${lines.join('\n')}\n`;
}
