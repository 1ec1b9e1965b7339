import { RoutingInputError } from '../errors.js';
import type { LinkChange, LinkInfo, LinkStats } from '../types.js';
import { requireIfName, requireUint } from './common.js';
import {
  AF_UNSPEC,
  IFF_LOWER_UP,
  IFF_POINTOPOINT,
  IFF_UP,
  IFINFOMSG_LEN,
  IFLA_ADDRESS,
  IFLA_EXT_MASK,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MTU,
  IFLA_OPERSTATE,
  IFLA_STATS64,
  IFLA_TXQLEN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  RTEXT_FILTER_SKIP_STATS,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
} from './constants.js';
import {
  attrString,
  attrU8,
  attrU32,
  dataView,
  HOST_LITTLE_ENDIAN,
  MessageBuilder,
  type NetlinkMessage,
  parseAttrs,
  parseNestedAttrs,
  StructWriter,
} from './netlink.js';

// struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; }
function ifinfomsg(index: number, flags = 0, change = 0): Uint8Array {
  return new StructWriter(IFINFOMSG_LEN).u8(0, AF_UNSPEC).i32(4, index).u32(8, flags).u32(12, change).bytes;
}

/** RTM_GETLINK for one link, by name (IFLA_IFNAME) or by index; `withStats` keeps IFLA_STATS64 in the answer. */
export function buildGetLink(nameOrIndex: string | number, withStats = false): MessageBuilder {
  const op = `link get ${nameOrIndex}`;
  const m = new MessageBuilder(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
  if (typeof nameOrIndex === 'number') {
    m.struct(ifinfomsg(requireUint(op, 'index', nameOrIndex, 0x7fffffff)));
  } else {
    m.struct(ifinfomsg(0)).string(IFLA_IFNAME, requireIfName(op, 'name', nameOrIndex));
  }
  return m.u32(IFLA_EXT_MASK, withStats ? 0 : RTEXT_FILTER_SKIP_STATS);
}

export function buildListLinks(): MessageBuilder {
  return new MessageBuilder(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP)
    .struct(ifinfomsg(0))
    .u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
}

/**
 * RTM_NEWLINK on an existing link (what `ip link set` sends): IFF_UP via flags/change, MTU via IFLA_MTU,
 * the transmit queue length via IFLA_TXQLEN.
 */
export function buildSetLink(index: number, change: LinkChange): MessageBuilder {
  const op = `link set ${index}`;
  requireUint(op, 'index', index, 0x7fffffff);
  if (change.up === undefined && change.mtu === undefined && change.txQueueLen === undefined) {
    throw new RoutingInputError(op, 'nothing to change (give up, mtu and/or txQueueLen)');
  }
  const flags = change.up ? IFF_UP : 0;
  const mask = change.up === undefined ? 0 : IFF_UP;
  const m = new MessageBuilder(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK).struct(ifinfomsg(index, flags, mask));
  if (change.mtu !== undefined) m.u32(IFLA_MTU, requireUint(op, 'mtu', change.mtu, 0x7fffffff));
  if (change.txQueueLen !== undefined)
    m.u32(IFLA_TXQLEN, requireUint(op, 'txQueueLen', change.txQueueLen, 0xffffffff));
  return m;
}

/** RTM_DELLINK by index (what `ip link del` sends). A TUN disappears this way even while an fd holds it. */
export function buildDeleteLink(index: number): MessageBuilder {
  const op = `link delete #${index}`;
  requireUint(op, 'index', index, 0x7fffffff);
  if (index === 0) throw new RoutingInputError(op, 'index 0 is not an interface');
  return new MessageBuilder(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK).struct(ifinfomsg(index));
}

const OPER_STATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

export function parseLink(msg: NetlinkMessage): LinkInfo | undefined {
  if (msg.type !== RTM_NEWLINK || msg.payload.length < IFINFOMSG_LEN) return undefined;
  const v = dataView(msg.payload);
  const hardwareType = v.getUint16(2, HOST_LITTLE_ENDIAN);
  const index = v.getInt32(4, HOST_LITTLE_ENDIAN);
  const flags = v.getUint32(8, HOST_LITTLE_ENDIAN);
  const attrs = parseAttrs(msg.payload.subarray(IFINFOMSG_LEN));
  const linkinfo = attrs.get(IFLA_LINKINFO);
  const kind = linkinfo ? attrString(parseNestedAttrs(linkinfo).get(IFLA_INFO_KIND)) : undefined;
  const mac = attrs.get(IFLA_ADDRESS);
  const oper = attrU8(attrs.get(IFLA_OPERSTATE)) ?? 0;
  return {
    index,
    name: attrString(attrs.get(IFLA_IFNAME)) ?? '',
    mtu: attrU32(attrs.get(IFLA_MTU)) ?? 0,
    flags,
    up: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    pointToPoint: (flags & IFF_POINTOPOINT) !== 0,
    operState: OPER_STATES[oper] ?? String(oper),
    hardwareType,
    kind,
    mac: mac?.length ? [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':') : undefined,
  };
}

/** IFLA_STATS64 of an RTM_NEWLINK answer (u64 counters in host order), or undefined when it has none. */
export function parseLinkStats(msg: NetlinkMessage): LinkStats | undefined {
  if (msg.type !== RTM_NEWLINK || msg.payload.length < IFINFOMSG_LEN) return undefined;
  const a = parseAttrs(msg.payload.subarray(IFINFOMSG_LEN)).get(IFLA_STATS64);
  if (!a || a.length < 64) return undefined;
  const v = dataView(a);
  const u64 = (i: number) => Number(v.getBigUint64(i * 8, HOST_LITTLE_ENDIAN));
  return {
    rxPackets: u64(0),
    txPackets: u64(1),
    rxBytes: u64(2),
    txBytes: u64(3),
    rxErrors: u64(4),
    txErrors: u64(5),
    rxDropped: u64(6),
    txDropped: u64(7),
  };
}
