import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  missingCommandsReason,
  type Netns,
  netnsSkipReason,
  type SpawnedInNetns,
  skipWhen,
  spawnWithBindMounts,
  waitFor,
} from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import {
  CLIENT,
  CLIENT6,
  HTTP_PORT,
  RESOLVER,
  SERVER,
  SERVER6,
  SOCKS,
  startCapture,
  startDantedBlocking,
  startDnsmasq,
  statsLines,
  withClTopology,
} from './cl-topology.js';
import { bin, netState, startZtun } from './helpers.js';
import { startSshSocks } from './ssh-socks.js';

// Issue 15 items 1, 2 and 6 with real parts: OpenSSH's `ssh -D` (CONNECT only) and danted (UDP ASSOCIATE
// too) as proxies, dnsmasq as the resolver behind them, ztun with --auto-route in the client namespace.

const skip =
  netnsSkipReason() ??
  missingCommandsReason(['dnsmasq', 'danted', 'sshd', 'ssh', 'ssh-keygen', 'dig', 'curl', 'tcpdump']);

const NAME = 'name.test';

interface Stats {
  udpAssociateFailures: number;
  dnsOverTcpQueries?: number;
}

function dig(client: Netns, tries = 2): { status: number; answer: string } {
  const r = client.tryExec('dig', ['+short', '+time=5', `+tries=${tries}`, `@${RESOLVER}`, NAME]);
  return { status: r.status, answer: r.stdout.trim() };
}

/** curl by name, resolving through RESOLVER (the client's /etc/resolv.conf replaced in a mount namespace). */
async function curlByName(client: Netns): Promise<{ code: number | string; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ztun-dn-'));
  writeFileSync(join(dir, 'resolv.conf'), `nameserver ${RESOLVER}\noptions timeout:5 attempts:2\n`);
  const p = spawnWithBindMounts(
    client,
    [{ source: join(dir, 'resolv.conf'), target: '/etc/resolv.conf' }],
    'curl',
    ['-sS', '-m', '30', `http://${NAME}:${HTTP_PORT}/whoami`],
  );
  const code = await p.exited;
  return { code, output: p.output() };
}

const lastStats = (output: string) => statsLines<Stats>(output).at(-1);

/** No packet to or from port 53 crossed the client's veth: shown by a dig sent outside the tunnel afterwards,
 *  which tcpdump must see as its first and only packets. */
async function expectNoDnsLeft(client: Netns, capture: SpawnedInNetns): Promise<void> {
  const r = client.tryExec('dig', ['+short', '+time=2', '+tries=1', `@${RESOLVER}`, 'after.test']);
  expect(r.status).toBe(0);
  await waitFor('the control query captured', () => capture.output().includes('after.test'), 10_000);
  const packets = capture
    .output()
    .split('\n')
    .filter((l) => / IP6? /.test(l));
  expect(packets[0], capture.output()).toMatch(/after\.test/);
}

describe('DNS through proxies that do or do not relay UDP (namespaces)', skipWhen(skip), () => {
  it('ssh -D: the probe says no UDP; dig and curl by name work through DNS over TCP; no port-53 packet leaves', async () => {
    await withClTopology(async (client, server) => {
      const dnsmasq = await startDnsmasq(server, [`${NAME},${SERVER}`, `after.test,${SERVER}`]);
      const ssh = await startSshSocks(server, SOCKS, 1080);
      const capture = await startCapture(server, 'port 53');
      const z = await startZtun(client, [
        '--auto-route',
        '--proxy',
        `socks5://${SOCKS}:1080`,
        '--stats-interval',
        '500ms',
      ]);
      expect(z.output()).toMatch(
        /ztun: proxy socks5:\/\/10\.222\.0\.1:1080 does not relay UDP \(UDP ASSOCIATE dropped the request .*\): other UDP is dropped; DNS goes over TCP through CONNECT \(--dns auto\)\n/,
      );
      const d = dig(client);
      expect(d, z.output()).toEqual({ status: 0, answer: SERVER });
      // A figure, not an assertion: each dig is a new UDP session; ztun reuses its TCP connection.
      const ms: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        expect(dig(client).answer).toBe(SERVER);
        ms.push(Math.round(performance.now() - t0));
      }
      ms.sort((a, b) => a - b);
      console.log(
        `[dns] 10 digs through ssh -D as DNS over TCP: min ${ms[0]} median ${ms[5]} max ${ms[9]} ms (dig process included)`,
      );
      const c = await curlByName(client);
      expect(c.code, c.output + z.output()).toBe(0);
      expect(c.output).not.toBe(CLIENT);
      // The queries reached dnsmasq over TCP through sshd's forwarding, as did the HTTP connection.
      await waitFor(
        'sshd logged both targets',
        () => [`${RESOLVER}:53`, `${SERVER}:${HTTP_PORT}`].every((t) => ssh.targets().includes(t)),
        10_000,
      );
      await waitFor(
        'dnsmasq logged the query from sshd',
        () => dnsmasq.output().includes(`query[A] ${NAME} from ${RESOLVER}`),
        10_000,
      );
      await waitFor(
        'stats with the DNS-over-TCP queries',
        () => (lastStats(z.output())?.dnsOverTcpQueries ?? 0) >= 2,
        10_000,
      );
      // DNS never asked ssh -D for UDP: no failed association.
      expect(lastStats(z.output())?.udpAssociateFailures).toBe(0);
      expect(await z.proc.stop(10_000)).toBe(0);
      await expectNoDnsLeft(client, capture);
    }, 'dn');
  });

  it('danted: the probe says UDP is relayed and dig goes as UDP through UDP ASSOCIATE', async () => {
    await withClTopology(async (client, server) => {
      const dnsmasq = await startDnsmasq(server, [`${NAME},${SERVER}`]);
      await startDantedBlocking(server, 1080);
      const z = await startZtun(client, [
        '--auto-route',
        '--proxy',
        `socks5://${SOCKS}:1080`,
        '--stats-interval',
        '500ms',
      ]);
      expect(z.output()).toMatch(
        /ztun: proxy socks5:\/\/10\.222\.0\.1:1080 relays UDP \(UDP ASSOCIATE granted, relay 10\.222\.0\.1:\d+\); DNS goes as UDP \(--dns auto\)\n/,
      );
      expect(dig(client), z.output()).toEqual({ status: 0, answer: SERVER });
      // danted relayed the datagram from its own address (a TCP query through CONNECT would come from there too,
      // so the stats tell them apart).
      await waitFor(
        'dnsmasq logged the query from danted',
        () => dnsmasq.output().includes(`query[A] ${NAME} from ${SOCKS}`),
        10_000,
      );
      await waitFor('a stats line after the query', () => statsLines(z.output()).length >= 2, 10_000);
      expect(lastStats(z.output())?.dnsOverTcpQueries).toBe(0);
      expect(await z.proc.stop(10_000)).toBe(0);
    }, 'dn');
  });

  it('ssh -D with --dns udp: every UDP session fails its ASSOCIATE, counted in udpAssociateFailures, warned once', async () => {
    await withClTopology(async (client, server) => {
      await startDnsmasq(server, [`${NAME},${SERVER}`]);
      await startSshSocks(server, SOCKS, 1080);
      const z = await startZtun(client, [
        '--auto-route',
        '--proxy',
        `socks5://${SOCKS}:1080`,
        '--dns',
        'udp',
        '--stats-interval',
        '500ms',
      ]);
      expect(z.output()).toMatch(/does not relay UDP .*DNS queries are lost too \(--dns udp\)/);
      // Two sessions (dig uses a new source port per run): the query is lost, the failure counted.
      expect(dig(client, 1).status).not.toBe(0);
      expect(dig(client, 1).status).not.toBe(0);
      await waitFor(
        'two failed associations in the stats',
        () => (lastStats(z.output())?.udpAssociateFailures ?? 0) >= 2,
        10_000,
      );
      const warnings = z
        .output()
        .match(/warn: UDP ASSOCIATE through proxy socks5:\/\/10\.222\.0\.1:1080 failed: .*/g);
      expect(warnings, z.output()).toHaveLength(1);
      expect(await z.proc.stop(10_000)).toBe(0);
    }, 'dn');
  });

  it('ssh -D, --dns fake-ip --dns-hijack: curl by name goes to the proxy as a name; no query leaves, not even to dnsmasq', async () => {
    await withClTopology(async (client, server) => {
      const dnsmasq = await startDnsmasq(server, [`${NAME},${SERVER}`, `after.test,${SERVER}`]);
      // The proxy knows the name from its own /etc/hosts: dnsmasq should see no query at all.
      const ssh = await startSshSocks(server, SOCKS, 1080, 2222, [`${SERVER} ${NAME}`]);
      const capture = await startCapture(server, 'port 53');
      const z = await startZtun(client, [
        '--auto-route',
        '--proxy',
        `socks5://${SOCKS}:1080`,
        '--dns',
        'fake-ip',
        '--dns-hijack',
        '--stats-interval',
        '0',
      ]);
      expect(z.output()).toMatch(
        /ztun: fake-ip: A\/AAAA answered from 198\.19\.0\.0\/16 and fd7a:7a74:0:0:8000::\/65 for queries to any resolver/,
      );
      // The answer is a fake address, from the tunnel, whichever resolver was asked.
      const d = dig(client);
      expect(d.status, z.output()).toBe(0);
      expect(d.answer).toMatch(/^198\.19\.\d+\.\d+$/);
      const own = client.tryExec('dig', ['+short', '+time=5', '@198.19.0.1', NAME]);
      expect(own.stdout.trim()).toBe(d.answer);
      const c = await curlByName(client);
      expect(c.code, c.output + z.output()).toBe(0);
      // sshd was asked for the name (SOCKS5 ATYP=DOMAINNAME) and resolved it itself.
      await waitFor('sshd logged the name', () => ssh.targets().includes(`${NAME}:${HTTP_PORT}`), 10_000);
      expect(dnsmasq.output()).not.toContain(`query[A] ${NAME}`);
      expect(await z.proc.stop(10_000)).toBe(0);
      await expectNoDnsLeft(client, capture);
    }, 'dn');
  });

  it('SIGINT while the proxy host is still resolving stops at once, with one line, nothing changed', async () => {
    await withClTopology(async (client) => {
      // A resolver nobody answers for: resolution would run into its 10 s deadline.
      const dir = mkdtempSync(join(tmpdir(), 'ztun-dn-'));
      writeFileSync(join(dir, 'resolv.conf'), 'nameserver 10.222.0.54\noptions timeout:1 attempts:1\n');
      const before = netState(client);
      const z = spawnWithBindMounts(
        client,
        [{ source: join(dir, 'resolv.conf'), target: '/etc/resolv.conf' }],
        process.execPath,
        [bin, 'run', '--auto-route', '--proxy', 'socks5://proxy.test:1080'],
      );
      await waitFor(
        'the progress line',
        () => z.output().includes('resolving proxy host proxy.test'),
        10_000,
      );
      z.child.kill('SIGINT');
      expect(await z.exited, z.output()).toBe(0);
      expect(z.output()).toMatch(
        /ztun: SIGINT while resolving the proxy host: stopped before ready; nothing was changed\n/,
      );
      expect(z.output()).not.toMatch(/did not resolve|ready:/);
      expect(netState(client)).toEqual(before);
    }, 'dn');
  });

  it('IPv6 with the defaults: curl -6 goes through ztun and the proxy, never around it', async () => {
    await withClTopology(async (client, server) => {
      const ssh = await startSshSocks(server, SOCKS, 1080);
      const capture = await startCapture(server, `ip6 and host ${SERVER6}`);
      const z = await startZtun(client, [
        '--auto-route',
        '--proxy',
        `socks5://${SOCKS}:1080`,
        '--stats-interval',
        '500ms',
      ]);
      expect(z.output()).toMatch(
        /ready: ztun0 198\.18\.0\.1\/15 fd7a:7a74::1\/64 .*auto-route \(IPv4 and IPv6\)/,
      );
      const r = client.tryExec('curl', ['-sS', '-6', '-m', '20', `http://[${SERVER6}]:${HTTP_PORT}/whoami`]);
      expect(r.status, r.stderr + z.output()).toBe(0);
      // The proxy made the connection (CONNECT to the IPv6 address), and ztun carried the bytes.
      await waitFor(
        'sshd logged the IPv6 target',
        () => ssh.targets().includes(`${SERVER6}:${HTTP_PORT}`),
        10_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${ssh.targets().join(' ')}\n${z.output()}`);
      });
      await waitFor(
        'stats counting the download',
        () => ((lastStats(z.output()) as { bytesIn?: number })?.bytesIn ?? 0) > 0,
        10_000,
      );
      expect(await z.proc.stop(10_000)).toBe(0);
      // Control: the same request without ztun crosses the veth, and tcpdump shows it as its first packet.
      const direct = client.tryExec('curl', [
        '-sS',
        '-6',
        '-m',
        '10',
        `http://[${SERVER6}]:${HTTP_PORT}/whoami`,
      ]);
      expect(direct.stdout.trim()).toBe(CLIENT6);
      await waitFor('the direct request captured', () => / IP6 /.test(capture.output()), 10_000);
      const first = capture
        .output()
        .split('\n')
        .find((l) => / IP6 /.test(l));
      expect(first).toContain(`${CLIENT6}.`);
      expect(first).toMatch(/Flags \[S\]/);
      expect(
        capture
          .output()
          .split('\n')
          .filter((l) => /Flags \[S\]/.test(l)),
      ).toHaveLength(1);
    }, 'dn');
  });
});
