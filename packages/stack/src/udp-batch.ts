import { constants } from 'node:os';
import type { PacketBatch, UdpRelay } from '@ztun/packet';
import type { Endpoint, UnreachableReason } from './handler.js';
import type { StackCounters } from './options.js';
import { formatIp } from './wire.js';

// The batch UDP path (issue 17 item 4): while the packet path walks a TUN batch, each datagram of a session
// whose handler offers a relay (UdpSessionHandler.batch) is queued here as (offset, length, destination) into
// the batch's own buffer — no copy, no allocation — and when the batch ends each such session's queue goes
// out in one relay.send (sendmmsg). Replies come back from the relay as packets it already built (replyTo),
// one call per read, and go to the device as one writeBatch.

/** What a session on the batch path needs from its table. */
export interface BatchSession {
  readonly family: 4 | 6;
  readonly srcBytes: Uint8Array;
  readonly sport: number;
  lastSeen: number;
  closed: boolean;
  unreachable(destination: Endpoint, reason?: UnreachableReason): void;
  close(): void;
}

/** Reported by the relay's send, mapped as the per-datagram path maps Node's send errors. */
const UNREACHABLE = new Map<number, UnreachableReason>([
  [constants.errno.EHOSTUNREACH, 'host'],
  [constants.errno.ENETUNREACH, 'host'],
  [constants.errno.EADDRNOTAVAIL, 'host'],
  [constants.errno.ECONNREFUSED, 'port'],
]);

/** One session's queue for the current TUN batch, and its relay. */
export class BatchQueue {
  count = 0;
  bytes = 0;
  offsets = new Uint32Array(16);
  lengths = new Uint32Array(16);
  dsts = new Uint8Array(16 * 16);
  dports = new Uint32Array(16);
  /** The relay's send drops already added to the stack's counters (foreign senders and refused replies
   *  are counted as they happen, through the session: udp-relayed.ts). */
  private seenSendDrops = 0;
  /** The relay's GSO sends already added to the stack's counters. */
  private seenGsoSends = 0;

  constructor(
    readonly session: BatchSession,
    readonly relay: UdpRelay,
    readonly counted: ((up: number, down: number) => void) | undefined,
  ) {}

  push(d: Uint8Array, off: number, len: number, dstOff: number, dport: number): void {
    const i = this.count;
    if (i === this.offsets.length) this.grow();
    this.offsets[i] = off;
    this.lengths[i] = len;
    const alen = this.session.family === 4 ? 4 : 16;
    const at = i * 16;
    for (let k = 0; k < alen; k++) this.dsts[at + k] = d[dstOff + k]!;
    this.dports[i] = dport;
    this.bytes += len;
    this.count = i + 1;
  }

  private grow(): void {
    const n = this.offsets.length * 2;
    const o = new Uint32Array(n);
    o.set(this.offsets);
    this.offsets = o;
    const l = new Uint32Array(n);
    l.set(this.lengths);
    this.lengths = l;
    const d = new Uint8Array(n * 16);
    d.set(this.dsts);
    this.dsts = d;
    const p = new Uint32Array(n);
    p.set(this.dports);
    this.dports = p;
  }

  /** Sends what was queued from `data` (the TUN batch's buffer) and empties the queue. */
  flush(data: Uint8Array, counters: StackCounters): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    const bytes = this.bytes;
    this.bytes = 0;
    const s = this.session;
    const errors = s.closed
      ? 0
      : this.relay.send(data, this.offsets, this.lengths, this.dsts, this.dports, n, s.family);
    counters.udpBatchSent += n;
    const gso = this.relay.gsoSends;
    counters.udpGsoSends += gso - this.seenGsoSends;
    this.seenGsoSends = gso;
    this.counted?.(bytes, 0);
    const sendErrors = this.relay.sendErrors;
    for (let e = 0; e < errors; e++) {
      const reason = UNREACHABLE.get(sendErrors.code[e]!);
      if (!reason) continue;
      const i = sendErrors.index[e]!;
      s.unreachable({ address: formatIp(this.dsts, i * 16, s.family), port: this.dports[i]! }, reason);
    }
  }

  /** Adds the relay's send drops since the last call to the stack's counters. */
  syncDrops(counters: StackCounters): void {
    const sendDrops = this.relay.stats().sendDrops;
    counters.drops.udpSendDropped += sendDrops - this.seenSendDrops;
    this.seenSendDrops = sendDrops;
  }
}

/**
 * The replies of one relay read: complete packets in `batch`, written to the device as one batch.
 * `emitBatch` counts and writes them (the stack's tx counters, capture).
 */
export function deliverReplies(
  q: BatchQueue,
  batch: PacketBatch,
  now: number,
  counters: StackCounters,
  emitBatch: (batch: PacketBatch) => void,
): void {
  const s = q.session;
  if (s.closed || batch.count === 0) return;
  s.lastSeen = now;
  counters.udpBatchReplies += batch.count;
  emitBatch(batch);
  if (q.counted) {
    const header = (s.family === 4 ? 20 : 40) + 8;
    let down = 0;
    for (let i = 0; i < batch.count; i++) down += batch.lengths[i]! - header;
    q.counted(0, down);
  }
}
