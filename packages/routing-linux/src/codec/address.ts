import { formatIp, type IpAddress, type IpPrefix } from '../cidr.js';
import { RoutingInputError } from '../errors.js';
import type { AddressInfo, AddressSpec, IpFamily } from '../types.js';
import { afToFamily, familyToAf, requireCidr, requireFamilyMatch, requireUint } from './common.js';
import {
  AF_UNSPEC,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_F_NODAD,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  IFADDRMSG_LEN,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  RT_SCOPE_HOST,
  RT_SCOPE_UNIVERSE,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
} from './constants.js';
import {
  attrString,
  attrU32,
  dataView,
  HOST_LITTLE_ENDIAN,
  MessageBuilder,
  type NetlinkMessage,
  parseAttrs,
  StructWriter,
} from './netlink.js';

export interface ResolvedAddress {
  readonly index: number;
  readonly local: IpPrefix;
  readonly peer: IpAddress | undefined;
  readonly prefixLength: number;
  readonly flags: number;
}

export function describeAddress(cmd: 'add' | 'delete', a: AddressSpec): string {
  return `address ${cmd} ${a?.cidr}${a?.peer ? ` peer ${a.peer}` : ''} dev #${a?.index}`;
}

/** Validates an AddressSpec (typed RoutingInputError naming `operation` when it is not usable). */
export function resolveAddress(operation: string, a: AddressSpec): ResolvedAddress {
  if (!a || typeof a !== 'object') throw new RoutingInputError(operation, 'address spec missing');
  const index = requireUint(operation, 'index', a.index, 0x7fffffff);
  if (index === 0) throw new RoutingInputError(operation, 'index 0 is not an interface');
  const local = requireCidr(operation, 'address', a.cidr);
  let peer: IpAddress | undefined;
  let prefixLength = local.prefixLength;
  if (a.peer !== undefined) {
    const p = requireCidr(operation, 'peer', a.peer);
    requireFamilyMatch(operation, 'peer', p, local.family);
    peer = p;
    if (a.peer.includes('/')) prefixLength = p.prefixLength;
  }
  const nodad = a.nodad ?? local.family === 6;
  return { index, local, peer, prefixLength, flags: nodad && local.family === 6 ? IFA_F_NODAD : 0 };
}

// struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; }
function ifaddrmsg(af: number, prefixLength: number, flags: number, scope: number, index: number) {
  return new StructWriter(IFADDRMSG_LEN).u8(0, af).u8(1, prefixLength).u8(2, flags).u8(3, scope).u32(4, index)
    .bytes;
}

/**
 * RTM_NEWADDR (create, exclusive) or RTM_DELADDR. Like iproute2: IFA_LOCAL is our address and IFA_ADDRESS the
 * peer (or our address again when there is no peer); IFA_FLAGS only for flags beyond the 8-bit header field.
 */
export function buildAddress(cmd: 'add' | 'delete', r: ResolvedAddress): MessageBuilder {
  const type = cmd === 'add' ? RTM_NEWADDR : RTM_DELADDR;
  const flags = NLM_F_REQUEST | NLM_F_ACK | (cmd === 'add' ? NLM_F_CREATE | NLM_F_EXCL : 0);
  const loopback = r.local.family === 4 && r.local.bytes[0] === 127;
  const m = new MessageBuilder(type, flags)
    .struct(
      ifaddrmsg(
        familyToAf(r.local.family),
        r.prefixLength,
        r.flags & 0xff,
        loopback ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE,
        r.index,
      ),
    )
    .attr(IFA_LOCAL, r.local.bytes)
    .attr(IFA_ADDRESS, (r.peer ?? r.local).bytes);
  if (r.flags > 0xff) m.u32(IFA_FLAGS, r.flags);
  return m;
}

export function buildListAddresses(family?: IpFamily): MessageBuilder {
  return new MessageBuilder(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP).struct(
    ifaddrmsg(family ? familyToAf(family) : AF_UNSPEC, 0, 0, 0, 0),
  );
}

export function parseAddress(msg: NetlinkMessage): AddressInfo | undefined {
  if (msg.type !== RTM_NEWADDR || msg.payload.length < IFADDRMSG_LEN) return undefined;
  const p = msg.payload;
  const family = afToFamily(p[0]!);
  if (!family) return undefined;
  const prefixLength = p[1]!;
  const v = dataView(p);
  const index = v.getUint32(4, HOST_LITTLE_ENDIAN);
  const attrs = parseAttrs(p.subarray(IFADDRMSG_LEN));
  const localB = attrs.get(IFA_LOCAL);
  const addrB = attrs.get(IFA_ADDRESS);
  const own = localB ?? addrB;
  if (!own) return undefined;
  const address = formatIp(own);
  const peerB = localB && addrB && !bytesEqual(localB, addrB) ? addrB : undefined;
  const brd = attrs.get(IFA_BROADCAST);
  return {
    family,
    index,
    address,
    prefixLength,
    cidr: `${address}/${prefixLength}`,
    peer: peerB ? formatIp(peerB) : undefined,
    broadcast: brd ? formatIp(brd) : undefined,
    label: attrString(attrs.get(IFA_LABEL)),
    flags: attrU32(attrs.get(IFA_FLAGS)) ?? p[2]!,
    scope: p[3]!,
  };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
