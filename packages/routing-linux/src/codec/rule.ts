import { formatIp, type IpPrefix } from '../cidr.js';
import { RoutingInputError } from '../errors.js';
import { ZTUN_RT_PROTOCOL } from '../tags.js';
import type { IpFamily, RuleAction, RuleInfo, RuleSpec, UidRange } from '../types.js';
import { afToFamily, familyToAf, requireIfName, requireNetwork, requireUint } from './common.js';
import {
  AF_UNSPEC,
  FIB_RULE_HDR_LEN,
  FIB_RULE_INVERT,
  FR_ACT_BLACKHOLE,
  FR_ACT_GOTO,
  FR_ACT_NOP,
  FR_ACT_PROHIBIT,
  FR_ACT_TO_TBL,
  FR_ACT_UNREACHABLE,
  FR_ACT_UNSPEC,
  FRA_DST,
  FRA_FWMARK,
  FRA_FWMASK,
  FRA_GOTO,
  FRA_IIFNAME,
  FRA_OIFNAME,
  FRA_PRIORITY,
  FRA_PROTOCOL,
  FRA_SRC,
  FRA_SUPPRESS_PREFIXLEN,
  FRA_TABLE,
  FRA_UID_RANGE,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTM_DELRULE,
  RTM_GETRULE,
  RTM_NEWRULE,
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
  StructWriter,
} from './netlink.js';

const ACTION_BY_NAME: Record<RuleAction, number> = {
  lookup: FR_ACT_TO_TBL,
  unreachable: FR_ACT_UNREACHABLE,
  blackhole: FR_ACT_BLACKHOLE,
  prohibit: FR_ACT_PROHIBIT,
  goto: FR_ACT_GOTO,
  nop: FR_ACT_NOP,
};
const ACTION_NAMES = ['unspec', 'lookup', 'goto', 'nop', '4', '5', 'blackhole', 'unreachable', 'prohibit'];

export interface ResolvedRule {
  readonly family: IpFamily;
  readonly priority: number;
  readonly action: number;
  readonly table: number;
  readonly fwmark: number | undefined;
  readonly fwmask: number | undefined;
  readonly invert: boolean;
  readonly suppressPrefixLength: number | undefined;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  readonly src: IpPrefix | undefined;
  readonly dst: IpPrefix | undefined;
  readonly protocol: number;
  readonly uidRange: UidRange | undefined;
  readonly goto: number | undefined;
}

export function describeRule(cmd: 'add' | 'delete', r: RuleSpec): string {
  if (!r || typeof r !== 'object') return `rule ${cmd}`;
  const parts = [`rule ${cmd} -${r.family} priority ${r.priority}`];
  if (r.invert) parts.push('not');
  if (r.src) parts.push(`from ${r.src}`);
  if (r.dst) parts.push(`to ${r.dst}`);
  if (r.fwmark !== undefined)
    parts.push(
      `fwmark 0x${r.fwmark.toString(16)}${r.fwmask !== undefined ? `/0x${r.fwmask.toString(16)}` : ''}`,
    );
  if (r.iif) parts.push(`iif ${r.iif}`);
  if (r.oif) parts.push(`oif ${r.oif}`);
  if (r.uidRange) parts.push(`uidrange ${r.uidRange.start}-${r.uidRange.end}`);
  if (r.action === 'goto') parts.push(`goto ${r.goto}`);
  else if (r.action && r.action !== 'lookup') parts.push(r.action);
  else if (r.table !== undefined) parts.push(`lookup ${r.table}`);
  if (r.suppressPrefixLength !== undefined) parts.push(`suppress_prefixlength ${r.suppressPrefixLength}`);
  return parts.join(' ');
}

export function resolveRule(operation: string, cmd: 'add' | 'delete', r: RuleSpec): ResolvedRule {
  if (!r || typeof r !== 'object') throw new RoutingInputError(operation, 'rule spec missing');
  if (r.family !== 4 && r.family !== 6) throw new RoutingInputError(operation, 'family must be 4 or 6');
  const priority = requireUint(operation, 'priority', r.priority);
  const actionName = r.action ?? 'lookup';
  const known = ACTION_BY_NAME[actionName];
  if (known === undefined) throw new RoutingInputError(operation, `unknown action ${String(r.action)}`);
  // A delete without an action matches any action (FR_ACT_UNSPEC), as `ip rule del` sends.
  const action = cmd === 'delete' && r.action === undefined ? FR_ACT_UNSPEC : known;
  let table = RT_TABLE_UNSPEC;
  if (known === FR_ACT_TO_TBL) {
    table = r.table !== undefined ? requireUint(operation, 'table', r.table) : RT_TABLE_MAIN;
    if (table === RT_TABLE_UNSPEC) throw new RoutingInputError(operation, 'table 0 is not a table');
  } else if (r.table !== undefined) {
    throw new RoutingInputError(operation, `action ${actionName} takes no table`);
  }
  // goto jumps to the rule of that priority (later rules only; the kernel refuses a jump back with EINVAL).
  let goto: number | undefined;
  if (known === FR_ACT_GOTO) {
    goto = requireUint(operation, 'goto', r.goto);
    if (goto <= priority)
      throw new RoutingInputError(operation, `goto ${goto} is not after priority ${priority}`);
  } else if (r.goto !== undefined) {
    throw new RoutingInputError(operation, `goto needs action 'goto', not ${actionName}`);
  }
  const fwmark = r.fwmark !== undefined ? requireUint(operation, 'fwmark', r.fwmark) : undefined;
  const fwmask = r.fwmask !== undefined ? requireUint(operation, 'fwmask', r.fwmask) : undefined;
  if (fwmask !== undefined && fwmark === undefined)
    throw new RoutingInputError(operation, 'fwmask needs fwmark');
  const suppressPrefixLength =
    r.suppressPrefixLength !== undefined
      ? requireUint(operation, 'suppressPrefixLength', r.suppressPrefixLength, r.family === 4 ? 32 : 128)
      : undefined;
  const src = r.src !== undefined ? requireNetwork(operation, 'from', r.src) : undefined;
  const dst = r.dst !== undefined ? requireNetwork(operation, 'to', r.dst) : undefined;
  for (const [what, p] of [
    ['from', src],
    ['to', dst],
  ] as const) {
    if (p && p.family !== r.family) {
      throw new RoutingInputError(operation, `${what} is IPv${p.family} but the rule is IPv${r.family}`);
    }
  }
  let uidRange: UidRange | undefined;
  if (r.uidRange !== undefined) {
    // uid_t is 32 bits; (uid_t)-1 is "no user" (INVALID_UID), which the kernel refuses in a range.
    const start = requireUint(operation, 'uidrange start', r.uidRange?.start, 0xfffffffe);
    const end = requireUint(operation, 'uidrange end', r.uidRange?.end, 0xfffffffe);
    if (start > end) throw new RoutingInputError(operation, `uidrange ${start}-${end} ends before it starts`);
    uidRange = { start, end };
  }
  return {
    family: r.family,
    priority,
    action,
    table,
    fwmark,
    fwmask,
    invert: r.invert === true,
    suppressPrefixLength,
    iif: r.iif !== undefined ? requireIfName(operation, 'iif', r.iif) : undefined,
    oif: r.oif !== undefined ? requireIfName(operation, 'oif', r.oif) : undefined,
    src,
    dst,
    protocol:
      r.protocol !== undefined ? requireUint(operation, 'protocol', r.protocol, 255) : ZTUN_RT_PROTOCOL,
    uidRange,
    goto,
  };
}

// struct fib_rule_hdr { u8 family, dst_len, src_len, tos, table, res1, res2, action; u32 flags; }
function fibRuleHdr(
  af: number,
  dstLen: number,
  srcLen: number,
  table: number,
  action: number,
  flags: number,
) {
  return new StructWriter(FIB_RULE_HDR_LEN)
    .u8(0, af)
    .u8(1, dstLen)
    .u8(2, srcLen)
    .u8(4, table)
    .u8(7, action)
    .u32(8, flags).bytes;
}

/** RTM_NEWRULE (create, exclusive) / RTM_DELRULE. Tables above 255 travel in FRA_TABLE only. */
export function buildRule(cmd: 'add' | 'delete', r: ResolvedRule): MessageBuilder {
  const flags = NLM_F_REQUEST | NLM_F_ACK | (cmd === 'add' ? NLM_F_CREATE | NLM_F_EXCL : 0);
  const m = new MessageBuilder(cmd === 'add' ? RTM_NEWRULE : RTM_DELRULE, flags).struct(
    fibRuleHdr(
      familyToAf(r.family),
      r.dst?.prefixLength ?? 0,
      r.src?.prefixLength ?? 0,
      r.table > 255 ? RT_TABLE_UNSPEC : r.table,
      r.action,
      r.invert ? FIB_RULE_INVERT : 0,
    ),
  );
  m.u32(FRA_PRIORITY, r.priority);
  if (r.src) m.attr(FRA_SRC, r.src.bytes);
  if (r.dst) m.attr(FRA_DST, r.dst.bytes);
  if (r.fwmark !== undefined) m.u32(FRA_FWMARK, r.fwmark);
  if (r.fwmask !== undefined) m.u32(FRA_FWMASK, r.fwmask);
  if (r.uidRange) m.attr(FRA_UID_RANGE, uidRangeBytes(r.uidRange));
  if (r.iif !== undefined) m.string(FRA_IIFNAME, r.iif);
  if (r.oif !== undefined) m.string(FRA_OIFNAME, r.oif);
  if (r.goto !== undefined) m.u32(FRA_GOTO, r.goto);
  if (r.table > 255) m.u32(FRA_TABLE, r.table);
  if (r.suppressPrefixLength !== undefined) m.u32(FRA_SUPPRESS_PREFIXLEN, r.suppressPrefixLength);
  m.u8(FRA_PROTOCOL, r.protocol);
  return m;
}

// struct fib_rule_uid_range { __u32 start; __u32 end; }: host order like every netlink integer.
function uidRangeBytes(u: UidRange): Uint8Array {
  return new StructWriter(8).u32(0, u.start).u32(4, u.end).bytes;
}

export function buildListRules(family?: IpFamily): MessageBuilder {
  return new MessageBuilder(RTM_GETRULE, NLM_F_REQUEST | NLM_F_DUMP).struct(
    fibRuleHdr(family ? familyToAf(family) : AF_UNSPEC, 0, 0, 0, 0, 0),
  );
}

export function parseRule(msg: NetlinkMessage): RuleInfo | undefined {
  if (msg.type !== RTM_NEWRULE || msg.payload.length < FIB_RULE_HDR_LEN) return undefined;
  const p = msg.payload;
  const family = afToFamily(p[0]!);
  if (!family) return undefined;
  const flags = dataView(p).getUint32(8, HOST_LITTLE_ENDIAN);
  const attrs = parseAttrs(p.subarray(FIB_RULE_HDR_LEN));
  const src = attrs.get(FRA_SRC);
  const dst = attrs.get(FRA_DST);
  const suppress = attrU32(attrs.get(FRA_SUPPRESS_PREFIXLEN));
  const action = p[7]!;
  const uid = attrs.get(FRA_UID_RANGE);
  const uidView = uid && uid.length >= 8 ? dataView(uid) : undefined;
  return {
    family,
    priority: attrU32(attrs.get(FRA_PRIORITY)) ?? 0,
    table: attrU32(attrs.get(FRA_TABLE)) ?? p[4]!,
    action: ACTION_NAMES[action] ?? String(action),
    fwmark: attrU32(attrs.get(FRA_FWMARK)),
    fwmask: attrU32(attrs.get(FRA_FWMASK)),
    invert: (flags & FIB_RULE_INVERT) !== 0,
    // The kernel reports "unset" as -1.
    suppressPrefixLength: suppress === undefined || suppress === 0xffffffff ? undefined : suppress,
    iif: attrString(attrs.get(FRA_IIFNAME)),
    oif: attrString(attrs.get(FRA_OIFNAME)),
    src: src ? `${formatIp(src)}/${p[2]}` : undefined,
    dst: dst ? `${formatIp(dst)}/${p[1]}` : undefined,
    protocol: attrU8(attrs.get(FRA_PROTOCOL)),
    uidRange: uidView
      ? {
          start: uidView.getUint32(0, HOST_LITTLE_ENDIAN),
          end: uidView.getUint32(4, HOST_LITTLE_ENDIAN),
        }
      : undefined,
    goto: attrU32(attrs.get(FRA_GOTO)),
    flags,
  };
}
