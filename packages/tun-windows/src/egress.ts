// Which physical interface a tunnel's own traffic leaves by, read before the tunnel's routes exist: the best
// default route of each family (lowest metric, not ztun's, not on a loopback or down interface), its gateway,
// and a source address on that interface. chooseEgress is pure over decoded rows (tested anywhere);
// findEgress reads them through an IpHelperApi (GetIpForwardTable2, GetIfTable2, GetUnicastIpAddressTable;
// CI runs it against Wine's real implementations).
//
// Why a source address (README "Windows: loop avoidance"): Node cannot set IP_UNICAST_IF on its sockets, but
// it can bind them (localAddress). Windows uses the strong host model for sends by default, so a socket bound
// to the physical interface's address is routed only over routes of that interface (Microsoft, "Strong and
// Weak Host Models", The Cable Guy, TechNet Magazine, September 2007; MIB_IPINTERFACE_ROW.WeakHostSend defaults to
// FALSE, Microsoft Learn). The tunnel's 0.0.0.0/1 + 128.0.0.0/1 are on the Wintun adapter, so they never
// apply to such a socket.

import { formatIp } from './address.js';
import { type DecodedIfRow, decodeIfRow, IfOperStatus, IfType } from './if-row.js';
import type { IpHelperApi } from './iphlpapi-api.js';
import { WindowsRouting } from './routing.js';
import { type DecodedForwardRow, type DecodedUnicastAddress, decodeUnicastAddressRow } from './rows.js';

const LOOPBACK_TYPE = IfType.SoftwareLoopback;
const OPER_UP = IfOperStatus.Up;

export interface Egress {
  readonly family: 4 | 6;
  readonly luid: bigint;
  readonly index: number;
  /** The interface's alias ("Ethernet", "Wi-Fi"). */
  readonly alias: string;
  /** The default route's next hop; null when the default route is on-link. */
  readonly gateway: string | null;
  /** The address ztun's outbound sockets bind to. */
  readonly source: string;
}

export interface EgressTables {
  readonly routes: readonly (DecodedForwardRow & { readonly ztun?: boolean })[];
  readonly interfaces: readonly DecodedIfRow[];
  readonly addresses: readonly DecodedUnicastAddress[];
  /** Effective interface metrics (GetIpInterfaceEntry), added to route metrics when known. */
  readonly interfaceMetric?: (luid: bigint, family: 4 | 6) => number | undefined;
}

/** Addresses a socket should not be bound to for reaching the Internet: link-local (169.254/16, fe80::/10). */
function usableSource(a: DecodedUnicastAddress): boolean {
  const b = a.address.bytes;
  if (a.address.family === 4) return !(b[0] === 169 && b[1] === 254);
  return !(b[0] === 0xfe && (b[1]! & 0xc0) === 0x80);
}

/**
 * The egress of `family`, or undefined when there is no usable default route with a source address on its
 * interface. `excludeLuid`: an interface never to choose (the tunnel's own adapter, when it already exists).
 */
export function chooseEgress(family: 4 | 6, tables: EgressTables, excludeLuid?: bigint): Egress | undefined {
  const ifs = new Map(tables.interfaces.map((i) => [i.luid, i]));
  const candidates = tables.routes
    .filter(
      (r) =>
        r.destination.family === family &&
        r.destination.prefixLength === 0 &&
        !r.ztun &&
        r.luid !== excludeLuid &&
        ifs.get(r.luid)?.type !== LOOPBACK_TYPE &&
        (ifs.get(r.luid)?.operStatus ?? OPER_UP) === OPER_UP,
    )
    .map((r) => ({ r, metric: r.metric + (tables.interfaceMetric?.(r.luid, family) ?? 0) }))
    .sort((a, b) => a.metric - b.metric || a.r.interfaceIndex - b.r.interfaceIndex);
  for (const { r } of candidates) {
    const source = tables.addresses.find(
      (a) => a.luid === r.luid && a.address.family === family && usableSource(a),
    );
    if (!source) continue;
    return {
      family,
      luid: r.luid,
      index: ifs.get(r.luid)?.index ?? r.interfaceIndex,
      alias: ifs.get(r.luid)?.alias ?? `interface ${r.interfaceIndex}`,
      gateway: r.nextHop ? formatIp(r.nextHop.family, r.nextHop.bytes) : null,
      source: formatIp(source.address.family, source.address.bytes),
    };
  }
  return undefined;
}

/** The egress of each family, read through IP Helper (read-only calls only). */
export function findEgress(api: IpHelperApi, families: readonly (4 | 6)[]): Partial<Record<4 | 6, Egress>> {
  const routing = new WindowsRouting(api);
  const ifs = api.getIfTable2();
  const addrs = api.getUnicastIpAddressTable(0);
  const tables: EgressTables = {
    routes: routing.listRoutes('all'),
    interfaces: ifs.status === 0 ? ifs.rows.map(decodeIfRow) : [],
    addresses: addrs.status === 0 ? addrs.rows.map(decodeUnicastAddressRow) : [],
    interfaceMetric: (luid, family) => {
      try {
        return routing.getInterface(luid, family).metric;
      } catch {
        return undefined; // Wine has no GetIpInterfaceEntry: route metrics alone decide there
      }
    },
  };
  const out: Partial<Record<4 | 6, Egress>> = {};
  for (const f of families) {
    const e = chooseEgress(f, tables);
    if (e) out[f] = e;
  }
  return out;
}
