// The namespace world for the stack's integration tests and benchmarks:
//
//   client ns ── veth 10.201.0.1/24, fd00:201::1/64 ─────────── server ns 10.201.0.2/24, fd00:201::2/64
//     TUN 198.18.0.1/30, fd00:18::1/126 (NAT address .2 / ::2)   services on lo: 10.202.0.10, fd00:202::10
//     main table: 10.202.0.0/24, fd00:202::/64 → TUN              HTTP :8080 (and :8081 for faults), DNS :53,
//     table 100: the same prefixes via the veth; fwmark 0x100      danted :1080 (no auth, or username/password)
//       (the direct outbound's SO_MARK) looks up table 100
//
// The stack runs as a child process inside the client namespace (stack-runner.mjs).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Netns,
  type NetnsEnvironment,
  type SpawnedInNetns,
  spawnWithBindMounts,
  systemUserMounts,
  waitFor,
} from '@ztun/testkit';

const here = dirname(fileURLToPath(import.meta.url));
export const RUNNER = join(here, 'fixtures', 'stack-runner.mjs');
export const HTTP_SERVER = join(here, 'fixtures', 'http-server.mjs');

export const SERVER4 = '10.202.0.10';
export const SERVER6 = 'fd00:202::10';
export const PROXY4 = '10.201.0.2';
export const PROXY6 = 'fd00:201::2';
export const TUN_CIDRS = ['198.18.0.1/30', 'fd00:18::1/126'];
export const MARK = 0x100;

export function setUpTopology(env: NetnsEnvironment): { client: Netns; server: Netns; clientIf: string } {
  const client = env.ns.client!;
  const server = env.ns.server!;
  const { ifA } = env.link('client', 'server', {
    addrA: ['10.201.0.1/24', 'fd00:201::1/64'],
    addrB: ['10.201.0.2/24', 'fd00:201::2/64'],
  });
  server.ip('addr', 'add', `${SERVER4}/32`, 'dev', 'lo');
  server.ip('addr', 'add', `${SERVER6}/128`, 'dev', 'lo', 'nodad');
  client.ip('route', 'add', '10.202.0.0/24', 'via', '10.201.0.2', 'table', '100');
  client.ip('-6', 'route', 'add', 'fd00:202::/64', 'via', 'fd00:201::2', 'table', '100');
  client.ip('rule', 'add', 'fwmark', String(MARK), 'lookup', '100', 'priority', '100');
  client.ip('-6', 'rule', 'add', 'fwmark', String(MARK), 'lookup', '100', 'priority', '100');
  return { client, server, clientIf: ifA };
}

/** Routes the server prefixes into the TUN (after the runner created it). */
export function routeIntoTun(client: Netns, tunName: string): void {
  client.ip('route', 'add', '10.202.0.0/24', 'dev', tunName);
  client.ip('-6', 'route', 'add', 'fd00:202::/64', 'dev', tunName);
}

export interface HttpServer {
  proc: SpawnedInNetns;
  bigHash: string;
  smallHash: string;
}

export async function startHttp(server: Netns, port: number, bigMiB = 100): Promise<HttpServer> {
  const proc = server.spawn('node', [HTTP_SERVER, String(port), String(bigMiB)]);
  const line = await waitFor(
    `http server :${port}`,
    () => /LISTENING/.test(proc.output()) && proc.output(),
    10_000,
  );
  const m = /HASH (\w+) SMALL (\w+)/.exec(String(line))!;
  return { proc, bigHash: m[1]!, smallHash: m[2]! };
}

export interface Daemon {
  proc: SpawnedInNetns;
  dir: string;
  stop(): Promise<void>;
}

export async function startDnsmasq(server: Netns): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'ztun-dns-'));
  const conf = join(dir, 'dnsmasq.conf');
  writeFileSync(
    conf,
    [
      'no-resolv',
      'no-hosts',
      'bind-interfaces',
      `listen-address=${SERVER4}`,
      `listen-address=${SERVER6}`,
      'port=53',
      'user=root',
      `pid-file=${join(dir, 'dnsmasq.pid')}`,
      `address=/test.ztun/${SERVER4}`,
      `address=/test.ztun/${SERVER6}`,
      '',
    ].join('\n'),
  );
  const proc = server.spawn('dnsmasq', ['-k', '-C', conf]);
  await waitFor('dnsmasq listening', () => {
    const r = server.tryExec('ss', ['-Hlun', 'sport = :53']);
    return r.stdout.includes(SERVER4) && r.stdout.includes(SERVER6.replace(/^fd00/, 'fd00'));
  });
  return {
    proc,
    dir,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts danted on PROXY4/PROXY6:`port`. With `auth`, it requires SOCKS5 username/password
 * (`socksmethod: username`, checked against the system password database): danted then runs in a private
 * mount namespace whose /etc/passwd and /etc/shadow are copies adding that user — the host's stay untouched.
 */
export async function startDanted(
  server: Netns,
  port = 1080,
  auth?: { username: string; password: string },
): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'ztun-socks-'));
  const conf = join(dir, 'danted.conf');
  writeFileSync(
    conf,
    [
      'logoutput: stderr',
      `internal: ${PROXY4} port = ${port}`,
      `internal: ${PROXY6} port = ${port}`,
      `external: ${PROXY4}`,
      `external: ${PROXY6}`,
      `socksmethod: ${auth ? 'username' : 'none'}`,
      'clientmethod: none',
      // root reads /etc/shadow for `username` (and binds the sockets).
      'user.privileged: root',
      'user.unprivileged: root',
      'client pass { from: 0/0 to: 0/0 }',
      'socks pass { from: 0/0 to: 0/0 command: connect udpassociate udpreply }',
      '',
    ].join('\n'),
  );
  const pidfile = join(dir, 'danted.pid');
  const args = ['-f', conf, '-p', pidfile, '-N', '1'];
  const proc = auth
    ? spawnWithBindMounts(server, systemUserMounts(dir, auth.username, auth.password), 'danted', args)
    : server.spawn('danted', args);
  await waitFor(
    `danted :${port}`,
    () => server.tryExec('ss', ['-Hltn', `sport = :${port}`]).stdout.trim().length > 0,
    10_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- danted output ---\n${proc.output()}`);
  });
  return {
    proc,
    dir,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface StackRunner {
  proc: SpawnedInNetns;
  tunName: string;
  counters(): Promise<{
    stack: Record<string, unknown> & { drops: Record<string, number> };
    device: Record<string, number>;
    /** Bytes moved by the splice relay (runs with `splice: true`). */
    spliced: { bytesAtoB: number; bytesBtoA: number };
  }>;
  /** Sends packets out of the TUN so the stack reads them; resolves with sendto's results. */
  inject(packets: Uint8Array[]): Promise<number[]>;
  stop(): Promise<void>;
}

let runnerCount = 0;

export async function startStack(
  client: Netns,
  outbound: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<StackRunner> {
  const tunName =
    (extra.tunName as string | undefined) ?? `zts${process.pid.toString(36)}${runnerCount++}`.slice(0, 15);
  const config = { tunName, mtu: 65535, cidrs: TUN_CIDRS, outbound, ...extra };
  // exec keeps the runner's PID the one we stop; the higher fd limit lets benchmarks hold 10k connections.
  const nodeArgs = [...((extra.nodeArgs as string[] | undefined) ?? []), RUNNER, JSON.stringify(config)];
  const quoted = nodeArgs.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const proc = client.spawn('sh', ['-c', `ulimit -n 65536 2>/dev/null; exec node ${quoted}`], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await waitFor(
    'stack runner ready',
    () => /READY/.test(proc.output()) || proc.child.exitCode !== null,
    15_000,
  );
  if (!/READY/.test(proc.output())) throw new Error(`stack runner failed: ${proc.output()}`);
  let seen = 0;
  const ask = async (cmd: string, reply: string): Promise<string> => {
    const before = proc.output().length;
    proc.child.stdin!.write(`${cmd}\n`);
    const line = await waitFor(`runner reply to ${cmd.slice(0, 20)}`, () => {
      const out = proc.output().slice(Math.max(before, seen));
      const i = out.indexOf(reply);
      if (i < 0) return undefined;
      const end = out.indexOf('\n', i);
      if (end < 0) return undefined;
      seen = Math.max(before, seen) + end;
      return out.slice(i + reply.length, end);
    });
    return line;
  };
  return {
    proc,
    tunName,
    counters: async () => JSON.parse(await ask('counters', 'COUNTERS ')),
    inject: async (packets) => {
      const r = await ask(
        `inject ${packets.map((p) => Buffer.from(p).toString('hex')).join(' ')}`,
        'INJECTED ',
      );
      return r.split(' ').map(Number);
    },
    stop: async () => {
      if (proc.child.exitCode === null) proc.child.stdin!.write('quit\n');
      await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 3000))]);
      await proc.stop();
    },
  };
}
