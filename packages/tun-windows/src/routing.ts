/**
 * Addresses, routes and interface MTU/metric through the IP Helper API (iphlpapi), over an IpHelperApi so the
 * logic is testable anywhere. Mirrors wireguard-windows winipcfg (sing-tun internal/winipcfg).
 */
import { formatIp, type IpAddress, type IpFamily, type IpPrefix, parseIp, parsePrefix } from './address.js';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  ERROR_ALREADY_EXISTS,
  ERROR_FILE_NOT_FOUND,
  ERROR_NOT_FOUND,
  ERROR_OBJECT_ALREADY_EXISTS,
  NlRouteProtocol,
} from './constants.js';
import { TunError, win32Error } from './errors.js';
import type { IpHelperApi } from './iphlpapi-api.js';
import { MIB_IPFORWARD_ROW2, MIB_IPINTERFACE_ROW, MIB_UNICASTIPADDRESS_ROW } from './layout.js';
import {
  applyInterfaceSettings,
  type DecodedForwardRow,
  decodeForwardRow,
  decodeInterfaceRow,
  encodeForwardRow,
  encodeInterfaceKey,
  encodeUnicastAddressRow,
  type InterfaceSettings,
} from './rows.js';

/**
 * How ztun's routes are recognised after a restart (a crash leaves them behind). Both fields are stored as
 * given and read back unchanged by GetIpForwardTable2 (Metric is documented as the route's own metric offset,
 * Protocol as how the route was added):
 *  - Protocol = MIB_IPPROTO_NETMGMT (3), the value for routes added by management applications; and
 *  - Metric in [ZTUN_ROUTE_METRIC_BASE, ZTUN_ROUTE_METRIC_BASE + ZTUN_ROUTE_METRIC_SPAN), a band nothing
 *    else is known to use. A route's priority p (0..15) becomes Metric = base + p.
 * Windows adds the interface metric to a route's metric, so this high band makes ztun's routes lose ties
 * against other routes of the same prefix length; ztun relies on longer prefixes (0.0.0.0/1 + 128.0.0.0/1,
 * ::/1 + 8000::/1, /32 bypass routes) instead. NOT YET VERIFIED on real Windows (see README).
 */
export const ZTUN_ROUTE_PROTOCOL = NlRouteProtocol.NetMgmt;
export const ZTUN_ROUTE_METRIC_BASE = 7024;
export const ZTUN_ROUTE_METRIC_SPAN = 16;

export function isZtunRoute(route: { protocol: number; metric: number }): boolean {
  return (
    route.protocol === ZTUN_ROUTE_PROTOCOL &&
    route.metric >= ZTUN_ROUTE_METRIC_BASE &&
    route.metric < ZTUN_ROUTE_METRIC_BASE + ZTUN_ROUTE_METRIC_SPAN
  );
}

export interface RouteSpec {
  /** Interface the route points at (the Wintun adapter's LUID, or a physical one for bypass routes). */
  luid: bigint;
  /** "0.0.0.0/1", "2000::/3"… Host bits must be zero. */
  destination: string | IpPrefix;
  /** Gateway; omitted/null = on-link. */
  nextHop?: string | IpAddress | null;
  /** 0..15 (default 0): lower wins among ztun's routes. */
  priority?: number;
}

export interface RouteEntry extends DecodedForwardRow {
  /** True when the route carries ztun's tag. */
  ztun: boolean;
  /** The row as read, for deletion. */
  readonly raw: Uint8Array;
}

function familyNumber(family: IpFamily | 'all'): number {
  return family === 'all' ? AF_UNSPEC : family === 4 ? AF_INET : AF_INET6;
}

function toPrefix(p: string | IpPrefix): IpPrefix {
  return typeof p === 'string' ? parsePrefix(p, true) : p;
}

function toAddress(a: string | IpAddress | null | undefined): IpAddress | null {
  if (a === undefined || a === null) return null;
  return typeof a === 'string' ? parseIp(a) : a;
}

function isAbsent(status: number): boolean {
  return status === ERROR_NOT_FOUND || status === ERROR_FILE_NOT_FOUND;
}

function isDuplicate(status: number): boolean {
  return status === ERROR_OBJECT_ALREADY_EXISTS || status === ERROR_ALREADY_EXISTS;
}

export class WindowsRouting {
  constructor(private readonly api: IpHelperApi) {}

  private unicastRow(luid: bigint, cidr: string): Uint8Array {
    const p = parsePrefix(cidr);
    const row = new Uint8Array(MIB_UNICASTIPADDRESS_ROW.size);
    this.api.initializeUnicastIpAddressEntry(row);
    return encodeUnicastAddressRow(row, { luid, address: p, prefixLength: p.prefixLength });
  }

  /** Adds "10.0.0.1/24" or "fd00::1/64" to the interface. Returns false if it was already there. */
  addAddress(luid: bigint, cidr: string): boolean {
    const status = this.api.createUnicastIpAddressEntry(this.unicastRow(luid, cidr));
    if (status === 0) return true;
    if (isDuplicate(status)) return false;
    throw win32Error(`CreateUnicastIpAddressEntry ${cidr}`, status);
  }

  /** Removes an address. Returns false if it was not there. */
  deleteAddress(luid: bigint, cidr: string): boolean {
    const status = this.api.deleteUnicastIpAddressEntry(this.unicastRow(luid, cidr));
    if (status === 0) return true;
    if (isAbsent(status)) return false;
    throw win32Error(`DeleteUnicastIpAddressEntry ${cidr}`, status);
  }

  private forwardRow(spec: RouteSpec): Uint8Array {
    const priority = spec.priority ?? 0;
    if (!Number.isInteger(priority) || priority < 0 || priority >= ZTUN_ROUTE_METRIC_SPAN) {
      throw new TunError(
        'INVALID_ARGUMENT',
        'route priority',
        `${priority} is outside 0..${ZTUN_ROUTE_METRIC_SPAN - 1}`,
      );
    }
    const row = new Uint8Array(MIB_IPFORWARD_ROW2.size);
    this.api.initializeIpForwardEntry(row);
    return encodeForwardRow(row, {
      luid: spec.luid,
      destination: toPrefix(spec.destination),
      nextHop: toAddress(spec.nextHop),
      metric: ZTUN_ROUTE_METRIC_BASE + priority,
      protocol: ZTUN_ROUTE_PROTOCOL,
    });
  }

  /** Adds a tagged route. A duplicate is a typed ALREADY_EXISTS error. */
  addRoute(spec: RouteSpec): void {
    const status = this.api.createIpForwardEntry2(this.forwardRow(spec));
    if (status !== 0) throw win32Error(`CreateIpForwardEntry2 ${describe(spec)}`, status);
  }

  /** Removes a route (matched on interface, destination and next hop). Returns false if it was not there. */
  deleteRoute(spec: RouteSpec): boolean {
    const status = this.api.deleteIpForwardEntry2(this.forwardRow(spec));
    if (status === 0) return true;
    if (isAbsent(status)) return false;
    throw win32Error(`DeleteIpForwardEntry2 ${describe(spec)}`, status);
  }

  listRoutes(family: IpFamily | 'all' = 'all'): RouteEntry[] {
    const { status, rows } = this.api.getIpForwardTable2(familyNumber(family));
    if (status !== 0) throw win32Error('GetIpForwardTable2', status);
    return rows.map((raw) => {
      const r = decodeForwardRow(raw);
      return { ...r, ztun: isZtunRoute(r), raw };
    });
  }

  /** Deletes every ztun-tagged route (optionally only those on one interface). Returns how many. */
  removeLeftoverRoutes(filter: { luid?: bigint } = {}): number {
    let removed = 0;
    for (const r of this.listRoutes('all')) {
      if (!r.ztun || (filter.luid !== undefined && r.luid !== filter.luid)) continue;
      const status = this.api.deleteIpForwardEntry2(r.raw);
      if (status === 0) removed++;
      else if (!isAbsent(status)) throw win32Error('DeleteIpForwardEntry2 (leftover)', status);
    }
    return removed;
  }

  /** Reads the interface's IPv4 or IPv6 parameters. */
  getInterface(luid: bigint, family: IpFamily): ReturnType<typeof decodeInterfaceRow> {
    return decodeInterfaceRow(this.readInterface(luid, family));
  }

  private readInterface(luid: bigint, family: IpFamily): Uint8Array {
    const row = encodeInterfaceKey(new Uint8Array(MIB_IPINTERFACE_ROW.size), family, luid);
    const status = this.api.getIpInterfaceEntry(row);
    if (status !== 0) throw win32Error(`GetIpInterfaceEntry IPv${family}`, status);
    return row;
  }

  /** Sets MTU and/or metric for one family: Get, clamp SitePrefixLength, change, Set. */
  setInterface(luid: bigint, family: IpFamily, settings: InterfaceSettings): void {
    const row = applyInterfaceSettings(this.readInterface(luid, family), settings);
    const status = this.api.setIpInterfaceEntry(row);
    if (status !== 0) throw win32Error(`SetIpInterfaceEntry IPv${family}`, status);
  }

  interfaceIndex(luid: bigint): number {
    const { status, index } = this.api.convertInterfaceLuidToIndex(luid);
    if (status !== 0) throw win32Error('ConvertInterfaceLuidToIndex', status);
    return index;
  }
}

function describe(spec: RouteSpec): string {
  const d = toPrefix(spec.destination);
  const hop = toAddress(spec.nextHop);
  return `${formatIp(d.family, d.bytes)}/${d.prefixLength}${hop ? ` via ${formatIp(hop.family, hop.bytes)}` : ''}`;
}
