import { missingCommandsReason, type Netns, netnsSkipReason, skipWhen, waitFor } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import {
  CLIENT,
  HTTP_PORT,
  SERVER,
  SERVER6,
  SOCKS,
  startCapture,
  startDantedBlocking,
  withClTopology,
} from './cl-topology.js';
import { bin, netState, startZtun } from './helpers.js';

// Issue 10 item 5: after a SIGKILL the policy rules stay and point at ztun's table, whose route through
// the (now gone) TUN went with it, so traffic silently takes the main table around the proxy. With
// --kill-switch an `unreachable` route of lower preference in ztun's table outlives the TUN: routed traffic
// is refused until ztun runs again or `ztun cleanup` removes it.

const skip = netnsSkipReason() ?? missingCommandsReason(['tcpdump', 'danted', 'curl']);
const WITNESS_PORT = 8081;

/** Listens on the server's addresses (TCP WITNESS_PORT, UDP 9) and logs every peer that reaches it. */
async function startWitness(server: Netns) {
  const w = server.spawn(process.execPath, [
    '-e',
    `const net=require('node:net'),dgram=require('node:dgram');let up=0;const ready=()=>{if(++up===3)console.log('listening')};
for(const h of ['${SERVER}','${SERVER6}'])net.createServer(s=>{console.log('tcp from '+s.remoteAddress);s.end('witness\\n')}).listen(${WITNESS_PORT},h,ready);
const u=dgram.createSocket('udp4');u.on('message',(m,r)=>console.log('udp from '+r.address));u.bind(9,'${SERVER}',ready);`,
  ]);
  await waitFor('witness listening', () => w.output().includes('listening'));
  return w;
}

/** curl with a short deadline; status, stderr, and how long it took. */
function timedCurl(client: Netns, url: string) {
  const t0 = Date.now();
  const r = client.tryExec('curl', ['-sS', '-m', '5', url]);
  return { ...r, ms: Date.now() - t0 };
}

describe('--kill-switch (namespaces)', skipWhen(skip), () => {
  it('after SIGKILL, routed traffic of both families is refused and never reaches the server; cleanup restores exactly', async () => {
    await withClTopology(async (client, server) => {
      await startDantedBlocking(server, 1080);
      const witness = await startWitness(server);
      const before = netState(client);
      // IPv4-only tunnel: the kill-switch also refuses IPv6, which would otherwise go around the proxy.
      const z = await startZtun(client, [
        '--auto-route',
        '--no-ipv6',
        '--kill-switch',
        '--proxy',
        `socks5://${SOCKS}:1080`,
        '--stats-interval',
        '0',
      ]);
      expect(z.output()).toMatch(/ready: .*kill-switch: routed traffic is dropped if ztun dies/);
      expect(timedCurl(client, `http://${SERVER}:${HTTP_PORT}/whoami`).stdout).toBe(`${SOCKS}\n`);
      const v6Running = timedCurl(client, `http://[${SERVER6}]:${HTTP_PORT}/whoami`);
      expect(v6Running.status).not.toBe(0);

      z.proc.child.kill('SIGKILL');
      await z.proc.exited;
      await waitFor('the TUN gone', () => client.tryExec('ip', ['link', 'show', 'ztun0']).status !== 0);

      // tcpdump sees any packet at all; the witness sees any connection or datagram.
      const capture = await startCapture(server, `tcp port ${WITNESS_PORT} or udp port 9 or tcp port 8999`);
      const v4 = timedCurl(client, `http://${SERVER}:${WITNESS_PORT}/`);
      const v6 = timedCurl(client, `http://[${SERVER6}]:${WITNESS_PORT}/`);
      const udp = client.tryExec(process.execPath, [
        '-e',
        `const s=require('node:dgram').createSocket('udp4');s.send('x',9,'${SERVER}',e=>{console.log(e?e.code:'sent');process.exit(0)})`,
      ]);
      // A marker the server sends across the veth after the attempts: once tcpdump has printed it, it
      // has printed everything before it too.
      server.tryExec('curl', ['-sS', '--connect-timeout', '2', `http://${CLIENT}:8999/`]);
      await waitFor('the marker packet captured', () => capture.output().includes(`${CLIENT}.8999`), 10_000);
      await capture.stop();
      // The same for the witness: a local connection after the attempts, logged after anything before it.
      server.tryExec('curl', ['-sS', '-m', '2', `http://${SERVER}:${WITNESS_PORT}/`]);
      await waitFor('the witness logged the local marker', () =>
        witness.output().includes(`tcp from ${SERVER}`),
      );
      console.log(
        `[kill-switch] after SIGKILL: curl v4 exit ${v4.status} in ${v4.ms} ms (${v4.stderr.trim()}), ` +
          `v6 exit ${v6.status} in ${v6.ms} ms (${v6.stderr.trim()}), udp send: ${udp.stdout.trim()}`,
      );
      expect(v4.status).not.toBe(0);
      expect(v6.status).not.toBe(0);
      expect(v4.stderr).toMatch(/No route to host|Couldn't connect/i);
      expect(udp.stdout.trim()).toBe('EHOSTUNREACH');
      // Nothing from the client reached the server's addresses.
      expect(witness.output()).not.toMatch(/from (10\.221\.0\.1|fd00:221::1|::ffff:10\.221\.0\.1)\b/);
      expect(capture.output()).not.toContain(`> ${SERVER}.`);
      expect(capture.output()).not.toContain(`> ${SERVER6}.`);

      const c = client.tryExec(process.execPath, [bin, 'cleanup']);
      expect(c.status, c.stderr).toBe(0);
      expect(netState(client)).toEqual(before);
    });
  });

  it('a clean stop removes the kill-switch too; without it, a killed run fails open (documented default)', async () => {
    await withClTopology(async (client, server) => {
      await startDantedBlocking(server, 1080);
      const witness = await startWitness(server);
      const before = netState(client);
      const z = await startZtun(client, [
        '--auto-route',
        '--kill-switch',
        '--address',
        '198.18.0.1/15',
        '--address',
        'fd00:7a74::1/64',
        '--proxy',
        `socks5://${SOCKS}:1080`,
        '--stats-interval',
        '0',
      ]);
      const table = client.ipJson<{ type?: string; dst: string }[]>('-6', 'route', 'show', 'table', '31348');
      expect(table).toContainEqual(expect.objectContaining({ type: 'unreachable', dst: 'default' }));
      expect(await z.proc.stop(10_000)).toBe(0);
      expect(netState(client)).toEqual(before);

      const open = await startZtun(client, ['--auto-route', '--proxy', `socks5://${SOCKS}:1080`]);
      expect(open.output()).toMatch(/ready: .*fail-open: if ztun dies, routed traffic bypasses the tunnel/);
      open.proc.child.kill('SIGKILL');
      await open.proc.exited;
      await waitFor('the TUN gone', () => client.tryExec('ip', ['link', 'show', 'ztun0']).status !== 0);
      // The server sees the client's own address: the connection went around the proxy (and the witness
      // of the test above does see such a leak).
      expect(timedCurl(client, `http://${SERVER}:${HTTP_PORT}/whoami`).stdout).toBe(`${CLIENT}\n`);
      timedCurl(client, `http://${SERVER}:${WITNESS_PORT}/`);
      await waitFor('the witness saw the leak', () => witness.output().includes(`tcp from ${CLIENT}`));
      expect(client.tryExec(process.execPath, [bin, 'cleanup']).status).toBe(0);
      expect(netState(client)).toEqual(before);
    });
  });

  it('--dry-run shows the unreachable routes, their undo, and the IPv6 block of an IPv4-only tunnel', async () => {
    await withClTopology(async (client) => {
      const r = client.tryExec(process.execPath, [
        bin,
        'run',
        '--auto-route',
        '--no-ipv6',
        '--kill-switch',
        '--dry-run',
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('ip -4 route add unreachable default table 31348 proto 122 metric 31348');
      expect(r.stdout).toContain('ip -6 route add unreachable default table 31348 proto 122 metric 31348');
      expect(r.stdout).toContain('ip -4 route del unreachable default table 31348 proto 122 metric 31348');
      expect(r.stdout).toMatch(/note: .*IPv6 .*refused/);
    });
  });
});
