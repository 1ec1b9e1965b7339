// Stats output: a live status line on a TTY, one JSON object per line otherwise. Pure formatting here;
// the platform module supplies snapshots.

export interface StatsSnapshot {
  /** Milliseconds since the tunnel became ready. */
  readonly uptimeMs: number;
  readonly tcpOpen: number;
  readonly udpOpen: number;
  /** Bytes from the TUN's users out to the network (upload) and back (download), cumulative. */
  readonly bytesOut: number;
  readonly bytesIn: number;
  readonly packetsOut: number;
  readonly packetsIn: number;
  /** Packets dropped for any reason (device and stack), cumulative. */
  readonly drops: number;
  /** Drop counts by reason, when the stack reports them. */
  readonly dropsByReason?: Readonly<Record<string, number>>;
  /** TCP connections whose outbound connect failed (the client got a RST), cumulative. */
  readonly connectFailures: number;
  /** UDP sessions whose SOCKS5 UDP ASSOCIATE failed (refused or unreachable proxy), cumulative. */
  readonly udpAssociateFailures: number;
  /** UDP DNS queries carried as DNS over TCP, cumulative (absent with --dns udp). */
  readonly dnsOverTcpQueries?: number;
  /** Packets the kernel dropped at the TUN's queue before ztun could read them (the link's tx_dropped),
   *  cumulative; also in `drops`. */
  readonly deviceQueueDrops?: number;
  /** Payload bytes (both ways) relayed by the OS's zero-copy relay (splice) vs copied through Node's
   *  sockets (TCP streams and UDP), cumulative. */
  readonly relayBytes?: { readonly spliced: number; readonly copied: number };
  /** UDP datagrams (both ways) that took the batch path (sendmmsg/recvmmsg relays), cumulative. */
  readonly udpBatched?: number;
  /** Batch-path sends that left as one UDP GSO group of ≥ 2 datagrams (UDP_SEGMENT), cumulative. */
  readonly udpGsoSends?: number;
}

export interface Rates {
  readonly outBitsPerSec: number;
  readonly inBitsPerSec: number;
}

export function ratesBetween(prev: StatsSnapshot | undefined, cur: StatsSnapshot): Rates {
  if (!prev || cur.uptimeMs <= prev.uptimeMs) return { outBitsPerSec: 0, inBitsPerSec: 0 };
  const secs = (cur.uptimeMs - prev.uptimeMs) / 1000;
  return {
    outBitsPerSec: ((cur.bytesOut - prev.bytesOut) * 8) / secs,
    inBitsPerSec: ((cur.bytesIn - prev.bytesIn) * 8) / secs,
  };
}

export function formatBits(bitsPerSec: number): string {
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
  let v = bitsPerSec;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 2 : v < 100 && i > 0 ? 1 : 0)} ${units[i]}`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** The live TTY line (no newline; the caller rewrites it in place). */
export function statusLine(cur: StatsSnapshot, rates: Rates): string {
  return (
    `tcp ${cur.tcpOpen} udp ${cur.udpOpen} | ` +
    `↑ ${formatBits(rates.outBitsPerSec)} (${formatBytes(cur.bytesOut)}) ` +
    `↓ ${formatBits(rates.inBitsPerSec)} (${formatBytes(cur.bytesIn)}) | drops ${cur.drops}` +
    ` | failed connects ${cur.connectFailures}` +
    (cur.udpAssociateFailures ? ` | failed udp associates ${cur.udpAssociateFailures}` : '') +
    (cur.deviceQueueDrops !== undefined ? ` | tun queue drops ${cur.deviceQueueDrops}` : '')
  );
}

/** One JSON line for logs and scripts. */
export function statsJson(cur: StatsSnapshot, rates: Rates, now: Date = new Date()): string {
  return JSON.stringify({
    time: now.toISOString(),
    uptimeSec: Math.round(cur.uptimeMs / 100) / 10,
    tcpOpen: cur.tcpOpen,
    udpOpen: cur.udpOpen,
    bytesOut: cur.bytesOut,
    bytesIn: cur.bytesIn,
    packetsOut: cur.packetsOut,
    packetsIn: cur.packetsIn,
    outBitsPerSec: Math.round(rates.outBitsPerSec),
    inBitsPerSec: Math.round(rates.inBitsPerSec),
    drops: cur.drops,
    connectFailures: cur.connectFailures,
    udpAssociateFailures: cur.udpAssociateFailures,
    ...(cur.dnsOverTcpQueries !== undefined ? { dnsOverTcpQueries: cur.dnsOverTcpQueries } : {}),
    ...(cur.deviceQueueDrops !== undefined ? { deviceQueueDrops: cur.deviceQueueDrops } : {}),
    ...(cur.dropsByReason ? { dropsByReason: cur.dropsByReason } : {}),
    ...(cur.udpBatched !== undefined ? { udpBatched: cur.udpBatched } : {}),
    ...(cur.udpGsoSends !== undefined ? { udpGsoSends: cur.udpGsoSends } : {}),
  });
}

/** Starts periodic stats output; returns a stop function that also ends the TTY line cleanly. */
export function startStatsReporter(opts: {
  snapshot: () => StatsSnapshot;
  intervalMs: number;
  tty: boolean;
  write: (text: string) => void;
}): () => void {
  let prev: StatsSnapshot | undefined = opts.snapshot();
  let wroteLine = false;
  const timer = setInterval(() => {
    const cur = opts.snapshot();
    const rates = ratesBetween(prev, cur);
    prev = cur;
    if (opts.tty) {
      // \r + erase-line keeps one status line that updates in place.
      opts.write(`\r\x1b[2K${statusLine(cur, rates)}`);
      wroteLine = true;
    } else {
      opts.write(`${statsJson(cur, rates)}\n`);
    }
  }, opts.intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (wroteLine) opts.write('\n');
  };
}
