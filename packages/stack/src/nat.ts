// The TCP NAT table of one address family. A session is identified by its NAT port: the source port the
// stack gives the client's flow when it rewrites it onto the kernel listener. Everything lives in typed
// arrays indexed by NAT port, and the forward lookup (client tuple → NAT port) is an intrusive hash chain
// keyed by numbers, so the per-packet path allocates nothing.

/** Session states (values of `state[port]`). */
export const FREE = 0;
/** SYN seen, not yet accepted by the listener. */
export const EMBRYONIC = 1;
/** Accepted: the handler owns the socket. */
export const OPEN = 2;
/** The socket closed; the mapping lingers so the last FIN/ACK exchanges still get rewritten. */
export const CLOSING = 3;

/** Flag bits in `flags`. */
export const FIN_FROM_CLIENT = 1;
export const FIN_FROM_LISTENER = 2;
export const RST_SEEN = 4;

const PORTS = 65536;
const BUCKETS = 1 << 16;

export interface NatTableOptions {
  /** 4 for IPv4, 16 for IPv6. */
  addressLength: 4 | 16;
  /** Most sessions at once (every state counts). */
  maxSessions: number;
  /** NAT ports handed out, inclusive. */
  portMin?: number;
  portMax?: number;
}

export class TcpNatTable {
  readonly addressLength: 4 | 16;
  readonly maxSessions: number;
  readonly portMin: number;
  readonly portMax: number;
  readonly state = new Uint8Array(PORTS);
  readonly flags = new Uint8Array(PORTS);
  /** Original client address (source) and destination of each session, 16 bytes per port. */
  readonly src = new Uint8Array(PORTS * 16);
  readonly dst = new Uint8Array(PORTS * 16);
  readonly sport = new Uint16Array(PORTS);
  readonly dport = new Uint16Array(PORTS);
  /** Last packet seen (ms, the stack's batch clock); state-change time for Closing. */
  readonly lastSeen = new Float64Array(PORTS);
  readonly sockets: Array<{ destroy(): void; resetAndDestroy?(): unknown } | undefined> = [];
  private readonly heads = new Int32Array(BUCKETS).fill(-1);
  private readonly next = new Int32Array(PORTS).fill(-1);
  private readonly bucketOf = new Int32Array(PORTS);
  private cursor: number;
  count = 0;

  constructor(options: NatTableOptions) {
    this.addressLength = options.addressLength;
    this.portMin = options.portMin ?? 1024;
    this.portMax = options.portMax ?? 65535;
    if (!(this.portMin >= 1 && this.portMax <= 65535 && this.portMin <= this.portMax))
      throw new RangeError(`NAT port range ${this.portMin}-${this.portMax} is not within 1-65535`);
    this.maxSessions = Math.min(options.maxSessions, this.portMax - this.portMin + 1);
    this.cursor = this.portMin;
  }

  private hash(buf: Uint8Array, srcOff: number, sport: number, dstOff: number, dport: number): number {
    let h = Math.imul((sport << 16) | dport, 0x9e3779b1);
    const n = this.addressLength;
    for (let i = 0; i < n; i += 4) {
      const a =
        (buf[srcOff + i]! << 24) |
        (buf[srcOff + i + 1]! << 16) |
        (buf[srcOff + i + 2]! << 8) |
        buf[srcOff + i + 3]!;
      h = Math.imul(h ^ a, 0x85ebca6b);
      h ^= h >>> 13;
      const b =
        (buf[dstOff + i]! << 24) |
        (buf[dstOff + i + 1]! << 16) |
        (buf[dstOff + i + 2]! << 8) |
        buf[dstOff + i + 3]!;
      h = Math.imul(h ^ b, 0xc2b2ae35);
      h ^= h >>> 16;
    }
    return h & (BUCKETS - 1);
  }

  private matches(
    port: number,
    buf: Uint8Array,
    srcOff: number,
    sport: number,
    dstOff: number,
    dport: number,
  ): boolean {
    if (this.sport[port] !== sport || this.dport[port] !== dport) return false;
    const base = port * 16;
    const n = this.addressLength;
    for (let i = 0; i < n; i++) {
      if (this.src[base + i] !== buf[srcOff + i] || this.dst[base + i] !== buf[dstOff + i]) return false;
    }
    return true;
  }

  /** NAT port of the flow src:sport → dst:dport (addresses read from `buf`), or -1. */
  lookup(buf: Uint8Array, srcOff: number, sport: number, dstOff: number, dport: number): number {
    let p = this.heads[this.hash(buf, srcOff, sport, dstOff, dport)]!;
    while (p !== -1) {
      if (this.matches(p, buf, srcOff, sport, dstOff, dport)) return p;
      p = this.next[p]!;
    }
    return -1;
  }

  /**
   * Maps a new flow; returns its NAT port or -1 when the table is full. Ports are handed out round-robin
   * and a port is never handed out while its previous session still exists, so a port is reused as late as
   * possible (the kernel may keep TIME_WAIT state for it).
   */
  allocate(
    buf: Uint8Array,
    srcOff: number,
    sport: number,
    dstOff: number,
    dport: number,
    now: number,
  ): number {
    if (this.count >= this.maxSessions) return -1;
    const span = this.portMax - this.portMin + 1;
    let port = -1;
    for (let tries = 0; tries < span; tries++) {
      const p = this.cursor;
      this.cursor = p >= this.portMax ? this.portMin : p + 1;
      if (this.state[p] === FREE) {
        port = p;
        break;
      }
    }
    if (port < 0) return -1;
    const base = port * 16;
    const n = this.addressLength;
    for (let i = 0; i < n; i++) {
      this.src[base + i] = buf[srcOff + i]!;
      this.dst[base + i] = buf[dstOff + i]!;
    }
    this.sport[port] = sport;
    this.dport[port] = dport;
    this.state[port] = EMBRYONIC;
    this.flags[port] = 0;
    this.lastSeen[port] = now;
    const b = this.hash(buf, srcOff, sport, dstOff, dport);
    this.bucketOf[port] = b;
    this.next[port] = this.heads[b]!;
    this.heads[b] = port;
    this.count++;
    return port;
  }

  /** Frees a session's port and mapping (the socket, if any, is the caller's business). */
  release(port: number): void {
    if (this.state[port] === FREE) return;
    const b = this.bucketOf[port]!;
    let p = this.heads[b]!;
    let prev = -1;
    while (p !== -1 && p !== port) {
      prev = p;
      p = this.next[p]!;
    }
    if (p === port) {
      if (prev === -1) this.heads[b] = this.next[port]!;
      else this.next[prev] = this.next[port]!;
    }
    this.next[port] = -1;
    this.state[port] = FREE;
    this.sockets[port] = undefined;
    this.count--;
  }
}
