import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  missingCommandsReason,
  netnsSkipReason,
  type SpawnedInNetns,
  skipWhen,
  spawnWithBindMounts,
  waitFor,
} from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import {
  CLIENT,
  HTTP_PORT,
  RESOLVER,
  SERVER,
  SOCKS,
  startDantedBlocking,
  startDnsmasq,
  withClTopology,
} from './cl-topology.js';
import { bin, netState } from './helpers.js';

// Issue 10 item 4: a SOCKS5 proxy given by host name with --auto-route. The client's resolver (dnsmasq on
// the server, the only one that knows proxy.test) is reachable only outside the tunnel: danted refuses to
// relay anything to it. ztun must resolve the proxy before its routes go in, cache the answer, re-resolve
// in the background through a socket that bypasses the tunnel, and never resolve per connection.

const skip = netnsSkipReason() ?? missingCommandsReason(['dnsmasq', 'danted', 'curl']);

/** The record's TTL: short, so a background re-resolution happens while the test watches. */
const PROXY_TTL_S = 3;

/** The `query[A] proxy.test from X` lines dnsmasq logged, as the list of X. */
const proxyQueries = (dnsmasq: SpawnedInNetns, type = 'A') =>
  [...dnsmasq.output().matchAll(new RegExp(`query\\[${type}\\] proxy\\.test from (\\S+)`, 'g'))].map(
    (m) => m[1]!,
  );

describe('proxy given by host name (namespaces)', skipWhen(skip), () => {
  it('--auto-route --proxy socks5://proxy.test: resolved before routes, cached, refreshed off the tunnel, never per connection', async () => {
    await withClTopology(async (client, server) => {
      const dnsmasq = await startDnsmasq(server, [`proxy.test,${SOCKS},${PROXY_TTL_S}`]);
      await startDantedBlocking(server, 1080, [RESOLVER]);
      const dir = mkdtempSync(join(tmpdir(), 'ztun-cl-dns-'));
      const resolvConf = join(dir, 'resolv.conf');
      writeFileSync(resolvConf, `nameserver ${RESOLVER}\noptions timeout:2 attempts:2\n`);
      const mounts = [{ source: resolvConf, target: '/etc/resolv.conf' }];
      // The client itself resolves through the same resolver (sanity: the record is there).
      const dig = spawnWithBindMounts(client, mounts, 'getent', ['ahostsv4', 'proxy.test']);
      await dig.exited;
      expect(dig.output()).toContain(SOCKS);

      const before = netState(client);
      const t0 = Date.now();
      const z = spawnWithBindMounts(client, mounts, process.execPath, [
        bin,
        'run',
        '--auto-route',
        '--proxy',
        'socks5://proxy.test:1080',
        '--stats-interval',
        '0',
      ]);
      await waitFor(
        'ztun ready',
        () => {
          if (z.child.exitCode !== null) throw new Error(`ztun exited ${z.child.exitCode}`);
          return z.output().includes('ztun: ready:');
        },
        30_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n--- ztun ---\n${z.output()}\n--- dnsmasq ---\n${dnsmasq.output()}`);
      });
      const startMs = Date.now() - t0;
      // The proxy's address got its bypass rule: it was known before the routes went in.
      expect(client.ip('-4', 'rule', 'show')).toContain(`to ${SOCKS} lookup main`);

      // Every connection works and its first byte comes promptly (the figure is printed, not asserted).
      const queriesBefore = proxyQueries(dnsmasq).length;
      const curlStart = Date.now();
      const ttfbMs: number[] = [];
      const CONNECTIONS = 12;
      for (let i = 0; i < CONNECTIONS; i++) {
        const r = client.tryExec('curl', [
          '-sS',
          '-m',
          '8',
          '-w',
          '%{time_connect} %{time_starttransfer}',
          `http://${SERVER}:${HTTP_PORT}/whoami`,
        ]);
        expect(r.stderr, z.output()).toBe('');
        const [body, times] = r.stdout.split('\n');
        // The server sees danted's address: the connection went through the proxy.
        expect(body).toBe(SOCKS);
        expect(times).toMatch(/^[\d.]+ [\d.]+$/);
        const [connect, firstByte] = times!.split(' ').map(Number);
        ttfbMs.push(Math.round((firstByte! - connect!) * 1000));
      }
      const curlMs = Date.now() - curlStart;
      expect(z.output()).not.toMatch(/EAI_AGAIN|warn: proxy/);
      const duringCurls = proxyQueries(dnsmasq).length - queriesBefore;
      // Per-connection resolution would add at least one query per connection; background refreshes add
      // at most one per TTL period (ztun refreshes no more often than every 5 s).
      expect(duringCurls).toBeLessThanOrEqual(Math.ceil(curlMs / 5000) + 1);
      expect(duringCurls).toBeLessThan(CONNECTIONS);

      // A background re-resolution arrives after ready and comes from the client's own address: it left
      // by the veth, not through the tunnel (danted would not relay it, and would show as its source).
      const readyQueries = proxyQueries(dnsmasq).length;
      await waitFor(
        'a background re-resolution of proxy.test',
        () => proxyQueries(dnsmasq).length > readyQueries,
        20_000,
      );
      expect(new Set(proxyQueries(dnsmasq))).toEqual(new Set([CLIENT]));
      const r = client.tryExec('curl', ['-sS', '-m', '8', `http://${SERVER}:${HTTP_PORT}/whoami`]);
      expect(r.stdout.trim()).toBe(SOCKS);

      console.log(
        `[proxy-dns] ready after ${startMs} ms; first byte after connect (ms) over ${CONNECTIONS} curls: ` +
          `min ${Math.min(...ttfbMs)} median ${ttfbMs.sort((a, b) => a - b)[ttfbMs.length >> 1]} max ` +
          `${Math.max(...ttfbMs)}; ${CONNECTIONS} connections in ${curlMs} ms caused ${duringCurls} A queries; ` +
          `total A queries for proxy.test: ${proxyQueries(dnsmasq).length}`,
      );
      expect(await z.stop(10_000)).toBe(0);
      expect(netState(client)).toEqual(before);
    });
  });

  it('a proxy name that does not resolve: a progress line after 1 s, then one clear error, nothing changed', async () => {
    await withClTopology(async (client) => {
      // A resolver address the server neither holds nor forwards: queries vanish and time out.
      const dir = mkdtempSync(join(tmpdir(), 'ztun-cl-dns-'));
      const resolvConf = join(dir, 'resolv.conf');
      writeFileSync(resolvConf, 'nameserver 10.222.0.54\noptions timeout:1 attempts:1\n');
      const before = netState(client);
      const t0 = Date.now();
      const z = spawnWithBindMounts(
        client,
        [{ source: resolvConf, target: '/etc/resolv.conf' }],
        process.execPath,
        [bin, 'run', '--auto-route', '--proxy', 'socks5://proxy.test:1080'],
      );
      const code = await z.exited;
      const ms = Date.now() - t0;
      expect(code, z.output()).toBe(1);
      expect(z.output()).toMatch(/ztun: resolving proxy host proxy\.test/);
      expect(z.output()).toMatch(/ztun: proxy host proxy\.test did not resolve: .*\n/);
      expect(z.output()).not.toContain('ready:');
      expect(netState(client)).toEqual(before);
      console.log(`[proxy-dns] unresolvable proxy: exit 1 after ${ms} ms`);
    });
  });
});
