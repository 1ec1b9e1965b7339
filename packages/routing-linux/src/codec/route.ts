import { formatIp, type IpAddress, type IpPrefix } from '../cidr.js';
import { RoutingInputError } from '../errors.js';
import { ZTUN_RT_PROTOCOL } from '../tags.js';
import type { IpFamily, NextHop, RouteInfo, RouteScopeName, RouteSpec } from '../types.js';
import {
  afToFamily,
  familyToAf,
  requireFamilyMatch,
  requireIp,
  requireNetwork,
  requireUint,
} from './common.js';
import {
  AF_UNSPEC,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_SITE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTA_DST,
  RTA_GATEWAY,
  RTA_IIF,
  RTA_MULTIPATH,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_SRC,
  RTA_TABLE,
  RTM_DELROUTE,
  RTM_F_CLONED,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  RTMSG_LEN,
  RTN_BLACKHOLE,
  RTN_LOCAL,
  RTN_PROHIBIT,
  RTN_THROW,
  RTN_UNICAST,
  RTN_UNREACHABLE,
  RTN_UNSPEC,
} from './constants.js';
import {
  attrU32,
  dataView,
  HOST_LITTLE_ENDIAN,
  MessageBuilder,
  type NetlinkMessage,
  parseAttrs,
  parseNestedAttrs,
  StructWriter,
} from './netlink.js';

export type RouteCommand = 'add' | 'replace' | 'delete';

const TYPE_BY_NAME: Record<string, number> = {
  unicast: RTN_UNICAST,
  local: RTN_LOCAL,
  blackhole: RTN_BLACKHOLE,
  unreachable: RTN_UNREACHABLE,
  prohibit: RTN_PROHIBIT,
  throw: RTN_THROW,
};
const TYPE_NAMES = [
  'unspec',
  'unicast',
  'local',
  'broadcast',
  'anycast',
  'multicast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'nat',
  'xresolve',
];
const SCOPE_BY_NAME: Record<RouteScopeName, number> = {
  universe: RT_SCOPE_UNIVERSE,
  site: RT_SCOPE_SITE,
  link: RT_SCOPE_LINK,
  host: RT_SCOPE_HOST,
  nowhere: RT_SCOPE_NOWHERE,
};

export interface ResolvedRoute {
  readonly family: IpFamily;
  readonly dst: IpPrefix;
  readonly gateway: IpAddress | undefined;
  readonly prefsrc: IpAddress | undefined;
  readonly oif: number | undefined;
  readonly table: number;
  readonly metric: number | undefined;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
}

export function describeRoute(cmd: RouteCommand, r: RouteSpec): string {
  if (!r || typeof r !== 'object') return `route ${cmd}`;
  const parts = [`route ${cmd} ${r.dst}`];
  if (r.type && r.type !== 'unicast') parts[0] = `route ${cmd} ${r.type} ${r.dst}`;
  if (r.gateway) parts.push(`via ${r.gateway}`);
  if (r.oif !== undefined) parts.push(`dev #${r.oif}`);
  if (r.table !== undefined) parts.push(`table ${r.table}`);
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
  return parts.join(' ');
}

/** Validates a RouteSpec into the numbers and bytes of a request (RoutingInputError naming `operation`). */
export function resolveRoute(operation: string, cmd: RouteCommand, r: RouteSpec): ResolvedRoute {
  if (!r || typeof r !== 'object') throw new RoutingInputError(operation, 'route spec missing');
  const gateway = r.gateway !== undefined ? requireIp(operation, 'gateway', r.gateway) : undefined;
  let dst: IpPrefix;
  if (r.dst === 'default') {
    const family = r.family ?? gateway?.family;
    if (family !== 4 && family !== 6) {
      throw new RoutingInputError(operation, "'default' needs family: 4 or 6 (or a gateway)");
    }
    dst = { family, bytes: new Uint8Array(family === 4 ? 4 : 16), prefixLength: 0 };
  } else {
    dst = requireNetwork(operation, 'destination', r.dst);
  }
  const family = dst.family;
  if (r.family !== undefined && r.family !== family) {
    throw new RoutingInputError(operation, `destination is IPv${family} but family is ${r.family}`);
  }
  if (gateway) requireFamilyMatch(operation, 'gateway', gateway, family);
  const prefsrc = r.prefsrc !== undefined ? requireIp(operation, 'prefsrc', r.prefsrc) : undefined;
  if (prefsrc) requireFamilyMatch(operation, 'prefsrc', prefsrc, family);
  // A delete without a type matches any type (RTN_UNSPEC), as `ip route del` sends.
  const type = r.type === undefined ? (cmd === 'delete' ? RTN_UNSPEC : RTN_UNICAST) : TYPE_BY_NAME[r.type];
  if (type === undefined) throw new RoutingInputError(operation, `unknown route type ${String(r.type)}`);
  const oif = r.oif !== undefined ? requireUint(operation, 'oif', r.oif, 0x7fffffff) : undefined;
  const table = r.table !== undefined ? requireUint(operation, 'table', r.table) : RT_TABLE_MAIN;
  if (table === RT_TABLE_UNSPEC) throw new RoutingInputError(operation, 'table 0 is not a table');
  const metric = r.metric !== undefined ? requireUint(operation, 'metric', r.metric) : undefined;
  const protocol =
    r.protocol !== undefined ? requireUint(operation, 'protocol', r.protocol, 255) : ZTUN_RT_PROTOCOL;
  let scope: number;
  if (r.scope === undefined) {
    // Like iproute2: IPv6 has no route scopes (always universe); an IPv4 delete matches any scope; local
    // routes are host-scoped; an IPv4 unicast route with no gateway is on-link.
    if (family === 6) scope = RT_SCOPE_UNIVERSE;
    else if (cmd === 'delete') scope = RT_SCOPE_NOWHERE;
    else if (type === RTN_LOCAL) scope = RT_SCOPE_HOST;
    else if (type === RTN_UNICAST && !gateway) scope = RT_SCOPE_LINK;
    else scope = RT_SCOPE_UNIVERSE;
  } else if (typeof r.scope === 'number') {
    scope = requireUint(operation, 'scope', r.scope, 255);
  } else {
    const s = SCOPE_BY_NAME[r.scope];
    if (s === undefined) throw new RoutingInputError(operation, `unknown scope ${String(r.scope)}`);
    scope = s;
  }
  if (cmd !== 'delete' && type === RTN_UNICAST && !gateway && oif === undefined) {
    throw new RoutingInputError(operation, 'a unicast route needs a gateway or an output interface (oif)');
  }
  return { family, dst, gateway, prefsrc, oif, table, metric, protocol, scope, type };
}

// struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; }
function rtmsg(af: number, dstLen: number, table: number, protocol: number, scope: number, type: number) {
  return new StructWriter(RTMSG_LEN)
    .u8(0, af)
    .u8(1, dstLen)
    .u8(4, table)
    .u8(5, protocol)
    .u8(6, scope)
    .u8(7, type).bytes;
}

const ROUTE_FLAGS: Record<RouteCommand, number> = {
  add: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
  replace: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
  delete: NLM_F_REQUEST | NLM_F_ACK,
};

/**
 * RTM_NEWROUTE / RTM_DELROUTE. Attribute order follows iproute2 for `ip route add DST via GW table T metric M dev D` so the
 * bytes compare equal to `ip route` captures. Tables above 255 go in RTA_TABLE with rtm_table = RT_TABLE_UNSPEC.
 */
export function buildRoute(cmd: RouteCommand, r: ResolvedRoute): MessageBuilder {
  const bigTable = r.table > 255;
  const m = new MessageBuilder(cmd === 'delete' ? RTM_DELROUTE : RTM_NEWROUTE, ROUTE_FLAGS[cmd]).struct(
    rtmsg(
      familyToAf(r.family),
      r.dst.prefixLength,
      bigTable ? RT_TABLE_UNSPEC : r.table,
      r.protocol,
      r.scope,
      r.type,
    ),
  );
  if (r.dst.prefixLength > 0) m.attr(RTA_DST, r.dst.bytes);
  if (r.prefsrc) m.attr(RTA_PREFSRC, r.prefsrc.bytes);
  if (r.gateway) m.attr(RTA_GATEWAY, r.gateway.bytes);
  if (bigTable) m.u32(RTA_TABLE, r.table);
  if (r.metric !== undefined) m.u32(RTA_PRIORITY, r.metric);
  if (r.oif !== undefined) m.u32(RTA_OIF, r.oif);
  return m;
}

export function buildListRoutes(family?: IpFamily): MessageBuilder {
  return new MessageBuilder(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP).struct(
    rtmsg(family ? familyToAf(family) : AF_UNSPEC, 0, 0, 0, 0, 0),
  );
}

/** Decodes one RTM_NEWROUTE from a dump; undefined for other families and for cached (cloned) entries. */
export function parseRoute(msg: NetlinkMessage): RouteInfo | undefined {
  if (msg.type !== RTM_NEWROUTE || msg.payload.length < RTMSG_LEN) return undefined;
  const p = msg.payload;
  const family = afToFamily(p[0]!);
  if (!family) return undefined;
  const flags = dataView(p).getUint32(8, HOST_LITTLE_ENDIAN);
  if (flags & RTM_F_CLONED) return undefined;
  const attrs = parseAttrs(p.subarray(RTMSG_LEN));
  const dstLength = p[1]!;
  const srcLength = p[2]!;
  const dstB = attrs.get(RTA_DST);
  const dstAddr = dstB ? formatIp(dstB) : family === 4 ? '0.0.0.0' : '::';
  const srcB = attrs.get(RTA_SRC);
  const gw = attrs.get(RTA_GATEWAY);
  const prefsrc = attrs.get(RTA_PREFSRC);
  const mp = attrs.get(RTA_MULTIPATH);
  const type = p[7]!;
  return {
    family,
    dst: `${dstAddr}/${dstLength}`,
    dstLength,
    src: srcB ? `${formatIp(srcB)}/${srcLength}` : undefined,
    gateway: gw ? formatIp(gw) : undefined,
    oif: attrU32(attrs.get(RTA_OIF)),
    iif: attrU32(attrs.get(RTA_IIF)),
    table: attrU32(attrs.get(RTA_TABLE)) ?? p[4]!,
    metric: attrU32(attrs.get(RTA_PRIORITY)),
    protocol: p[5]!,
    scope: p[6]!,
    type: TYPE_NAMES[type] ?? String(type),
    prefsrc: prefsrc ? formatIp(prefsrc) : undefined,
    flags,
    tos: p[3]!,
    nexthops: mp ? parseMultipath(mp) : undefined,
  };
}

// struct rtnexthop { u16 len; u8 flags; u8 hops; s32 ifindex; } followed by RTA_GATEWAY etc.
function parseMultipath(b: Uint8Array): NextHop[] {
  const v = dataView(b);
  const out: NextHop[] = [];
  let off = 0;
  while (off + 8 <= b.length) {
    const len = v.getUint16(off, HOST_LITTLE_ENDIAN);
    if (len < 8 || off + len > b.length) break;
    const attrs = parseNestedAttrs(b.subarray(off + 8, off + len));
    const gw = attrs.get(RTA_GATEWAY);
    out.push({
      gateway: gw ? formatIp(gw) : undefined,
      oif: v.getInt32(off + 4, HOST_LITTLE_ENDIAN),
      weight: b[off + 3]! + 1,
    });
    off += (len + 3) & ~3;
  }
  return out;
}
