import {
  RT_MSGHDR_OFFSETS as H,
  RT_METRICS_OFFSETS as M,
  RTAX_GENMASK,
  RTAX_MAX,
  RTAX_NETMASK,
  RTM_ADD,
  RTM_GET2,
  RTM_RESOLVE,
  RTM_VERSION,
  SIZEOF_RT_MSGHDR,
} from './constants.js';
import { RouteInputError, RouteMessageError } from './errors.js';
import type { IpFamily } from './ip.js';
import { decodeSockaddr, encodeSockaddr, type RouteSockaddr, roundup32, sockaddrLength } from './sockaddr.js';

/** struct rt_metrics (56 bytes). `filler` is rmx_filler[4] (rmx_state + filler[3] in older headers). */
export interface RouteMetrics {
  locks: number;
  mtu: number;
  hopcount: number;
  expire: number;
  recvpipe: number;
  sendpipe: number;
  ssthresh: number;
  rtt: number;
  rttvar: number;
  pksent: number;
  filler: [number, number, number, number];
}

/** The sockaddrs of a message, by RTAX slot; present ones set the matching RTA_* bit in rtm_addrs. */
export interface RouteAddresses {
  dst?: RouteSockaddr;
  gateway?: RouteSockaddr;
  netmask?: RouteSockaddr;
  genmask?: RouteSockaddr;
  ifp?: RouteSockaddr;
  ifa?: RouteSockaddr;
  author?: RouteSockaddr;
  brd?: RouteSockaddr;
}

const SLOT_NAMES = ['dst', 'gateway', 'netmask', 'genmask', 'ifp', 'ifa', 'author', 'brd'] as const;

/** A decoded struct rt_msghdr (RTM_ADD … RTM_RESOLVE) with its sockaddrs. */
export interface RouteMessage {
  type: number;
  version: number;
  /** rtm_index: the interface; the scope when RTF_IFSCOPE is set. */
  index: number;
  flags: number;
  /** The rtm_addrs bitmask as found (decode) — encoders compute it from `addresses`. */
  addrs: number;
  pid: number;
  seq: number;
  /** rtm_errno, at offset 24. */
  errno: number;
  use: number;
  inits: number;
  metrics: RouteMetrics;
  addresses: RouteAddresses;
}

/** struct rt_msghdr2 (RTM_GET2, NET_RT_DUMP2): refcnt/parentflags/reserved replace pid/seq/errno. */
export interface RouteMessage2 extends Omit<RouteMessage, 'pid' | 'seq' | 'errno'> {
  refcnt: number;
  parentflags: number;
  reserved: number;
}

/** Fields to encode; everything but `type` defaults to zero (version to RTM_VERSION). */
export interface RouteMessageInit {
  type: number;
  version?: number;
  index?: number;
  flags?: number;
  pid?: number;
  seq?: number;
  errno?: number;
  use?: number;
  inits?: number;
  metrics?: Partial<RouteMetrics>;
  addresses?: RouteAddresses;
}

export interface EncodeOptions {
  /**
   * Zero bytes appended and counted in rtm_msglen. golang/net (and so netbird, sing-tun) add 1024 on
   * darwin so a reply larger than the request cannot crash old kernels (golang/go#22456). Default 0.
   */
  padding?: number;
}

export type RoutingMessage =
  | { kind: 'route'; message: RouteMessage }
  | { kind: 'route2'; message: RouteMessage2 }
  /** Interface/address messages (if_msghdr, ifa_msghdr…) — not decoded, only identified. */
  | { kind: 'other'; type: number; version: number; length: number };

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: RouteMessageError };

const METRIC_NAMES = [
  'locks',
  'mtu',
  'hopcount',
  'expire',
  'recvpipe',
  'sendpipe',
  'ssthresh',
  'rtt',
  'rttvar',
  'pksent',
] as const;

export function zeroMetrics(): RouteMetrics {
  return {
    locks: 0,
    mtu: 0,
    hopcount: 0,
    expire: 0,
    recvpipe: 0,
    sendpipe: 0,
    ssthresh: 0,
    rtt: 0,
    rttvar: 0,
    pksent: 0,
    filler: [0, 0, 0, 0],
  };
}

function checkInt(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RouteInputError(`${what} out of range: ${value}`);
  }
  return value;
}

/** The rtm_addrs bitmask for a set of addresses. */
export function addrsBitmask(addresses: RouteAddresses): number {
  let bits = 0;
  SLOT_NAMES.forEach((name, i) => {
    if (addresses[name] !== undefined) bits |= 1 << i;
  });
  return bits;
}

/**
 * Encodes a struct rt_msghdr followed by its sockaddrs in RTAX order, each padded to 4 bytes.
 * Throws RouteInputError on out-of-range fields or unparsable addresses.
 */
export function encodeRouteMessage(init: RouteMessageInit, options: EncodeOptions = {}): Uint8Array {
  const addresses = init.addresses ?? {};
  const padding = checkInt(options.padding ?? 0, 0, 0xffff, 'padding');
  let length = SIZEOF_RT_MSGHDR;
  for (const name of SLOT_NAMES) {
    const sa = addresses[name];
    if (sa) length += roundup32(sockaddrLength(sa));
  }
  length += padding;
  if (length > 0xffff) throw new RouteInputError(`message too long: ${length} bytes`);

  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint16(H.rtm_msglen, length, true);
  out[H.rtm_version] = checkInt(init.version ?? RTM_VERSION, 0, 0xff, 'version');
  out[H.rtm_type] = checkInt(init.type, 0, 0xff, 'type');
  view.setUint16(H.rtm_index, checkInt(init.index ?? 0, 0, 0xffff, 'rtm_index'), true);
  view.setUint32(H.rtm_flags, checkInt(init.flags ?? 0, -0x80000000, 0xffffffff, 'flags') >>> 0, true);
  view.setUint32(H.rtm_addrs, addrsBitmask(addresses), true);
  view.setInt32(H.rtm_pid, checkInt(init.pid ?? 0, -0x80000000, 0x7fffffff, 'pid'), true);
  view.setInt32(H.rtm_seq, checkInt(init.seq ?? 0, -0x80000000, 0x7fffffff, 'seq'), true);
  view.setInt32(H.rtm_errno, checkInt(init.errno ?? 0, -0x80000000, 0x7fffffff, 'errno'), true);
  view.setInt32(H.rtm_use, checkInt(init.use ?? 0, -0x80000000, 0x7fffffff, 'use'), true);
  view.setUint32(H.rtm_inits, checkInt(init.inits ?? 0, 0, 0xffffffff, 'inits'), true);
  const metrics = { ...zeroMetrics(), ...init.metrics };
  METRIC_NAMES.forEach((name, i) => {
    const at = H.rtm_rmx + i * 4;
    if (name === 'expire')
      view.setInt32(at, checkInt(metrics.expire, -0x80000000, 0x7fffffff, 'rmx_expire'), true);
    else view.setUint32(at, checkInt(metrics[name], 0, 0xffffffff, `rmx_${name}`), true);
  });
  metrics.filler.forEach((v, i) => {
    view.setUint32(H.rtm_rmx + M.rmx_filler + i * 4, checkInt(v, 0, 0xffffffff, 'rmx_filler'), true);
  });

  let offset = SIZEOF_RT_MSGHDR;
  for (const name of SLOT_NAMES) {
    const sa = addresses[name];
    if (sa) offset += encodeSockaddr(sa, out, offset);
  }
  return out;
}

function fail<T>(code: RouteMessageError['code'], message: string, offset: number): DecodeResult<T> {
  return { ok: false, error: new RouteMessageError(code, message, offset) };
}

/** rt_msghdr message types (rtm_version 5); everything else on a route socket has another header. */
export function isRtMsghdrType(type: number): boolean {
  return type >= RTM_ADD && type <= RTM_RESOLVE;
}

/**
 * Decodes one routing-socket message at `offset` of `buf` (a read() result or one entry of a dump).
 * Never throws: malformed input gives a RouteMessageError with a code.
 */
export function decodeRoutingMessage(
  buf: Uint8Array,
  offset = 0,
  end = buf.length,
): DecodeResult<RoutingMessage> {
  end = Math.min(end, buf.length);
  if (!Number.isInteger(offset) || offset < 0) return fail('TRUNCATED', `bad offset ${offset}`, 0);
  const available = end - offset;
  if (available < 4) return fail('TRUNCATED', `${available} bytes: shorter than a message header`, offset);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = view.getUint16(offset + H.rtm_msglen, true);
  const version = buf[offset + H.rtm_version]!;
  const type = buf[offset + H.rtm_type]!;
  if (length < 4) return fail('BAD_LENGTH', `rtm_msglen ${length} is smaller than a header`, offset);
  if (length > available) {
    return fail('BAD_LENGTH', `rtm_msglen ${length} runs past the ${available} bytes received`, offset);
  }
  if (version !== RTM_VERSION) {
    return fail('BAD_VERSION', `rtm_version ${version}, expected ${RTM_VERSION}`, offset + H.rtm_version);
  }
  if (!isRtMsghdrType(type) && type !== RTM_GET2) {
    return { ok: true, value: { kind: 'other', type, version, length } };
  }
  if (length < SIZEOF_RT_MSGHDR) {
    return fail('TRUNCATED', `rtm_msglen ${length} is shorter than rt_msghdr (${SIZEOF_RT_MSGHDR})`, offset);
  }
  const u32 = (at: number) => view.getUint32(offset + at, true);
  const i32 = (at: number) => view.getInt32(offset + at, true);
  const metrics = zeroMetrics();
  METRIC_NAMES.forEach((name, i) => {
    const at = H.rtm_rmx + i * 4;
    metrics[name] = name === 'expire' ? i32(at) : u32(at);
  });
  for (let i = 0; i < 4; i++) metrics.filler[i] = u32(H.rtm_rmx + M.rmx_filler + i * 4);

  const addrs = u32(H.rtm_addrs);
  const addresses: RouteAddresses = {};
  const messageEnd = offset + length;
  let cursor = offset + SIZEOF_RT_MSGHDR;
  let dstFamily: IpFamily = 'inet';
  for (let slot = 0; slot < RTAX_MAX; slot++) {
    if ((addrs & (1 << slot)) === 0) continue;
    const isMask = slot === RTAX_NETMASK || slot === RTAX_GENMASK;
    const decoded = decodeSockaddr(buf, cursor, messageEnd, isMask ? dstFamily : undefined);
    if (!decoded.ok) return decoded;
    const name = SLOT_NAMES[slot]!;
    addresses[name] = decoded.value;
    if (slot === 0 && (decoded.value.family === 'inet' || decoded.value.family === 'inet6')) {
      dstFamily = decoded.value.family;
    }
    cursor = decoded.next;
  }
  const common = {
    type,
    version,
    index: view.getUint16(offset + H.rtm_index, true),
    flags: u32(H.rtm_flags),
    addrs,
    use: i32(H.rtm_use),
    inits: u32(H.rtm_inits),
    metrics,
    addresses,
  };
  if (type === RTM_GET2) {
    return {
      ok: true,
      value: {
        kind: 'route2',
        message: { ...common, refcnt: i32(16), parentflags: i32(20), reserved: i32(24) },
      },
    };
  }
  return {
    ok: true,
    value: {
      kind: 'route',
      message: { ...common, pid: i32(H.rtm_pid), seq: i32(H.rtm_seq), errno: i32(H.rtm_errno) },
    },
  };
}

/** Decodes one rt_msghdr message; any other kind is an error. */
export function decodeRouteMessage(
  buf: Uint8Array,
  offset = 0,
  end = buf.length,
): DecodeResult<RouteMessage> {
  const decoded = decodeRoutingMessage(buf, offset, end);
  if (!decoded.ok) return decoded;
  if (decoded.value.kind !== 'route') {
    const type = decoded.value.kind === 'other' ? decoded.value.type : RTM_GET2;
    return fail('UNEXPECTED_TYPE', `message type ${type} is not an rt_msghdr message`, offset + H.rtm_type);
  }
  return { ok: true, value: decoded.value.message };
}

/**
 * Decodes a sysctl(NET_RT_DUMP / NET_RT_DUMP2 / NET_RT_FLAGS) buffer: messages back to back, each
 * rtm_msglen long. Stops at the first malformed entry and returns its error.
 */
export function decodeRouteDump(buf: Uint8Array): DecodeResult<RoutingMessage[]> {
  const messages: RoutingMessage[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const decoded = decodeRoutingMessage(buf, offset);
    if (!decoded.ok) return decoded;
    messages.push(decoded.value);
    const value = decoded.value;
    offset += value.kind === 'other' ? value.length : buf[offset]! | (buf[offset + 1]! << 8);
  }
  return { ok: true, value: messages };
}
