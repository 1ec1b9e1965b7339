import { requireIfName } from '../codec/common.js';
import { RoutingInputError } from '../errors.js';
import type { UidRange } from '../types.js';

// Who and what enters the tunnel, beyond destinations: policy-rule selectors (ip-rule(8)).
//   uidrange START-END  the traffic of sockets owned by these users (FRA_UID_RANGE, kernel ≥ 4.10)
//   iif NAME            traffic arriving on this interface, i.e. forwarded from it (FRA_IIFNAME)
// Exclusions become `lookup main` rules before the tunnel rule; inclusions replace the catch-all
// `not fwmark M lookup T` by one `lookup T` rule per selector (so only they enter), guarded by a
// `fwmark M lookup main` rule for the tunnel's own marked sockets (the kernel's `not` inverts a whole rule,
// so `not fwmark M` cannot be combined with a selector). Forwarded packets carry uid 0 in the routing
// lookup (net/ipv4/route.c ip_route_input_slow: sock_net_uid(net, NULL)), so uid 0 also selects them.

export type RuleSelector = { readonly uidRange: UidRange } | { readonly iif: string };

export interface SelectorOptions {
  readonly dev: string;
  readonly includeUids?: readonly UidRange[];
  readonly excludeUids?: readonly UidRange[];
  readonly includeInterfaces?: readonly string[];
  readonly excludeInterfaces?: readonly string[];
}

export interface PlannedSelectors {
  /** Selectors whose traffic keeps the main table (before the tunnel rule). */
  readonly exclude: readonly RuleSelector[];
  /** Selectors whose traffic enters the tunnel; empty: all unmarked traffic does. */
  readonly include: readonly RuleSelector[];
}

const OP = 'auto-route';
/** (uid_t)-1 is INVALID_UID: the kernel refuses it in a range. */
const MAX_UID = 0xfffffffe;

function uidRange(what: string, r: UidRange): UidRange {
  const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_UID;
  if (!r || !ok(r.start) || !ok(r.end))
    throw new RoutingInputError(OP, `${what} ${JSON.stringify(r)} is not a uid range in 0..${MAX_UID}`);
  if (r.start > r.end) throw new RoutingInputError(OP, `${what} ${r.start}-${r.end} ends before it starts`);
  return { start: r.start, end: r.end };
}

/** "1000" or "1000-1999" (what `ip rule … uidrange` and the CLI take) → a range; RoutingInputError otherwise. */
export function parseUidRange(text: string): UidRange {
  const m = /^\s*(\d{1,10})\s*(?:-\s*(\d{1,10})\s*)?$/.exec(text);
  if (!m) throw new RoutingInputError(OP, `uid ${JSON.stringify(text)} is not UID or START-END`);
  return uidRange('uid', { start: Number(m[1]), end: Number(m[2] ?? m[1]) });
}

/** Validates and deduplicates (the kernel refuses an identical second rule with EEXIST). */
export function planSelectors(o: SelectorOptions): PlannedSelectors {
  const build = (uids: readonly UidRange[] = [], ifaces: readonly string[] = [], kind: string) => {
    const out: RuleSelector[] = [];
    const seen = new Set<string>();
    for (const u of uids) {
      const r = uidRange(`${kind} uid`, u);
      const key = `u${r.start}-${r.end}`;
      if (!seen.has(key)) out.push({ uidRange: r });
      seen.add(key);
    }
    for (const name of ifaces) {
      const iif = requireIfName(OP, `${kind} interface`, name);
      if (kind === 'include' && iif === o.dev)
        throw new RoutingInputError(OP, `include interface ${iif} is the tunnel itself (a loop)`);
      if (!seen.has(`i${iif}`)) out.push({ iif });
      seen.add(`i${iif}`);
    }
    return out;
  };
  return {
    exclude: build(o.excludeUids, o.excludeInterfaces, 'exclude'),
    include: build(o.includeUids, o.includeInterfaces, 'include'),
  };
}
