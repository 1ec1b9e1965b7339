import { type Cidr, formatIp, tryParseCidr } from '@ztun/packet';
import { RoutingInputError } from '../errors.js';
import { ZTUN_RT_PROTOCOL, ZTUN_RULE_PRIORITY_MAX, ZTUN_RULE_PRIORITY_MIN } from '../tags.js';
import type { IpFamily, UidRange } from '../types.js';
import { planSelectors } from './selectors.js';

// Linux auto-route as a plan: every route and rule, computed purely from the options, in the order they go
// in (undo is the exact reverse). Policy routing as wg-quick does it, per address family the tunnel carries:
//   pref B+0  to <bypass / exclude>  lookup main     never into the tunnel (e.g. the proxy server)
//   pref B+1  lookup main suppress_prefixlength 0    main's specific routes (LAN, link) still win
//   pref B+2  not fwmark M lookup T                  everything else → table T: default dev <tunnel>
// The tunnel's own outbound sockets carry SO_MARK M, skip B+2 and leave by main's default route: no loop.
// With `routes` only (no captureDefault), B+1 is left out and table T holds just those prefixes.
// Sources: ip-rule(8) (suppress_prefixlength, not fwmark), wg-quick(8) (the same three rules).
//
// killSwitch: table T also gets `unreachable <prefix> metric KILL_SWITCH_METRIC` beside each route via the
// tunnel. The tunnel's routes win while it exists (lower metric); when the link vanishes (the kernel removes
// every route through it) the unreachable routes and the rules stay, so routed traffic is refused instead of
// falling through to main. With captureDefault, a family the tunnel has no address in gets the rules and an
// unreachable default too: refused, never sent around the tunnel.
//
// Selectors (selectors.ts): excludeUids/excludeInterfaces add `uidrange|iif … goto B+3` at B+0, B+3 being a
// `nop` rule: the traffic skips ztun's band as if ztun were not there (a `lookup main` that finds no route
// would fall through into the tunnel). includeUids/includeInterfaces put `fwmark M goto B+3` at B+0 and one
// `uidrange|iif … lookup T` per selector at B+2 in place of `not fwmark M lookup T`: only those users and
// the traffic forwarded from those interfaces enter the tunnel. The nop goes in first and out last, so a
// goto is never unresolved (the kernel skips an unresolved goto) while the tunnel rule exists.

/** Table id of the main table (`ip route show table main`). */
export const MAIN_TABLE = 254;
/** Metric of the kill-switch routes: above the tunnel routes' (IPv4 0, IPv6 1024) so those win while they exist. */
export const KILL_SWITCH_METRIC = 0x7a74;

/** Marks that identify what auto-route installs; flushZtun finds the defaults. */
export interface AutoRouteTags {
  /** rtm_protocol of every route (default ZTUN_RT_PROTOCOL). */
  readonly routeProtocol: number;
  /** Rules use priorities rulePriorityMin..+2, which must lie in ..rulePriorityMax. */
  readonly rulePriorityMin: number;
  readonly rulePriorityMax: number;
}

export const ZTUN_TAGS: AutoRouteTags = {
  routeProtocol: ZTUN_RT_PROTOCOL,
  rulePriorityMin: ZTUN_RULE_PRIORITY_MIN,
  rulePriorityMax: ZTUN_RULE_PRIORITY_MAX,
};

export interface AutoRouteOptions {
  /** The tunnel link's name (routes go out through it). */
  readonly dev: string;
  /** Families the tunnel has an address in: only those get routes via the link. */
  readonly families: readonly IpFamily[];
  /** The routing table that holds the tunnel's routes (e.g. 31348). */
  readonly table: number;
  /** SO_MARK of the tunnel's own outbound sockets: marked traffic skips the tunnel. */
  readonly fwmark: number;
  /** Send all traffic (both defaults) into the tunnel. */
  readonly captureDefault?: boolean;
  /** Prefixes to route into the tunnel ('10.0.0.0/8'; a default here is the same as captureDefault's). */
  readonly routes?: readonly string[];
  /** Prefixes that must never enter the tunnel (a bare address is a host prefix). */
  readonly exclude?: readonly string[];
  /**
   * Addresses the tunnel's own traffic goes to (e.g. a SOCKS5 server): each that a routed prefix contains
   * gets a `lookup main` rule. Marked sockets skip the tunnel anyway; this also covers unmarked ones.
   */
  readonly bypass?: readonly string[];
  /** Keep routed traffic refused (unreachable routes) if the tunnel vanishes without undo. */
  readonly killSwitch?: boolean;
  /** Only these users' traffic enters the tunnel (with includeInterfaces: either one's). */
  readonly includeUids?: readonly UidRange[];
  /** These users' traffic never enters the tunnel (exclusions win over inclusions). */
  readonly excludeUids?: readonly UidRange[];
  /** Traffic forwarded from these interfaces (a LAN gateway) enters the tunnel; local traffic does not
   *  unless includeUids selects it. */
  readonly includeInterfaces?: readonly string[];
  /** Traffic arriving on these interfaces (e.g. docker0) keeps the main table. */
  readonly excludeInterfaces?: readonly string[];
  readonly tags?: AutoRouteTags;
}

export interface PlannedRoute {
  readonly family: IpFamily;
  /** Canonical `address/length`; length 0 is the default route. */
  readonly dst: string;
  readonly prefixLength: number;
  /** The tunnel link; absent for an `unreachable` route. */
  readonly dev?: string;
  readonly table: number;
  readonly protocol: number;
  /** A kill-switch route: `unreachable`, no device, KILL_SWITCH_METRIC. */
  readonly unreachable?: boolean;
  readonly metric?: number;
}

export interface PlannedRule {
  readonly family: IpFamily;
  readonly priority: number;
  /** Table id; 254 is main. */
  readonly table: number;
  /** Canonical `address/length`. */
  readonly dst?: string;
  readonly fwmark?: number;
  readonly fwmask?: number;
  /** `not`: the rule applies when its selector does NOT match. */
  readonly invert?: boolean;
  readonly suppressPrefixLength?: number;
  /** `uidrange START-END`: sockets owned by these users. */
  readonly uidRange?: UidRange;
  /** `iif NAME`: packets arriving on this interface. */
  readonly iif?: string;
  /** Default: lookup `table` (then ignored). `goto`: jump to priority `goto`; `nop`: a goto's target. */
  readonly action?: 'goto' | 'nop';
  readonly goto?: number;
}

export type AutoRouteStep =
  | { readonly kind: 'route'; readonly route: PlannedRoute }
  | { readonly kind: 'rule'; readonly rule: PlannedRule };

/** Things a caller should tell its user (the wording is the caller's). */
export type AutoRouteNote =
  /** captureDefault, but the tunnel has no address of `family`: its traffic is refused (killSwitch) or not captured. */
  | { readonly kind: 'family-not-captured'; readonly family: IpFamily; readonly refused: boolean }
  /** An exclude of a family nothing is routed for: it changes nothing. */
  | { readonly kind: 'exclude-without-effect'; readonly prefix: string; readonly family: IpFamily }
  /** uid or interface selectors, but nothing is routed into the tunnel: they change nothing. */
  | { readonly kind: 'selectors-without-effect' };

export interface AutoRoutePlan {
  readonly dev: string;
  readonly steps: readonly AutoRouteStep[];
  readonly notes: readonly AutoRouteNote[];
}

/** `address/length` with the address in canonical text (RFC 5952 for IPv6). */
export const formatPrefix = (c: Cidr): string => `${formatIp(c.bytes)}/${c.prefixLength}`;

function prefix(text: string, what: string): Cidr {
  const c = tryParseCidr(text);
  if (c instanceof Error)
    throw new RoutingInputError(`auto-route ${what} ${JSON.stringify(text)}`, c.message);
  return c;
}

function checkNumber(what: string, n: number, max: number): void {
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new RoutingInputError('auto-route', `${what} must be an integer 0..${max}, got ${n}`);
}

/** Builds the plan. Pure: nothing is read from or sent to the kernel. Throws RoutingInputError on bad input. */
export function planAutoRoute(options: AutoRouteOptions): AutoRoutePlan {
  const tags = options.tags ?? ZTUN_TAGS;
  const base = tags.rulePriorityMin;
  if (base + 2 > tags.rulePriorityMax)
    throw new RoutingInputError('auto-route', 'the rule priority range holds fewer than 3 rules');
  checkNumber('table', options.table, 0xffffffff);
  checkNumber('fwmark', options.fwmark, 0xffffffff);
  const steps: AutoRouteStep[] = [];
  const notes: AutoRouteNote[] = [];
  const tunFamilies = new Set(options.families);

  const routed = new Map<IpFamily, Cidr[]>();
  const addRouted = (c: Cidr) => {
    const list = routed.get(c.version) ?? [];
    if (!list.some((x) => formatPrefix(x) === formatPrefix(c))) list.push(c);
    routed.set(c.version, list);
  };
  if (options.captureDefault) {
    for (const family of [4, 6] as const) {
      if (tunFamilies.has(family) || options.killSwitch)
        addRouted(prefix(family === 4 ? '0.0.0.0/0' : '::/0', 'default'));
      if (!tunFamilies.has(family))
        notes.push({ kind: 'family-not-captured', family, refused: Boolean(options.killSwitch) });
    }
  }
  for (const r of options.routes ?? []) addRouted(prefix(r, 'route'));
  const excludes = (options.exclude ?? []).map((e) => prefix(e, 'exclude'));
  const selectors = planSelectors(options);
  const rule = (r: PlannedRule): AutoRouteStep => ({ kind: 'rule', rule: r });
  const jumps = selectors.include.length + selectors.exclude.length > 0;
  if (jumps && base + 3 > tags.rulePriorityMax)
    throw new RoutingInputError('auto-route', 'the rule priority range holds fewer than 4 rules');
  const skip = { table: MAIN_TABLE, action: 'goto' as const, goto: base + 3 };

  const route = (family: IpFamily, dst: Cidr, extra: Partial<PlannedRoute>): AutoRouteStep => ({
    kind: 'route',
    route: {
      family,
      dst: formatPrefix(dst),
      prefixLength: dst.prefixLength,
      table: options.table,
      protocol: tags.routeProtocol,
      ...extra,
    },
  });
  for (const family of [4, 6] as const) {
    if (!tunFamilies.has(family)) continue;
    for (const dst of routed.get(family) ?? []) steps.push(route(family, dst, { dev: options.dev }));
  }
  if (options.killSwitch) {
    for (const family of [4, 6] as const) {
      for (const dst of routed.get(family) ?? [])
        steps.push(route(family, dst, { unreachable: true, metric: KILL_SWITCH_METRIC }));
    }
  }

  for (const family of [4, 6] as const) {
    const prefixes = routed.get(family);
    if (!prefixes) continue;
    if (jumps) steps.push(rule({ family, priority: base + 3, table: MAIN_TABLE, action: 'nop' }));
    const bypass: Cidr[] = [];
    for (const addr of options.bypass ?? []) {
      const c = prefix(addr, 'bypass');
      if (c.version === family && prefixes.some((p) => p.containsCidr(c))) bypass.push(c);
    }
    for (const ex of excludes) if (ex.version === family) bypass.push(ex);
    const seen = new Set<string>();
    for (const dst of bypass) {
      // The kernel refuses an identical second rule (EEXIST): one per prefix.
      const text = formatPrefix(dst);
      if (seen.has(text)) continue;
      seen.add(text);
      steps.push({ kind: 'rule', rule: { family, priority: base, table: MAIN_TABLE, dst: text } });
    }
    for (const sel of selectors.exclude) steps.push(rule({ family, priority: base, ...skip, ...sel }));
    if (selectors.include.length > 0)
      steps.push(rule({ family, priority: base, ...skip, fwmark: options.fwmark, fwmask: 0xffffffff }));
    if (prefixes.some((p) => p.prefixLength === 0)) {
      steps.push({
        kind: 'rule',
        rule: { family, priority: base + 1, table: MAIN_TABLE, suppressPrefixLength: 0 },
      });
    }
    for (const sel of selectors.include)
      steps.push(rule({ family, priority: base + 2, table: options.table, ...sel }));
    if (selectors.include.length > 0) continue;
    steps.push({
      kind: 'rule',
      rule: {
        family,
        priority: base + 2,
        table: options.table,
        fwmark: options.fwmark,
        fwmask: 0xffffffff,
        invert: true,
      },
    });
  }
  for (const ex of excludes) {
    if (!routed.has(ex.version))
      notes.push({ kind: 'exclude-without-effect', prefix: formatPrefix(ex), family: ex.version });
  }
  if (routed.size === 0 && selectors.include.length + selectors.exclude.length > 0)
    notes.push({ kind: 'selectors-without-effect' });
  return { dev: options.dev, steps, notes };
}
