import { IP_BOUND_IF, IPPROTO_IP, IPPROTO_IPV6, IPV6_BOUND_IF } from './constants.js';
import { RouteInputError } from './errors.js';
import type { IpFamily } from './ip.js';

/** The arguments of setsockopt(fd, level, option, &value, 4) that pin a socket to one interface. */
export interface BoundInterfaceOption {
  level: number;
  option: number;
  /** A C int in host byte order (little-endian on every macOS architecture). */
  value: Uint8Array;
}

/**
 * IP_BOUND_IF for AF_INET sockets, IPV6_BOUND_IF for AF_INET6 sockets (which also covers v4-mapped
 * traffic; IP_BOUND_IF on an AF_INET6 socket is EINVAL — netbird client/net/net_darwin.go). Seed 004:
 * ztun's own outbound sockets take this so they leave through the physical egress while the tunnel owns
 * the unscoped default. Index 0 removes the binding.
 */
export function boundInterfaceSocketOption(
  socketFamily: IpFamily,
  interfaceIndex: number,
): BoundInterfaceOption {
  if (!Number.isInteger(interfaceIndex) || interfaceIndex < 0 || interfaceIndex > 0x7fffffff) {
    throw new RouteInputError(`bad interface index: ${interfaceIndex}`);
  }
  const value = new Uint8Array(4);
  new DataView(value.buffer).setInt32(0, interfaceIndex, true);
  return socketFamily === 'inet'
    ? { level: IPPROTO_IP, option: IP_BOUND_IF, value }
    : { level: IPPROTO_IPV6, option: IPV6_BOUND_IF, value };
}
