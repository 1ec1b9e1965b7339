import type { PacketContext } from './packet-context.js';

// The TCP NAT table of one address family. A session is identified by its NAT port: the source port the
// stack gives the client's flow when it rewrites it onto the kernel listener. Everything lives in typed
// arrays indexed by NAT port, and the forward lookup (client tuple → NAT port) is an intrusive hash chain
// keyed by numbers, so the per-packet path allocates nothing. The session state machine lives here too:
//
//   FREE ──SYN (open)──▶ EMBRYONIC ──listener accepts (accept)──▶ OPEN ──socket closes (socketClosed)──▶ CLOSING
//   EMBRYONIC ──20 s without accept (sweep)──▶ FREE        OPEN ──idle tcpIdleTimeoutMs (sweep)──▶ socket reset
//   CLOSING ──1 s quiet after FIN both ways or RST, else 30 s (sweep)──▶ FREE;  a SYN of the same flow reopens it

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

/** An embryonic entry (SYN seen, never accepted) expires after this long. */
const EMBRYONIC_TIMEOUT_MS = 20_000;
/**
 * A closed connection's entry lingers this long after its last packet (FIN both ways / RST: CLOSED_…).
 * Not done: a FIN (ours or the client's) is still to cross, and after drops at a full TUN queue it comes
 * as a retransmission, the kernel backing off 0.2, 0.4 … 6.4 s (RFC 6298 §5.5): an entry gone by then
 * leaves the client in FIN-WAIT-2 for tcp_fin_timeout (60 s) — what stranded connections after a mass
 * close (issue 17 item 5). 30 s covers the backoff up to 12.8 s.
 */
const CLOSING_LINGER_MS = 30_000;
const CLOSED_LINGER_MS = 1_000;

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
  readonly sockets: Array<TableSocket | undefined> = [];
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

  // ---- the session state machine ------------------------------------------------------------------

  /**
   * The session of the client segment in `c` (client → destination), or -1 when it has none it may use:
   * an unknown flow, or a SYN of a flow whose entry only lingers (CLOSING) — a new connection on the same
   * tuple, which `open` starts afresh.
   */
  clientSession(c: PacketContext, tcpFlags: number): number {
    const port = this.lookup(c.data, c.srcOff, c.sport, c.dstOff, c.dport);
    if (port >= 0 && isSyn(tcpFlags) && this.state[port] === CLOSING) return -1;
    return port;
  }

  /** Opens an embryonic session for the SYN in `c`, replacing a lingering entry of the flow; -1 when full. */
  open(c: PacketContext, now: number): number {
    const lingering = this.lookup(c.data, c.srcOff, c.sport, c.dstOff, c.dport);
    if (lingering >= 0) this.release(lingering);
    return this.allocate(c.data, c.srcOff, c.sport, c.dstOff, c.dport, now);
  }

  /** A listener → client segment of NAT port `port`: records its FIN / RST and the time; false: no session. */
  fromListener(port: number, tcpFlags: number, now: number): boolean {
    if (this.state[port] === FREE) return false;
    if (tcpFlags & 1) this.flags[port]! |= FIN_FROM_LISTENER;
    if (tcpFlags & 4) this.flags[port]! |= RST_SEEN;
    this.lastSeen[port] = now;
    return true;
  }

  /** A client → destination segment of session `port` (clientSession / open): records its FIN / RST. */
  fromClient(port: number, tcpFlags: number, now: number): void {
    if (tcpFlags & 1) this.flags[port]! |= FIN_FROM_CLIENT;
    if (tcpFlags & 4) this.flags[port]! |= RST_SEEN;
    this.lastSeen[port] = now;
  }

  /** The listener accepted the connection of NAT port `port`: false unless it is an embryonic session. */
  accept(port: number, socket: TableSocket): boolean {
    if (this.state[port] !== EMBRYONIC) return false;
    this.state[port] = OPEN;
    this.sockets[port] = socket;
    return true;
  }

  /** The accepted socket of `port` closed: the entry lingers (CLOSING). False when it was not that socket's. */
  socketClosed(port: number, socket: TableSocket, now: number): boolean {
    if (this.sockets[port] !== socket) return false;
    this.sockets[port] = undefined;
    this.state[port] = CLOSING;
    this.lastSeen[port] = now;
    return true;
  }

  /** The kernel's RST of session `port` has passed through the TUN. */
  rstSeen(port: number): boolean {
    return (this.flags[port]! & RST_SEEN) !== 0;
  }

  /** Timeouts at `now`: expires embryonic and lingering entries, resets connections idle beyond `idleMs`. */
  sweep(now: number, idleMs: number): void {
    if (this.count === 0) return;
    for (let p = this.portMin; p <= this.portMax; p++) {
      const s = this.state[p];
      if (s === FREE) continue;
      const idle = now - this.lastSeen[p]!;
      if (s === EMBRYONIC) {
        if (idle > EMBRYONIC_TIMEOUT_MS) this.release(p);
      } else if (s === OPEN) {
        if (idle > idleMs && this.sockets[p]) resetSocket(this.sockets[p]!);
      } else {
        const done = (this.flags[p]! & RST_SEEN) !== 0 || (this.flags[p]! & 3) === 3;
        if (idle > (done ? CLOSED_LINGER_MS : CLOSING_LINGER_MS)) this.release(p);
      }
    }
  }

  /** Resets every open connection (the stack's close()); returns their ports. */
  resetOpen(): number[] {
    const ports: number[] = [];
    if (this.count === 0) return ports;
    for (let p = this.portMin; p <= this.portMax; p++) {
      const sock = this.sockets[p];
      if (this.state[p] === OPEN && sock) {
        resetSocket(sock);
        ports.push(p);
      }
    }
    return ports;
  }

  /** Destroys every socket and frees every entry. */
  releaseAll(): void {
    for (let p = this.portMin; p <= this.portMax; p++) {
      if (this.state[p] === FREE) continue;
      this.sockets[p]?.destroy();
      this.release(p);
    }
  }
}

type TableSocket = { destroy(): void; resetAndDestroy?(): unknown };

/** SYN without ACK: the first segment of a connection. */
function isSyn(tcpFlags: number): boolean {
  return (tcpFlags & 0x12) === 0x02;
}

/** RST to the client (the kernel sends it when the socket is destroyed this way). */
function resetSocket(sock: TableSocket): void {
  if (sock.resetAndDestroy) sock.resetAndDestroy();
  else sock.destroy();
}
