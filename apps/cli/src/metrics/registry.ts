import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { StatsSnapshot } from '../stats.js';

// The Prometheus view of a tunnel (issue 16 item 3), built with prom-client: every value is read from
// `stats()` at scrape time (no timers, nothing counted twice). Counters are cumulative since the tunnel
// became ready; prom-client's default process metrics (prefixed ztun_) bring RSS, event-loop lag, heap, fds.
// Names follow https://prometheus.io/docs/practices/naming/ (base units, _total for counters).

export interface MetricsSource {
  stats(): StatsSnapshot;
}

export function tunnelRegistry(source: MetricsSource): Registry {
  const register = new Registry();
  let snap: StatsSnapshot = source.stats();
  // One snapshot per scrape: every metric of a scrape agrees with the others.
  const fresh = () => {
    snap = source.stats();
    return snap;
  };
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    read: (s: StatsSnapshot) => [Record<string, string>, number][],
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [register],
      collect() {
        this.reset();
        for (const [labels, value] of read(snap)) this.inc(labels, Math.max(0, value));
      },
    });
  const gauge = (name: string, help: string, read: (s: StatsSnapshot) => number) =>
    new Gauge({
      name,
      help,
      registers: [register],
      collect() {
        this.set(read(snap));
      },
    });

  // Registered first, so its collect runs before the others read `snap`.
  new Gauge({
    name: 'ztun_uptime_seconds',
    help: 'Seconds since the tunnel became ready',
    registers: [register],
    collect() {
      this.set(fresh().uptimeMs / 1000);
    },
  });
  counter(
    'ztun_bytes_total',
    'Payload bytes carried, up (to destinations) and down (back to clients)',
    ['direction'],
    (s) => [
      [{ direction: 'up' }, s.bytesOut],
      [{ direction: 'down' }, s.bytesIn],
    ],
  );
  counter('ztun_packets_total', 'Packets the stack read from the TUN and wrote to it', ['direction'], (s) => [
    [{ direction: 'from_tun' }, s.packetsOut],
    [{ direction: 'to_tun' }, s.packetsIn],
  ]);
  counter('ztun_drops_total', 'Packets dropped, by reason (stack, device, kernel queue)', ['reason'], (s) =>
    Object.entries(s.dropsByReason ?? {}).map(([reason, n]) => [{ reason }, n]),
  );
  gauge('ztun_tcp_sessions_open', 'TCP connections open through the tunnel', (s) => s.tcpOpen);
  gauge('ztun_udp_sessions_open', 'UDP sessions open through the tunnel', (s) => s.udpOpen);
  counter(
    'ztun_connect_failures_total',
    'Outbound TCP connects that failed (the client got a reset)',
    [],
    (s) => [[{}, s.connectFailures]],
  );
  counter(
    'ztun_relay_bytes_total',
    'Payload bytes relayed by splice(2) in the kernel vs copied through Node',
    ['mode'],
    (s) => [
      [{ mode: 'spliced' }, s.relayBytes?.spliced ?? 0],
      [{ mode: 'copied' }, s.relayBytes?.copied ?? s.bytesIn + s.bytesOut],
    ],
  );
  counter(
    'ztun_device_queue_drops_total',
    "Packets the kernel dropped at the TUN's queue before ztun read them",
    [],
    (s) => [[{}, s.deviceQueueDrops ?? 0]],
  );
  collectDefaultMetrics({ register, prefix: 'ztun_' });
  return register;
}
