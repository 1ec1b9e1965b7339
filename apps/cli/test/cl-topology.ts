import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Netns,
  type NetnsEnvironment,
  type SpawnedInNetns,
  waitFor,
  withNetnsEnvironment,
} from '@ztun/testkit';
import { startHttp } from './helpers.js';

// The topology of the kill-switch, proxy-DNS and lifecycle namespace tests (tag "cl"): client (runs ztun)
// ↔ veth 10.221.0.0/30, fd00:221::/64 ↔ server. The server holds on its loopback the HTTP server
// (10.222.0.2, fd00:222::2), a SOCKS5 proxy address (10.222.0.1) and a resolver address (10.222.0.53), all
// reached from the client only through its default gateway, so `--auto-route` sends them into the TUN
// unless ztun's rules or marks say otherwise.

export const HTTP_PORT = 8080;
export const SERVER = '10.222.0.2';
export const SERVER6 = 'fd00:222::2';
export const SOCKS = '10.222.0.1';
export const RESOLVER = '10.222.0.53';
/** The client's own veth addresses: what the server sees when traffic does not go through the proxy. */
export const CLIENT = '10.221.0.1';
export const CLIENT6 = 'fd00:221::1';
/** The server end of the veth pair (tcpdump listens there). */
export const SERVER_IF = 'v0server';

export async function withClTopology(
  fn: (client: Netns, server: Netns) => Promise<void>,
  tag = 'cl',
): Promise<void> {
  await withNetnsEnvironment(tag, ['client', 'server'], async (env: NetnsEnvironment) => {
    const { client, server } = env.ns as { client: Netns; server: Netns };
    const { ifB } = env.link('client', 'server', {
      addrA: [`${CLIENT}/30`, `${CLIENT6}/64`],
      addrB: ['10.221.0.2/30', 'fd00:221::2/64'],
    });
    if (ifB !== SERVER_IF) throw new Error(`unexpected server interface ${ifB}`);
    for (const a of [`${SOCKS}/32`, `${SERVER}/32`, `${RESOLVER}/32`, `${SERVER6}/128`])
      server.ip('addr', 'add', a, 'dev', 'lo');
    client.ip('-4', 'route', 'add', 'default', 'via', '10.221.0.2');
    client.ip('-6', 'route', 'add', 'default', 'via', 'fd00:221::2');
    await startHttp(server, HTTP_PORT, [SERVER, SERVER6]);
    // Snapshots must not differ for reasons unrelated to ztun (DAD finishing on the link-local address).
    await waitFor(
      'settled IPv6 link-local address on the client veth',
      () => {
        const out = client.ip('-6', 'addr', 'show', 'scope', 'link');
        return (
          out.includes('fe80::') &&
          !out.includes('tentative') &&
          client.ip('-6', 'route', 'show', 'table', 'local').includes('fe80::')
        );
      },
      20_000,
    );
    await fn(client, server);
  });
}

/**
 * dnsmasq on RESOLVER:53 (UDP and TCP), answering only its `--host-record`s (`name,address[,ttl]`) and
 * logging every query (`query[A] name from X`).
 */
export async function startDnsmasq(server: Netns, records: readonly string[]): Promise<SpawnedInNetns> {
  const p = server.spawn('dnsmasq', [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--pid-file=',
    '--user=root',
    '--bind-interfaces',
    `--listen-address=${RESOLVER}`,
    ...records.map((r) => `--host-record=${r}`),
    '--log-queries',
    '--log-facility=-',
  ]);
  await waitFor(
    'dnsmasq listening',
    () => {
      const r = server.tryExec('ss', ['-Hlun', `sport = :53`]);
      return r.status === 0 && r.stdout.includes(RESOLVER);
    },
    10_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- dnsmasq output ---\n${p.output()}`);
  });
  return p;
}

/**
 * danted on SOCKS:port; `blocked` destinations are refused for every command (CONNECT and UDP ASSOCIATE
 * alike), e.g. a resolver that must be reachable only outside the tunnel.
 */
export async function startDantedBlocking(
  server: Netns,
  port: number,
  blocked: readonly string[] = [],
): Promise<SpawnedInNetns> {
  const dir = mkdtempSync(join(tmpdir(), 'ztun-cl-danted-'));
  const conf = join(dir, 'danted.conf');
  writeFileSync(
    conf,
    [
      'logoutput: stderr',
      `internal: ${SOCKS} port = ${port}`,
      `external: ${SOCKS}`,
      'socksmethod: none',
      'clientmethod: none',
      'user.privileged: root',
      'user.unprivileged: nobody',
      'client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }',
      ...blocked.map((b) => `socks block { from: 0.0.0.0/0 to: ${b}/32 log: connect }`),
      'socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect udpassociate bind udpreply }',
      '',
    ].join('\n'),
  );
  const p = server.spawn('danted', ['-f', conf, '-p', join(dir, 'danted.pid'), '-N', '1']);
  await waitFor(
    'danted listening',
    () => {
      const r = server.tryExec('ss', ['-Hltn', `sport = :${port}`]);
      return r.status === 0 && r.stdout.trim().length > 0;
    },
    10_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- danted output ---\n${p.output()}`);
  });
  return p;
}

/** tcpdump on the server's veth end, line-buffered; resolves once it captures. */
export async function startCapture(server: Netns, filter: string): Promise<SpawnedInNetns> {
  const p = server.spawn('tcpdump', ['-i', SERVER_IF, '-n', '-l', '-U', filter]);
  await waitFor('tcpdump capturing', () => /listening on/.test(p.output()), 10_000).catch((err: Error) => {
    throw new Error(`${err.message}\n--- tcpdump output ---\n${p.output()}`);
  });
  return p;
}

/** JSON stats lines printed so far. */
export function statsLines<T = Record<string, unknown>>(output: string): T[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
}
