import type { PacketBatch, PacketView } from '@ztun/packet';
import type {
  Endpoint,
  Handler,
  UdpSession,
  UdpSessionDropReason,
  UdpSessionHandler,
  UnreachableReason,
} from './handler.js';
import type { LoopPrefixes } from './loop-prefixes.js';
import type { StackCounters, StackLogger } from './options.js';
import { ownSockets } from './own-sockets.js';
import type { Clock, PacketContext } from './packet-context.js';
import { BatchQueue, deliverReplies } from './udp-batch.js';
import { buildUdpPacket, buildUnreachable, bytesEqual, formatIp, parseIp, udpQuote } from './wire.js';

// UDP sessions: one per client address:port, keyed by numbers (IPv6 hashed and chained), opened by the
// first datagram, closed by the handler, by idle time (udpTimeoutMs) or by the stack's close(). The table
// owns that lifecycle and the counters that go with it; a session writes its replies through `emit`.

/** What the table needs from the stack. */
export interface UdpTableOptions {
  handler: Handler;
  counters: StackCounters;
  clock: Clock;
  /** Writes a packet the stack built to the device. */
  emit: (packet: Uint8Array) => void;
  /** Writes a batch of complete packets (the batch path's replies) to the device. */
  emitBatch: (batch: PacketBatch) => void;
  /** The stack's parser, holding the packet of the context. */
  pv: PacketView;
  loopPrefixes: LoopPrefixes;
  maxSessions: number;
  timeoutMs: number;
  logger: StackLogger;
}

class UdpSessionImpl implements UdpSession {
  readonly source: Endpoint;
  lastSeen = 0;
  handler: UdpSessionHandler | undefined;
  closed = false;
  /** Next session with the same map key (IPv6 keys are hashes). */
  next: UdpSessionImpl | undefined;
  /** The batch path's queue, once the handler offered a relay (udp-batch.ts). */
  queue: BatchQueue | undefined;
  private lastFromText = '';
  private lastFromBytes: Uint8Array | undefined;
  /** The last destination this session sent to: a DNS or QUIC flow reuses it without string work. */
  private readonly lastToBytes = new Uint8Array(16);
  private lastTo: Endpoint | undefined;

  constructor(
    private readonly table: UdpSessionTable,
    readonly family: 4 | 6,
    readonly key: number,
    readonly srcBytes: Uint8Array,
    readonly sport: number,
  ) {
    this.source = { address: formatIp(srcBytes, 0, family), port: sport };
  }

  private fromBytes(address: string): Uint8Array | undefined {
    if (address === this.lastFromText) return this.lastFromBytes;
    let b = parseIp(address);
    if (b && this.family === 4 && b.length === 16) {
      // IPv4-mapped IPv6 (::ffff:a.b.c.d) as some sockets report it.
      const mapped = b[10] === 0xff && b[11] === 0xff && b.subarray(0, 10).every((x) => x === 0);
      b = mapped ? b.slice(12) : undefined;
    }
    if (!b || b.length !== (this.family === 4 ? 4 : 16)) return undefined;
    this.lastFromText = address;
    this.lastFromBytes = b;
    return b;
  }

  /** The destination at `d[off…]`:`port` as an Endpoint, reusing the previous one when it is the same. */
  destination(d: Uint8Array, off: number, port: number): Endpoint {
    const alen = this.family === 4 ? 4 : 16;
    const last = this.lastTo;
    if (last && last.port === port && bytesEqual(d, off, this.lastToBytes, 0, alen)) return last;
    this.lastToBytes.set(d.subarray(off, off + alen));
    this.lastTo = { address: formatIp(d, off, this.family), port };
    return this.lastTo;
  }

  reply(payload: Uint8Array, from: Endpoint): void {
    if (this.closed) return;
    const src = this.fromBytes(from.address);
    if (!src || !(from.port > 0 && from.port < 65536) || payload.length > 65535 - 48) {
      this.table.counters.drops.udpBadReply++;
      return;
    }
    this.lastSeen = this.table.clock.now;
    this.table.emit(buildUdpPacket(src, from.port, this.srcBytes, this.sport, payload));
  }

  unreachable(destination: Endpoint, reason: UnreachableReason = 'port'): void {
    if (this.closed) return;
    const dst = this.fromBytes(destination.address);
    if (!dst) return;
    const quote = udpQuote(this.srcBytes, this.sport, dst, destination.port);
    this.table.emit(buildUnreachable(dst, this.srcBytes, quote, reason));
  }

  drop(reason: UdpSessionDropReason): void {
    this.table.counters.drops[reason]++;
  }

  close(): void {
    this.table.close(this);
  }
}

/** The UDP sessions of both families. */
export class UdpSessionTable {
  readonly counters: StackCounters;
  readonly clock: Clock;
  readonly emit: (packet: Uint8Array) => void;
  private readonly emitBatch: (batch: PacketBatch) => void;
  /** Sessions with datagrams queued in the current TUN batch (flushed by flush()). */
  private readonly queued: BatchQueue[] = [];
  private readonly handler: Handler;
  private readonly pv: PacketView;
  private readonly loopPrefixes: LoopPrefixes;
  private readonly maxSessions: number;
  private readonly timeoutMs: number;
  private readonly logger: StackLogger;
  /** Sessions by key (see udpKey), per family. */
  private readonly v4 = new Map<number, UdpSessionImpl>();
  private readonly v6 = new Map<number, UdpSessionImpl>();

  constructor(options: UdpTableOptions) {
    this.handler = options.handler;
    this.counters = options.counters;
    this.clock = options.clock;
    this.emit = options.emit;
    this.emitBatch = options.emitBatch;
    this.pv = options.pv;
    this.loopPrefixes = options.loopPrefixes;
    this.maxSessions = options.maxSessions;
    this.timeoutMs = options.timeoutMs;
    this.logger = options.logger;
  }

  /**
   * The datagram of `c`: checked, refused when it could only loop, else handed to its source's session —
   * opened (and the handler asked for it) on the first datagram.
   */
  datagram(c: PacketContext): void {
    const drops = this.counters.drops;
    const f = c.family;
    const d = c.data;
    const alen = f.alen;
    const l4 = c.l4;
    // PacketView checked 8 ≤ UDP length ≤ payload; the checksum is optional only over IPv4 (RFC 8200).
    // A partial checksum (offload) comes from the local kernel and has nothing to verify yet.
    const ulen = this.pv.udp.length;
    if (!c.partial && !this.pv.verifyTransportChecksum()) {
      drops.badChecksum++;
      return;
    }
    const sport = (d[l4]! << 8) | d[l4 + 1]!;
    const dport = (d[l4 + 2]! << 8) | d[l4 + 3]!;
    c.sport = sport;
    c.dport = dport;
    if (dport === 0) {
      drops.malformed++;
      return;
    }
    if (sport === 0) {
      // RFC 768 allows it for datagrams that want no reply; a session could never answer.
      drops.udpSourcePortZero++;
      return;
    }
    if (this.loopPrefixes.refuses(c)) {
      drops.loop++;
      const src = d.slice(c.srcOff, c.srcOff + alen);
      const dst = d.slice(c.dstOff, c.dstOff + alen);
      this.emit(buildUnreachable(dst, src, udpQuote(src, sport, dst, dport), 'prohibited'));
      return;
    }
    if (bytesEqual(d, c.srcOff, f.tun, 0, alen)) {
      // From this host: maybe an outbound's own socket that a route sent back into the TUN. Its session
      // hears about it (and tells its client); the datagram goes no further.
      const looped = ownSockets.udpListener(f.v, sport);
      if (looped) {
        drops.loop++;
        try {
          looped({ address: formatIp(d, c.dstOff, f.v), port: dport });
        } catch (err) {
          this.logger.warn?.(`udp loop listener threw: ${(err as Error).message}`);
        }
        return;
      }
    }
    const map = f.v === 4 ? this.v4 : this.v6;
    const key = udpKey(d, c.srcOff, alen, c.sport);
    let s = map.get(key);
    while (s && !(s.sport === c.sport && bytesEqual(s.srcBytes, 0, d, c.srcOff, alen))) s = s.next;
    if (!s) {
      if (this.counters.udpOpen >= this.maxSessions) {
        drops.udpTableFull++;
        return;
      }
      s = new UdpSessionImpl(this, f.v, key, d.slice(c.srcOff, c.srcOff + alen), c.sport);
      s.next = map.get(key);
      map.set(key, s);
      this.counters.udpOpen++;
      this.counters.udpTotal++;
      s.lastSeen = this.clock.now;
      try {
        s.handler = this.handler.udp(s);
      } catch (err) {
        this.logger.warn?.(`udp handler threw: ${(err as Error).message}`);
        this.close(s);
        return;
      }
      if (s.closed) return;
    }
    s.lastSeen = this.clock.now;
    const h = s.handler;
    const relay = h && !h.keeps?.(c.dport) ? h.batch : undefined;
    if (relay) {
      // The batch path: queued as a view into the TUN batch, sent when the batch ends (flush).
      const q = s.queue ?? this.batchQueue(s, relay, h!.counted?.bind(h));
      if (q.count === 0) this.queued.push(q);
      q.push(d, c.l4 + 8, ulen - 8, c.dstOff, c.dport);
      return;
    }
    const payload = Buffer.allocUnsafe(ulen - 8);
    payload.set(d.subarray(c.l4 + 8, c.l4 + ulen));
    s.handler?.send(payload, s.destination(d, c.dstOff, c.dport));
  }

  private batchQueue(
    s: UdpSessionImpl,
    relay: NonNullable<UdpSessionHandler['batch']>,
    counted: ((up: number, down: number) => void) | undefined,
  ): BatchQueue {
    const q = new BatchQueue(s, relay, counted);
    s.queue = q;
    relay.replyTo(s.srcBytes, s.sport, (batch) =>
      deliverReplies(q, batch, this.clock.now, this.counters, this.emitBatch),
    );
    return q;
  }

  /** The end of a TUN batch: each session's queued datagrams go out in one relay send. */
  flush(data: Uint8Array): void {
    const queued = this.queued;
    for (let i = 0; i < queued.length; i++) queued[i]!.flush(data, this.counters);
    queued.length = 0;
  }

  /** Closes a session once: unlinks it, counts it and tells its handler. */
  close(s: UdpSessionImpl): void {
    if (s.closed) return;
    s.closed = true;
    const map = s.family === 4 ? this.v4 : this.v6;
    // Unlink from its key chain.
    let head = map.get(s.key);
    if (head === s) {
      if (s.next) map.set(s.key, s.next);
      else map.delete(s.key);
    } else {
      while (head && head.next !== s) head = head.next;
      if (head) head.next = s.next;
    }
    this.counters.udpOpen--;
    s.queue?.syncDrops(this.counters);
    try {
      s.handler?.close();
    } catch (err) {
      this.logger.warn?.(`udp handler close threw: ${(err as Error).message}`);
    }
  }

  /** Closes the sessions idle for longer than the timeout (at clock.now). */
  /** True while any session is open (the stack's sweeper runs only then). */
  get active(): boolean {
    return this.v4.size !== 0 || this.v6.size !== 0;
  }

  sweep(): void {
    const now = this.clock.now;
    for (const map of [this.v4, this.v6]) {
      if (map.size === 0) continue;
      for (const head of [...map.values()]) {
        for (let s: UdpSessionImpl | undefined = head; s; ) {
          const next: UdpSessionImpl | undefined = s.next;
          if (now - s.lastSeen > this.timeoutMs) this.close(s);
          else s.queue?.syncDrops(this.counters);
          s = next;
        }
      }
    }
  }

  /** Closes every session (the stack's close()). */
  closeAll(): void {
    for (const map of [this.v4, this.v6]) for (const s of [...map.values()]) this.close(s);
  }
}

/** Number key of a UDP source: exact for IPv4 (address·65536 + port), a hash for IPv6 (chained). */
function udpKey(d: Uint8Array, off: number, alen: number, port: number): number {
  if (alen === 4)
    return (((d[off]! << 24) | (d[off + 1]! << 16) | (d[off + 2]! << 8) | d[off + 3]!) >>> 0) * 65536 + port;
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ d[off + i]!, 0x01000193);
  return (h >>> 0) * 65536 + port;
}
