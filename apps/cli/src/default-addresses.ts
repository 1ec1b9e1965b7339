import { existsSync, readFileSync } from 'node:fs';
import { type Cidr, parseCidr } from './cidr.js';

// The TUN's addresses when --address is not given. With --auto-route both families are captured by default
// (issue 15 item 4): an IPv4-only tunnel would let IPv6 go around it, a leak users do not see. The IPv6
// address is a ULA (RFC 4193, fd00::/8) beside 198.18.0.1/15 (RFC 2544's benchmarking block): traffic
// through the TUN goes to the proxy, or fails closed when the proxy cannot carry IPv6 — never around.

export const DEFAULT_ADDRESS = '198.18.0.1/15';
/** "zt" = 0x7a74 as the ULA's global ID part. */
export const DEFAULT_ADDRESS6 = 'fd7a:7a74::1/64';

/**
 * Whether this host can hold an IPv6 address: false when IPv6 is off (`disable_ipv6`, or the kernel has no
 * IPv6 at all). Where there is no /proc (not Linux) it is assumed on.
 */
export function ipv6Usable(procSysNet = '/proc/sys/net'): boolean {
  if (!existsSync(procSysNet)) return true;
  try {
    return readFileSync(`${procSysNet}/ipv6/conf/all/disable_ipv6`, 'utf8').trim() !== '1';
  } catch {
    return false; // no /proc/sys/net/ipv6: the kernel runs without IPv6
  }
}

/** The default addresses: IPv4, plus the ULA with --auto-route unless --no-ipv6 or the host has no IPv6. */
export function defaultAddresses(autoRoute: boolean, ipv6: boolean, usable = ipv6Usable): Cidr[] {
  const out = [parseCidr(DEFAULT_ADDRESS)];
  if (autoRoute && ipv6 && usable()) out.push(parseCidr(DEFAULT_ADDRESS6));
  return out;
}
