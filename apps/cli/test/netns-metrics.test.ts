import { missingCommandsReason, type Netns, netnsSkipReason, skipWhen, waitFor } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { HTTP_PORT, SERVER, withClTopology } from './cl-topology.js';
import { bin, netState, startZtun } from './helpers.js';
import { DEBIAN_PYTHON, type PromFamily, parsePrometheus, sampleValue } from './prom-parse.js';

// Issue 16 item 3 with real traffic: `--metrics` scraped (curl inside the namespace) while a download runs
// through the tunnel; every scrape parsed by the Prometheus project's parser; counters never go down.

const skip = netnsSkipReason() ?? missingCommandsReason(['curl', DEBIAN_PYTHON]);
const PORT = 9464;
const BYTES = 24_000_000;

function scrape(client: Netns, path = '/metrics'): string {
  const r = client.tryExec('curl', ['-sS', '-m', '5', `http://127.0.0.1:${PORT}${path}`]);
  if (r.status !== 0) throw new Error(`scrape failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Every counter sample as name{labels} → value. */
function counters(families: readonly PromFamily[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of families) {
    if (f.type !== 'counter') continue;
    for (const s of f.samples) out.set(`${s.name}${JSON.stringify(s.labels)}`, Number(s.value));
  }
  return out;
}

describe('--metrics (namespaces, real traffic)', skipWhen(skip), () => {
  it('scrapes during a download parse, show the transfer and its connection, and counters only rise', async () => {
    await withClTopology(async (client) => {
      const z = await startZtun(client, [
        '--auto-route',
        '--metrics',
        `127.0.0.1:${PORT}`,
        '--stats-interval',
        '0',
      ]);
      expect(z.output()).toContain(`metrics: http://127.0.0.1:${PORT}/metrics`);
      const download = client.spawn('curl', [
        '-sS',
        '--limit-rate',
        '8M',
        '-o',
        '/dev/null',
        '-w',
        '%{size_download}\n',
        `http://${SERVER}:${HTTP_PORT}/bytes/${BYTES}`,
      ]);
      let done = false;
      void download.exited.then(() => {
        done = true;
      });
      const scrapes: PromFamily[][] = [];
      let inFlight = 0;
      let sawConnection = false;
      while (!done || scrapes.length < 2) {
        const families = parsePrometheus(scrape(client));
        scrapes.push(families);
        if (!done && (sampleValue(families, 'ztun_tcp_sessions_open') as number) >= 1) {
          inFlight++;
          const list = JSON.parse(scrape(client, '/connections')) as {
            connections: { protocol: string; destination: string; ageMs: number }[];
          };
          if (
            list.connections.some((c) => c.protocol === 'tcp' && c.destination === `${SERVER}:${HTTP_PORT}`)
          )
            sawConnection = true;
        }
        // Let the download's exit be seen between scrapes (no sleep: each scrape already takes a while).
        await new Promise(setImmediate);
      }
      expect(await download.exited).toBe(0);
      expect(download.output().trim()).toBe(String(BYTES));
      expect(inFlight).toBeGreaterThanOrEqual(2);
      expect(sawConnection).toBe(true);
      for (let i = 1; i < scrapes.length; i++) {
        const before = counters(scrapes[i - 1]!);
        for (const [key, value] of counters(scrapes[i]!))
          expect(value, key).toBeGreaterThanOrEqual(before.get(key) ?? 0);
      }
      // The scrape after the download has all of it.
      const last = parsePrometheus(scrape(client));
      expect(sampleValue(last, 'ztun_bytes_total', { direction: 'down' })).toBeGreaterThanOrEqual(BYTES);
      const first = scrapes[0]!;
      expect(sampleValue(first, 'ztun_bytes_total', { direction: 'down' })).toBeLessThan(BYTES);
      expect(sampleValue(last, 'ztun_process_resident_memory_bytes')).toBeGreaterThan(0);
      await z.proc.stop();
      expect(client.tryExec('curl', ['-sS', '-m', '5', `http://127.0.0.1:${PORT}/metrics`]).status).not.toBe(
        0,
      );
    });
  });

  it('a metrics port in use: one line, exit 1, nothing left behind', async () => {
    await withClTopology(async (client) => {
      const holder = client.spawn(process.execPath, [
        '-e',
        `require('node:net').createServer().listen(${PORT},'127.0.0.1',()=>console.log('listening'))`,
      ]);
      await waitFor('port holder listening', () => holder.output().includes('listening'));
      const before = netState(client);
      const r = client.tryExec(process.execPath, [
        bin,
        'run',
        '--auto-route',
        '--metrics',
        `127.0.0.1:${PORT}`,
      ]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`ztun: --metrics 127.0.0.1:${PORT}: cannot listen (EADDRINUSE)`);
      expect(netState(client)).toEqual(before);
    });
  });
});
