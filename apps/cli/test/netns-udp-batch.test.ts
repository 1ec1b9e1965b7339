import { missingCommandsReason, type Netns, netnsSkipReason, skipWhen, waitFor } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { startZtun, withClientServer } from './helpers.js';

// The batch UDP path (issue 17 item 4) in use: ztun in a client namespace, a UDP echo server behind a veth
// in a server namespace (IPv4 and IPv6). Datagrams go out through the TUN and their echoes come back through
// it; the stats' udpBatched counter shows both directions took the batch path (sendmmsg/recvmmsg relays),
// and udpGsoSends that runs of the client's same-size datagrams left ztun as UDP GSO groups (UDP_SEGMENT,
// tun-linux native/udp_send.h), IPv4 then IPv6; the echo server checks every datagram arrived whole (its
// length and its bytes), so a group cut at the wrong boundary fails the test.

const skip = netnsSkipReason() ?? missingCommandsReason(['ip']);
const SERVER = '10.212.0.2';
const SERVER6 = 'fd00:212::2';
const COUNT = 100;

const withTopology = (fn: (client: Netns, server: Netns) => Promise<void>) =>
  withClientServer(
    'udpb',
    { link: '10.211.0', link6: 'fd00:211', serverAddresses: { ipv4: SERVER, ipv6: SERVER6 } },
    fn,
  );

const ECHO = `const intact = (m) => m.length === 1200 && m.every((b, i) => i < 4 || b === (m.readUInt32BE(0) & 255));
for (const [t, a] of [['udp4', '${SERVER}'], ['udp6', '${SERVER6}']]) {
  const s = require('node:dgram').createSocket(t);
  s.on('message', (m, r) => { if (!intact(m)) console.log('bad datagram ' + m.length); s.send(m, r.port, r.address); });
  s.bind(7777, a, () => console.log('listening ' + t));
}`;

// Sends COUNT numbered datagrams of 1200 bytes (back to back: the TUN hands ztun runs of them in one batch)
// to the server of each family given on the command line, and resends the unanswered ones every 200 ms until
// every echo is back (UDP may drop under load); prints "done" then.
const CLIENT = `const dgram = require('node:dgram');
let left = 0;
const families = process.argv.slice(1);
for (const [t, a] of [['udp4', '${SERVER}'], ['udp6', '${SERVER6}']].filter(([t]) => families.includes(t))) {
  const s = dgram.createSocket(t);
  const missing = new Set(Array.from({ length: ${COUNT} }, (_, i) => i));
  left++;
  const send = () => { for (const i of missing) { const b = Buffer.alloc(1200, i); b.writeUInt32BE(i); s.send(b, 7777, a); } };
  s.on('message', (m) => {
    if (m.length !== 1200 || !m.every((b, i) => i < 4 || b === (m.readUInt32BE(0) & 255))) { console.log('bad echo'); process.exit(2); }
    missing.delete(m.readUInt32BE(0));
    if (missing.size === 0) { clearInterval(timer); s.close(); if (--left === 0) console.log('done'); }
  });
  const timer = setInterval(send, 200);
  send();
}`;

const counter = (output: string, name: 'udpBatched' | 'udpGsoSends') =>
  Math.max(
    0,
    ...output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as Record<string, number | undefined>)[name] ?? 0),
  );

describe('the batch UDP path through ztun', skipWhen(skip), () => {
  it('moves datagrams both ways, IPv4 and IPv6, through sendmmsg/recvmmsg relays, runs as UDP GSO groups', async () => {
    await withTopology(async (client, server) => {
      const echo = server.spawn(process.execPath, ['-e', ECHO]);
      await waitFor('udp echo', () => (echo.output().match(/listening/g) ?? []).length === 2);
      const z = await startZtun(client, [
        '--address',
        '198.18.0.1/15',
        '--address',
        'fd7a:7a74::1/64',
        '--route',
        '10.212.0.0/24',
        '--route',
        'fd00:212::/64',
        '--proxy',
        'direct',
        '--stats-interval',
        '100ms',
      ]);
      let gso = 0;
      for (const family of ['udp4', 'udp6']) {
        const c = client.spawn(process.execPath, ['-e', CLIENT, family]);
        await waitFor(`every ${family} echo back`, () => c.output().includes('done'), 20_000);
        // The stats line after the last send shows this family's GSO groups.
        await waitFor(
          `${family} GSO groups in the stats`,
          () => counter(z.output(), 'udpGsoSends') > gso,
          5_000,
        );
        gso = counter(z.output(), 'udpGsoSends');
        expect(c.output()).not.toContain('bad echo');
      }
      // Each direction: at least COUNT datagrams per family out and COUNT echoes back through the relays.
      await waitFor(
        'the batch path in the stats',
        () => counter(z.output(), 'udpBatched') >= 4 * COUNT,
        5_000,
      );
      expect(echo.output()).not.toContain('bad datagram');
      expect(await z.proc.stop(10_000)).toBe(0);
    });
  }, 60_000);
});
