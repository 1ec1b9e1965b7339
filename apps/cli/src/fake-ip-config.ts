import { addressBytes, type Cidr, cidrContains, formatAddress, formatCidr, networkOf } from './cidr.js';

// The fake-IP ranges of `--dns fake-ip`: one per family, each inside a TUN prefix (so the kernel routes it
// into the TUN with no route of its own) and clear of the TUN's own and NAT addresses. Default: the upper
// half of each TUN prefix — 198.19.0.0/16 for the default 198.18.0.1/15 (RFC 2544's benchmarking block,
// never on the Internet), whose lower end holds the TUN (.1) and NAT (.2) addresses.

export class FakeIpRangeError extends Error {
  override readonly name = 'FakeIpRangeError';
}

/** The address after `a` (the stack's NAT address is the TUN address + 1). */
function nextAddress(a: string): string {
  const b = addressBytes(a).slice();
  for (let i = b.length - 1; i >= 0; i--) {
    b[i] = (b[i]! + 1) & 0xff;
    if (b[i] !== 0) break;
  }
  return formatAddress(b);
}

/** The upper half of `prefix`, or undefined when it is too small to split usefully. */
function upperHalf(prefix: Cidr): Cidr | undefined {
  const bits = prefix.family === 4 ? 32 : 128;
  if (prefix.prefixLength > bits - 4) return undefined;
  const net = networkOf(prefix);
  const b = addressBytes(net.address).slice();
  const bit = prefix.prefixLength; // the first host bit
  b[bit >> 3]! |= 0x80 >> (bit & 7);
  return { family: prefix.family, address: formatAddress(b), prefixLength: prefix.prefixLength + 1 };
}

/**
 * The ranges for `addresses` (the TUN's): `given` (at most one per family, each checked), else the upper half
 * of the TUN prefix of each family. Throws FakeIpRangeError with the reason.
 */
export function fakeIpRanges(addresses: readonly Cidr[], given: readonly Cidr[] | undefined): Cidr[] {
  const out: Cidr[] = [];
  if (given) {
    for (const r of given) {
      if (out.some((o) => o.family === r.family))
        throw new FakeIpRangeError(`more than one IPv${r.family} range`);
      const range = networkOf(r);
      const home = addresses.find((a) => a.family === r.family && containsPrefix(a, range));
      if (!home)
        throw new FakeIpRangeError(
          `'${formatCidr(r)}' is not inside a TUN --address prefix (it must be routed into the TUN)`,
        );
      for (const own of [home.address, nextAddress(home.address)]) {
        if (cidrContains(range, own))
          throw new FakeIpRangeError(`'${formatCidr(r)}' holds the tunnel's own address ${own}`);
      }
      if (range.prefixLength > (r.family === 4 ? 30 : 126))
        throw new FakeIpRangeError(`'${formatCidr(r)}' is too small`);
      out.push(range);
    }
    return out;
  }
  for (const a of addresses) {
    if (out.some((o) => o.family === a.family)) continue;
    const half = upperHalf(a);
    if (half && !cidrContains(half, a.address) && !cidrContains(half, nextAddress(a.address))) out.push(half);
  }
  return out;
}

/** `inner` lies wholly inside `outer`. */
function containsPrefix(outer: Cidr, inner: Cidr): boolean {
  return inner.prefixLength >= outer.prefixLength && cidrContains(outer, inner.address);
}
