// The simulated XNU's routing table: prefixes keyed by (family, destination, length, scope), with the one
// part of XNU's scoped routing ztun relies on (xnu bsd/net/route.c, "scoped routing"): a route added with
// RTF_IFSCOPE belongs to its interface's scope and is found only by lookups scoped to that interface;
// unscoped lookups see only unscoped routes. A scoped lookup also sees the unscoped routes *of* that
// interface (its connected subnets), the longest prefix winning and a scoped route winning a tie.

import { RTF_HOST } from './codec.js';

export type XnuGateway = { kind: 'address'; addr: Uint8Array } | { kind: 'link'; index: number };

export interface XnuRoute {
  family: 4 | 6;
  dst: Uint8Array;
  prefixLength: number;
  gateway: XnuGateway;
  /** RTF_* as stored (RTF_DONE never). */
  flags: number;
  /** The interface the route sends out of (rt_ifp). */
  ifIndex: number;
  /** The RTF_IFSCOPE scope: an interface index, or 0 for an unscoped route. */
  scope: number;
}

export function prefixLengthOf(mask: Uint8Array): number {
  let n = 0;
  for (const byte of mask) {
    if (byte === 0xff) {
      n += 8;
      continue;
    }
    let b = byte;
    while (b & 0x80) {
      n++;
      b = (b << 1) & 0xff;
    }
    break;
  }
  return n;
}

export function masked(addr: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(addr.length);
  for (let i = 0; i < addr.length; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - i * 8));
    out[i] = addr[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

export function contains(route: Pick<XnuRoute, 'dst' | 'prefixLength'>, addr: Uint8Array): boolean {
  return route.dst.length === addr.length && equal(masked(addr, route.prefixLength), route.dst);
}

export function formatAddr(a: Uint8Array): string {
  if (a.length === 4) return a.join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((a[i]! << 8) | a[i + 1]!).toString(16));
  return words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** One line per route, stable: what tests compare before and after a run. */
export function describeRoute(r: XnuRoute, nameOf: (index: number) => string): string {
  const gw = r.gateway.kind === 'address' ? formatAddr(r.gateway.addr) : `link#${nameOf(r.gateway.index)}`;
  const scope = r.scope ? ` ifscope ${nameOf(r.scope)}` : '';
  const flags = (r.flags & ~RTF_HOST).toString(16);
  return `${formatAddr(r.dst)}/${r.prefixLength} via ${gw} dev ${nameOf(r.ifIndex)}${scope} flags 0x${flags}`;
}

export class XnuTable {
  readonly routes: XnuRoute[] = [];

  find(family: 4 | 6, dst: Uint8Array, prefixLength: number, scope: number): XnuRoute | undefined {
    const d = masked(dst, prefixLength);
    return this.routes.find(
      (r) => r.family === family && r.prefixLength === prefixLength && r.scope === scope && equal(r.dst, d),
    );
  }

  add(route: XnuRoute): boolean {
    if (this.find(route.family, route.dst, route.prefixLength, route.scope)) return false;
    this.routes.push({ ...route, dst: masked(route.dst, route.prefixLength) });
    return true;
  }

  remove(route: XnuRoute): void {
    const i = this.routes.indexOf(route);
    if (i >= 0) this.routes.splice(i, 1);
  }

  /** Longest-prefix lookup; `scope` 0 is an unscoped lookup. */
  lookup(family: 4 | 6, addr: Uint8Array, scope = 0): XnuRoute | undefined {
    let best: XnuRoute | undefined;
    for (const r of this.routes) {
      if (r.family !== family || !contains(r, addr)) continue;
      const visible =
        scope === 0 ? r.scope === 0 : r.scope === scope || (r.scope === 0 && r.ifIndex === scope);
      if (!visible) continue;
      if (
        !best ||
        r.prefixLength > best.prefixLength ||
        (r.prefixLength === best.prefixLength && r.scope === scope && best.scope !== scope)
      )
        best = r;
    }
    return best;
  }

  /** Drops every route out of or scoped to `index` (if_detach purges them); returns what it removed. */
  purgeInterface(index: number): XnuRoute[] {
    const gone = this.routes.filter((r) => r.ifIndex === index || r.scope === index);
    for (const r of gone) this.remove(r);
    return gone;
  }
}
