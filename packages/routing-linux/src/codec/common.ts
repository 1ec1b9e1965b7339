import { type IpAddress, type IpPrefix, isNetworkAddress, parseCidr, parseIp } from '../cidr.js';
import { RoutingInputError } from '../errors.js';
import type { IpFamily } from '../types.js';
import { AF_INET, AF_INET6 } from './constants.js';

export const familyToAf = (f: IpFamily): number => (f === 4 ? AF_INET : AF_INET6);

export function afToFamily(af: number): IpFamily | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

export function requireCidr(operation: string, what: string, text: unknown): IpPrefix {
  const p = typeof text === 'string' ? parseCidr(text.trim()) : undefined;
  if (!p) throw new RoutingInputError(operation, `${what} ${JSON.stringify(text)} is not a valid CIDR`);
  return p;
}

/** A prefix whose host bits must be zero (route and rule destinations). */
export function requireNetwork(operation: string, what: string, text: unknown): IpPrefix {
  const p = requireCidr(operation, what, text);
  if (!isNetworkAddress(p)) {
    throw new RoutingInputError(
      operation,
      `${what} ${String(text)} has host bits set beyond /${p.prefixLength}`,
    );
  }
  return p;
}

export function requireIp(operation: string, what: string, text: unknown): IpAddress {
  const a = typeof text === 'string' ? parseIp(text.trim()) : undefined;
  if (!a) throw new RoutingInputError(operation, `${what} ${JSON.stringify(text)} is not a valid IP address`);
  return a;
}

export function requireUint(operation: string, what: string, v: unknown, max = 0xffffffff): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new RoutingInputError(operation, `${what} ${String(v)} is not an integer in 0..${max}`);
  }
  return v;
}

export function requireFamilyMatch(operation: string, what: string, a: IpAddress, family: IpFamily): void {
  if (a.family !== family) {
    throw new RoutingInputError(operation, `${what} is IPv${a.family} but the request is IPv${family}`);
  }
}

/** Interface names: 1..15 bytes (IFNAMSIZ 16 with the NUL), no '/', whitespace or ':'. */
export function requireIfName(operation: string, what: string, name: unknown): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    new TextEncoder().encode(name).length > 15 ||
    /[/\s:]/.test(name)
  ) {
    throw new RoutingInputError(operation, `${what} ${JSON.stringify(name)} is not a valid interface name`);
  }
  return name;
}
