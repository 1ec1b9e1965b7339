import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { resolveConfig } from '../src/config.js';
import type { ConnectionInfo } from '../src/counting.js';
import { tunnelRegistry } from '../src/metrics/registry.js';
import { MAX_CONNECTIONS, startMetricsServer } from '../src/metrics/server.js';
import type { StatsSnapshot } from '../src/stats.js';
import { EMPTY_STATS } from '../src/tunnel/types.js';
import { fakePlatform } from './fake-platform.js';
import { parsePrometheus, sampleValue } from './prom-parse.js';

// Issue 16 item 3: the registry and endpoint with a fake source; what the Prometheus project's own parser
// makes of the text. The namespace test (netns-metrics.test.ts) scrapes a real tunnel during a transfer.

const snapshot = (n: number): StatsSnapshot => ({
  ...EMPTY_STATS,
  uptimeMs: 1000 * n,
  tcpOpen: n,
  udpOpen: 2 * n,
  bytesOut: 100 * n,
  bytesIn: 1000 * n,
  packetsOut: 10 * n,
  packetsIn: 20 * n,
  drops: 3 * n,
  dropsByReason: { loop: n, deviceQueue: 2 * n },
  connectFailures: n,
  deviceQueueDrops: 2 * n,
  relayBytes: { spliced: 700 * n, copied: 400 * n },
});

async function withServer(
  n: () => number,
  conns: ConnectionInfo[],
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const registry = tunnelRegistry({ stats: () => snapshot(n()) });
  const server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry, connections: () => conns });
  try {
    await fn(server.url);
  } finally {
    await server.close();
  }
}

describe('metrics endpoint', () => {
  it('serves every metric the issue names; the Prometheus parser reads it; counters follow the source', async () => {
    let n = 1;
    await withServer(
      () => n,
      [],
      async (url) => {
        const res = await fetch(`${url}/metrics`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
        const f1 = parsePrometheus(await res.text());
        const v = (name: string, labels?: Record<string, string>) => sampleValue(f1, name, labels);
        expect(v('ztun_bytes_total', { direction: 'up' })).toBe(100);
        expect(v('ztun_bytes_total', { direction: 'down' })).toBe(1000);
        expect(v('ztun_packets_total', { direction: 'from_tun' })).toBe(10);
        expect(v('ztun_packets_total', { direction: 'to_tun' })).toBe(20);
        expect(v('ztun_drops_total', { reason: 'loop' })).toBe(1);
        expect(v('ztun_drops_total', { reason: 'deviceQueue' })).toBe(2);
        expect(v('ztun_tcp_sessions_open')).toBe(1);
        expect(v('ztun_udp_sessions_open')).toBe(2);
        expect(v('ztun_connect_failures_total')).toBe(1);
        expect(v('ztun_relay_bytes_total', { mode: 'spliced' })).toBe(700);
        expect(v('ztun_relay_bytes_total', { mode: 'copied' })).toBe(400);
        expect(v('ztun_device_queue_drops_total')).toBe(2);
        expect(v('ztun_uptime_seconds')).toBe(1);
        expect(v('ztun_process_resident_memory_bytes')).toBeGreaterThan(0);
        expect(f1.find((f) => f.name === 'ztun_nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
        expect(f1.find((f) => f.name === 'ztun_bytes')?.type).toBe('counter');
        n = 5;
        const f2 = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
        expect(sampleValue(f2, 'ztun_bytes_total', { direction: 'down' })).toBe(5000);
        expect(sampleValue(f2, 'ztun_drops_total', { reason: 'loop' })).toBe(5);
      },
    );
  });

  it('/connections is JSON and bounded; other paths 404, other methods 405', async () => {
    const one: ConnectionInfo = {
      protocol: 'tcp',
      source: '198.18.0.1:40000',
      destination: '192.0.2.7:443',
      bytesUp: 10,
      bytesDown: 20,
      ageMs: 5,
    };
    const many = Array.from({ length: MAX_CONNECTIONS + 5 }, () => one);
    await withServer(
      () => 1,
      many,
      async (url) => {
        const all = (await (await fetch(`${url}/connections`)).json()) as {
          total: number;
          shown: number;
          connections: unknown[];
        };
        expect(all.total).toBe(MAX_CONNECTIONS + 5);
        expect(all.shown).toBe(1000);
        expect(all.connections[0]).toEqual(one);
        const two = (await (await fetch(`${url}/connections?limit=2`)).json()) as { connections: unknown[] };
        expect(two.connections).toHaveLength(2);
        const capped = (await (await fetch(`${url}/connections?limit=999999`)).json()) as { shown: number };
        expect(capped.shown).toBe(MAX_CONNECTIONS);
        expect((await fetch(`${url}/`)).status).toBe(404);
        expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405);
      },
    );
  });

  it('config: HOST:PORT, loopback unless --metrics-allow-remote; one line for bad values', () => {
    expect(resolveConfig({}).metrics).toBeUndefined();
    expect(resolveConfig({ metrics: '127.0.0.1:9100' }).metrics).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(resolveConfig({ metrics: '[::1]:9100' }).metrics).toEqual({ host: '::1', port: 9100 });
    expect(resolveConfig({ metrics: 'localhost:0' }).metrics).toEqual({ host: 'localhost', port: 0 });
    expect(() => resolveConfig({ metrics: '0.0.0.0:9100' })).toThrow(
      /--metrics: 0\.0\.0\.0 is not a loopback address; .*--metrics-allow-remote/,
    );
    expect(resolveConfig({ metrics: '0.0.0.0:9100', 'metrics-allow-remote': true }).metrics).toEqual({
      host: '0.0.0.0',
      port: 9100,
    });
    for (const bad of ['9100', '127.0.0.1', '127.0.0.1:70000', '[127.0.0.1]:1', '::1:9100', 'a b:1'])
      expect(() => resolveConfig({ metrics: bad }), bad).toThrow(/is not HOST:PORT/);
    expect(() => resolveConfig({ 'metrics-allow-remote': 'yes' })).toThrow(/expected true or false/);
  });

  it('--help lists the flags; --dry-run says where metrics will be served', async () => {
    let out = '';
    const io = {
      stdout: { write: (t: string) => (out += t), isTTY: false },
      stderr: { write: () => {} },
      platform: fakePlatform(),
    };
    expect(await main(['node', 'ztun', 'run', '--help'], io)).toBe(0);
    expect(out).toContain('--metrics <host:port>');
    expect(out).toContain('--metrics-allow-remote');
    out = '';
    expect(
      await main(['node', 'ztun', 'run', '--auto-route', '--metrics', '[::1]:9100', '--dry-run'], io),
    ).toBe(0);
    expect(out).toContain('# then: serve metrics on http://[::1]:9100/metrics and /connections');
  });
});
