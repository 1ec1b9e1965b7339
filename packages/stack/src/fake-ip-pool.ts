import { formatIp, parseIp } from './wire.js';

// The fake-IP pool (issue 15 item 3): each name asked for gets an address from a range routed into the TUN,
// so a later connection to that address can be sent to the proxy by name (SOCKS5 ATYP=DOMAINNAME, RFC 1928
// §5) and resolved there — no query leaves locally. Bounded (least recently used entries go first),
// expiring (an entry unused for `idleExpiryMs` is forgotten) and stable while in use (an address with open
// flows is never given to another name). The range's first address (network) is skipped and the next is
// the tunnel's own DNS server address.

export interface FakeIpPoolOptions {
  /** The IPv4 range as CIDR, e.g. 198.19.0.0/16. */
  readonly ipv4?: string;
  /** The IPv6 range as CIDR, e.g. fd7a:7a74:0:0:ffff::/80. */
  readonly ipv6?: string;
  /** Names kept at most (default 65,536, and never more than the range holds). */
  readonly maxEntries?: number;
  /** An entry neither looked up nor in use for this long is forgotten (default 1 h: far beyond the TTL). */
  readonly idleExpiryMs?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly name: string;
  readonly family: 4 | 6;
  readonly address: string;
  lastUsed: number;
  /** Open flows to this address. */
  refs: number;
}

class Range {
  readonly base: bigint;
  readonly size: bigint;
  private next = 2n;
  readonly free: bigint[] = [];

  constructor(
    readonly family: 4 | 6,
    cidr: string,
  ) {
    const [addr, len] = cidr.split('/');
    const bytes = addr ? parseIp(addr) : undefined;
    const bits = family === 4 ? 32 : 128;
    const prefix = Number(len);
    if (!bytes || bytes.length !== bits / 8 || !Number.isInteger(prefix) || prefix < 0 || prefix > bits - 2)
      throw new TypeError(`fake-IP range '${cidr}' is not an IPv${family} prefix with room for addresses`);
    const host = bits - prefix;
    this.size = 1n << BigInt(host);
    this.base = (toBig(bytes) >> BigInt(host)) << BigInt(host);
  }

  contains(a: bigint): boolean {
    return a >= this.base && a < this.base + this.size;
  }

  /**
   * A free offset: one never given out while there are any (an address goes back to another name as late as
   * possible, so a client still holding an old answer rarely reaches the wrong name), then a freed one.
   */
  take(): bigint | undefined {
    // The last IPv4 address of the range is its broadcast address: skipped.
    if (this.next < this.size - (this.family === 4 ? 1n : 0n)) return this.next++;
    return this.free.shift();
  }

  text(offset: bigint): string {
    return fromBig(this.base + offset, this.family);
  }
}

function toBig(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function fromBig(v: bigint, family: 4 | 6): string {
  const n = family === 4 ? 4 : 16;
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return formatIp(out, 0, family);
}

export class FakeIpPool {
  private readonly ranges: { 4?: Range; 6?: Range } = {};
  /** By name and family ("4 example.com"), least recently used first (Map keeps insertion order). */
  private readonly byName = new Map<string, Entry>();
  private readonly byAddress = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly idleExpiryMs: number;
  private readonly now: () => number;

  constructor(options: FakeIpPoolOptions) {
    if (options.ipv4) this.ranges[4] = new Range(4, options.ipv4);
    if (options.ipv6) this.ranges[6] = new Range(6, options.ipv6);
    this.maxEntries = options.maxEntries ?? 65_536;
    this.idleExpiryMs = options.idleExpiryMs ?? 3_600_000;
    this.now = options.now ?? Date.now;
  }

  /** The tunnel's DNS server address in the family's range (the range's second address). */
  dnsAddress(family: 4 | 6): string | undefined {
    return this.ranges[family]?.text(1n);
  }

  /** Whether `address` lies in a fake range (then it is nothing without its name). */
  contains(address: string): boolean {
    const b = parseIp(address);
    if (!b) return false;
    return this.ranges[b.length === 4 ? 4 : 6]?.contains(toBig(b)) ?? false;
  }

  /** Names held now. */
  get size(): number {
    return this.byName.size;
  }

  /** The fake address of `name` in `family`, given out now if it has none; undefined: no such range. */
  addressFor(name: string, family: 4 | 6): string | undefined {
    const range = this.ranges[family];
    if (!range) return undefined;
    const key = `${family} ${normalize(name)}`;
    const known = this.byName.get(key);
    if (known) return this.touch(key, known).address;
    this.expire();
    let offset = this.byName.size < this.maxEntries ? range.take() : undefined;
    if (offset === undefined && this.evictOne(family)) offset = range.take();
    if (offset === undefined) return undefined; // every address is in use by an open flow
    const entry: Entry = {
      name: normalize(name),
      family,
      address: range.text(offset),
      lastUsed: this.now(),
      refs: 0,
    };
    this.byName.set(key, entry);
    this.byAddress.set(entry.address, entry);
    return entry.address;
  }

  /** The name behind a fake address (and it counts as used now), or undefined. */
  nameOf(address: string): string | undefined {
    const e = this.byAddress.get(address);
    if (!e) return undefined;
    this.touch(`${e.family} ${e.name}`, e);
    return e.name;
  }

  /** A flow to `address` opened: the address keeps its name until release(). */
  acquire(address: string): void {
    const e = this.byAddress.get(address);
    if (e) e.refs++;
  }

  release(address: string): void {
    const e = this.byAddress.get(address);
    if (e && e.refs > 0) {
      e.refs--;
      e.lastUsed = this.now();
    }
  }

  private touch(key: string, e: Entry): Entry {
    e.lastUsed = this.now();
    this.byName.delete(key);
    this.byName.set(key, e);
    return e;
  }

  /** Forgets entries idle past the expiry (oldest first; stops at the first fresh one). */
  private expire(): void {
    const cutoff = this.now() - this.idleExpiryMs;
    for (const [key, e] of this.byName) {
      if (e.lastUsed >= cutoff) break;
      if (e.refs === 0) this.remove(key, e);
    }
  }

  /** Frees the least recently used entry of `family` not in use; false when there is none. */
  private evictOne(family: 4 | 6): boolean {
    for (const [key, e] of this.byName) {
      if (e.family === family && e.refs === 0) {
        this.remove(key, e);
        return true;
      }
    }
    return false;
  }

  private remove(key: string, e: Entry): void {
    this.byName.delete(key);
    this.byAddress.delete(e.address);
    const range = this.ranges[e.family]!;
    range.free.push(toBig(parseIp(e.address)!) - range.base);
  }
}

/** DNS names compare case-insensitively (RFC 4343) and without the root's trailing dot. */
function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
