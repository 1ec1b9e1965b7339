import { missingCommandsReason, type Netns, netnsSkipReason, skipWhen, waitFor } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { startZtun, withClientServer } from './helpers.js';

// UDP replies as USO super-packets (issue 17 item 4): ztun in a client namespace, a UDP server behind a veth
// in a server namespace (IPv4 and IPv6) that answers each request with a burst of same-size datagrams (the
// last one shorter). ztun's relay reads a burst with recvmmsg and writes its runs to the TUN as UDP
// super-packets (virtio GSO_UDP_L4), which the kernel cuts back into datagrams for the client's socket. The
// client checks that every datagram of every burst arrived whole, with its boundaries (its length and its
// bytes), and the stats' udpUsoWrites shows super-packets were written, IPv4 then IPv6.

const skip = netnsSkipReason() ?? missingCommandsReason(['ip']);
const SERVER = '10.214.0.2';
const SERVER6 = 'fd00:214::2';
const BURST = 40;
const ROUNDS = 20;

const withTopology = (fn: (client: Netns, server: Netns) => Promise<void>) =>
  withClientServer(
    'udpuso',
    { link: '10.213.0', link6: 'fd00:213', serverAddresses: { ipv4: SERVER, ipv6: SERVER6 } },
    fn,
  );

// Datagram k of burst r: 1200 bytes (the last, 700), [r, k] then bytes (r + k + i) & 255.
const SHAPE = `const size = (k) => (k === ${BURST - 1} ? 700 : 1200);
const fill = (b, r, k) => { b[0] = r; b[1] = k; for (let i = 2; i < b.length; i++) b[i] = (r + k + i) & 255; return b; };
const intact = (m) => m.length === size(m[1]) && m.every((x, i) => i < 2 || x === ((m[0] + m[1] + i) & 255));`;

// Answers request [r] with burst r, back to back.
const SERVER_JS = `${SHAPE}
for (const [t, a] of [['udp4', '${SERVER}'], ['udp6', '${SERVER6}']]) {
  const s = require('node:dgram').createSocket(t);
  s.on('message', (m, from) => {
    for (let k = 0; k < ${BURST}; k++) s.send(fill(Buffer.alloc(size(k)), m[0], k), from.port, from.address);
  });
  s.bind(7777, a, () => console.log('listening ' + t));
}`;

// Asks for bursts 0…ROUNDS-1 one after another (asking again every 300 ms while datagrams are missing: UDP may
// drop under load); any datagram not whole ends it with "bad datagram"; prints "done" after the last burst.
const CLIENT_JS = `${SHAPE}
const [t, a] = process.argv[1] === 'udp4' ? ['udp4', '${SERVER}'] : ['udp6', '${SERVER6}'];
const s = require('node:dgram').createSocket(t);
let round = 0;
let missing = new Set();
const ask = () => s.send(Buffer.from([round]), 7777, a);
const next = () => { missing = new Set(Array.from({ length: ${BURST} }, (_, k) => k)); ask(); };
s.on('message', (m) => {
  if (!intact(m)) { console.log('bad datagram ' + m.length); process.exit(2); }
  if (m[0] !== round) return;
  missing.delete(m[1]);
  if (missing.size > 0) return;
  if (++round === ${ROUNDS}) { clearInterval(timer); s.close(); console.log('done'); return; }
  next();
});
const timer = setInterval(ask, 300);
next();`;

const counter = (output: string, name: 'udpUsoWrites') =>
  Math.max(
    0,
    ...output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as Record<string, number | undefined>)[name] ?? 0),
  );

describe('UDP replies through ztun as USO super-packets', skipWhen(skip), () => {
  it('delivers bursts of same-size datagrams whole, IPv4 and IPv6, and counts the super-packets', async () => {
    await withTopology(async (client, server) => {
      const srv = server.spawn(process.execPath, ['-e', SERVER_JS]);
      await waitFor('udp server', () => (srv.output().match(/listening/g) ?? []).length === 2);
      const z = await startZtun(client, [
        '--address',
        '198.18.0.1/15',
        '--address',
        'fd7a:7a74::1/64',
        '--route',
        '10.214.0.0/24',
        '--route',
        'fd00:214::/64',
        '--proxy',
        'direct',
        '--stats-interval',
        '100ms',
      ]);
      let uso = 0;
      for (const family of ['udp4', 'udp6']) {
        const c = client.spawn(process.execPath, ['-e', CLIENT_JS, family]);
        await waitFor(`every ${family} burst whole`, () => /done|bad/.test(c.output()), 30_000);
        expect(c.output()).not.toContain('bad datagram');
        await waitFor(
          `${family} super-packets in the stats`,
          () => counter(z.output(), 'udpUsoWrites') > uso,
          5_000,
        );
        uso = counter(z.output(), 'udpUsoWrites');
      }
      expect(await z.proc.stop(10_000)).toBe(0);
    });
  }, 90_000);
});
