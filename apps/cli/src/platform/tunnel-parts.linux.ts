// Parts of the Linux tunnel (tunnel.linux.ts): the splice(2) relay as the stack's OS relay, the kernel's
// count of TUN queue drops, and the IPv6 link-local switch.

import { writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { RtNetlink } from '@ztun/routing-linux';
import {
  canSplice,
  type LinuxTun,
  raiseFdLimit,
  type SpliceRelayResult,
  spliceRelay,
  spliceRelayTotals,
} from '@ztun/tun-linux';
import type { TrafficCounters } from '../counting.js';
import type { Logger } from '../log.js';
import type { OsRelay } from '../tunnel/assemble.js';

/** The splice(2) relay (client = A, upstream = B) for plain TCP socket pairs; others stay on Node streams. */
export function spliceRelayFor(log: Logger): OsRelay {
  // Totals are process-wide (an embedder may run several tunnels in turn): count from this tunnel's start.
  const start = spliceRelayTotals();
  // One callback for every pair (no promise or closure per connection: issue 17 item 2).
  const onDone = (r: SpliceRelayResult) => {
    if (r.reason === 'error')
      log.debug(`splice relay: socket ${r.side ?? '?'} failed: ${r.code ?? 'unknown'}`);
    else if (r.reason === 'fallback')
      log.debug(`splice relay: carried by Node streams (${r.cause}: ${r.code ?? r.detail ?? 'unknown'})`);
  };
  return {
    relay(client, upstream, pipe) {
      if (!canSplice(client) || !canSplice(upstream)) return false;
      // A pair the relay gives back (out of pipes, Node internals) goes through the handler's own piping.
      spliceRelay(client, upstream, { onDone, onFallback: pipe as (a: Socket, b: Socket) => void });
      return true;
    },
    spliced() {
      const now = spliceRelayTotals();
      return now.bytesAtoB + now.bytesBtoA - start.bytesAtoB - start.bytesBtoA;
    },
    // What the splice relay moved from now on never passes Node's sockets.
    count(inner: TrafficCounters): TrafficCounters {
      return {
        bytesUp: () => inner.bytesUp() + spliceRelayTotals().bytesAtoB - start.bytesAtoB,
        bytesDown: () => inner.bytesDown() + spliceRelayTotals().bytesBtoA - start.bytesBtoA,
      };
    },
  };
}

/**
 * Packets the kernel dropped at the TUN's own queue (IFLA_STATS64 tx_dropped: tun_net_xmit found the
 * queue of `txqueuelen` packets towards ztun full). ztun never sees them, so only the kernel can count
 * them. Reads fresh each call; the last good value when the link cannot be read (e.g. during teardown).
 */
export function queueDropReader(nl: RtNetlink, index: number): () => number {
  let last = 0;
  return () => {
    try {
      last = nl.getLinkStats(index).txDropped;
    } catch {
      // keep the last value
    }
    return last;
  };
}

/** `addrgenmode none` (before the link goes up): no IPv6 link-local address, so no RS/MLD into the TUN. */
/**
 * The ready line's word when the TUN has checksum offload but no TSO (the kernel refused TUN_F_TSO4 |
 * TUN_F_TSO6 | TUN_F_TSO_ECN): every TCP segment then crosses the TUN one MTU at a time, slower at small MTUs.
 */
export function offloadNote(dev: Pick<LinuxTun, 'offload'>): string | undefined {
  const o = dev.offload;
  if (!o.checksum || o.tso || o.note === undefined) return undefined;
  return `TUN offload: checksum only (${o.note})`;
}

export function noLinkLocal(name: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${name}/addr_gen_mode`, '1');
  } catch {
    // IPv6 disabled on this system: nothing would be generated anyway.
  }
}

/**
 * Below this hard RLIMIT_NOFILE the ready line says how many connections it allows: each relayed TCP
 * connection holds two sockets (the accepted one and the outbound one).
 */
const LOW_FD_LIMIT = 65_536;

/** Raises the soft open-file limit to the hard one; a note for the ready line when the hard one is low. */
export function openFileNote(log: Logger): string | undefined {
  try {
    const lim = raiseFdLimit();
    if (lim.raisedFrom !== undefined)
      log.debug(`open-file limit raised from ${lim.raisedFrom} to ${lim.soft}`);
    if (lim.soft >= LOW_FD_LIMIT) return undefined;
    return (
      `open files limited to ${lim.soft} (hard RLIMIT_NOFILE ${lim.hard}: about ` +
      `${Math.max(0, Math.floor((lim.soft - 100) / 2))} TCP connections at once)`
    );
  } catch (err) {
    log.debug(`open-file limit unknown: ${(err as Error).message}`);
    return undefined;
  }
}
