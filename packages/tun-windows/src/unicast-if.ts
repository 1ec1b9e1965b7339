/**
 * Keep ztun's own outbound sockets off the tunnel on Windows: IP_UNICAST_IF / IPV6_UNICAST_IF pin a socket's
 * sends to one interface (the counterpart of macOS IP_BOUND_IF, seed 004).
 * The IPv4 option takes the interface index in NETWORK byte order ("like an IP address with leading zeros",
 * MSDN, as wireguard-go conn/bind_windows.go bindSocketToInterface4 does); the IPv6 option takes it in host
 * byte order (bindSocketToInterface6). Both options are 31 (ws2ipdef.h).
 */
import type { IpFamily } from './address.js';
import { IP_UNICAST_IF, IPPROTO_IP, IPPROTO_IPV6, IPV6_UNICAST_IF } from './constants.js';
import { TunError } from './errors.js';

export interface UnicastInterfaceSockopt {
  level: number;
  option: number;
  /** The 4 bytes to pass as optval (optlen 4). */
  value: Uint8Array;
  /** The same value as a DWORD read on a little-endian host (what a setsockopt-int helper takes). */
  valueAsInt: number;
}

export function unicastInterfaceSockopt(family: IpFamily, interfaceIndex: number): UnicastInterfaceSockopt {
  if (!Number.isInteger(interfaceIndex) || interfaceIndex < 0 || interfaceIndex > 0xffffffff) {
    throw new TunError('INVALID_ARGUMENT', 'IP_UNICAST_IF', `${interfaceIndex} is not an interface index`);
  }
  const value = new Uint8Array(4);
  const view = new DataView(value.buffer);
  if (family === 4) {
    view.setUint32(0, interfaceIndex, false);
    return { level: IPPROTO_IP, option: IP_UNICAST_IF, value, valueAsInt: view.getUint32(0, true) };
  }
  view.setUint32(0, interfaceIndex, true);
  return { level: IPPROTO_IPV6, option: IPV6_UNICAST_IF, value, valueAsInt: interfaceIndex };
}
