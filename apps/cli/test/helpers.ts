import { mkdtempSync, writeFileSync } from 'node:fs';
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
  withNetnsEnvironment,
} from '@ztun/testkit';

const here = dirname(fileURLToPath(import.meta.url));
export const bin = join(here, '..', 'dist', 'bin.js');
export const httpServerScript = join(here, '..', 'scripts', 'http-server.mjs');

/** Everything `ip -j` shows about links, addresses, routes (all tables) and rules, both families. */
export function netState(ns: Netns): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        // DAD finishing on link-local addresses and address lifetimes change on their own.
        if (k === 'tentative' || k === 'valid_life_time' || k === 'preferred_life_time') continue;
        out[k] = strip(x);
      }
      return out;
    }
    return v;
  };
  return strip({
    link: ns.ipJson('link', 'show'),
    addr: ns.ipJson('addr', 'show'),
    route4: ns.ipJson('-4', 'route', 'show', 'table', 'all'),
    route6: ns.ipJson('-6', 'route', 'show', 'table', 'all'),
    rule4: ns.ipJson('-4', 'rule', 'show'),
    rule6: ns.ipJson('-6', 'rule', 'show'),
  });
}

export interface ZtunProcess {
  readonly proc: SpawnedInNetns;
  /** Lines the process printed so far. */
  output(): string;
}

/** Starts `ztun run ARGS` in `ns` and waits for its "ready" line (or fails with its output). */
export async function startZtun(
  ns: Netns,
  args: readonly string[],
  timeoutMs = 15_000,
): Promise<ZtunProcess> {
  const proc = ns.spawn(process.execPath, [bin, 'run', ...args]);
  let exited: number | string | undefined;
  void proc.exited.then((c) => {
    exited = c;
  });
  await waitFor(
    'ztun ready',
    () => {
      if (exited !== undefined) throw new Error(`ztun exited (${exited}) before ready:\n${proc.output()}`);
      return proc.output().includes('ztun: ready:');
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- ztun output ---\n${proc.output()}`);
  });
  return { proc, output: () => proc.output() };
}

/** Starts the test HTTP server in `ns` on `hosts`:`port`, waits until it listens. */
export async function startHttp(ns: Netns, port: number, hosts: string[]): Promise<SpawnedInNetns> {
  const p = ns.spawn(process.execPath, [httpServerScript, hosts[0]!, String(port), ...hosts.slice(1)]);
  await waitFor('http server', () => p.output().includes('listening'), 10_000);
  return p;
}

/**
 * Starts danted in `ns` listening on `host`:`port` from a temporary config; waits until it listens. With
 * `auth` it requires SOCKS5 username/password (`socksmethod: username`, checked against the system password
 * database), so it runs in a private mount namespace whose /etc/passwd and /etc/shadow add that user.
 */
export async function startDanted(
  ns: Netns,
  host: string,
  port: number,
  auth?: { username: string; password: string },
): Promise<SpawnedInNetns> {
  const dir = mkdtempSync(join(tmpdir(), 'ztun-danted-'));
  const conf = join(dir, 'danted.conf');
  writeFileSync(
    conf,
    [
      'logoutput: stderr',
      `internal: ${host} port = ${port}`,
      `external: ${host}`,
      `socksmethod: ${auth ? 'username' : 'none'}`,
      'clientmethod: none',
      'user.privileged: root', // reads /etc/shadow for `username`
      'user.unprivileged: nobody',
      'client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }',
      'socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect udpassociate bind }',
      '',
    ].join('\n'),
  );
  const args = ['-f', conf, '-p', join(dir, 'danted.pid'), '-N', '1'];
  const p = auth
    ? spawnWithBindMounts(ns, systemUserMounts(dir, auth.username, auth.password), 'danted', args)
    : ns.spawn('danted', args);
  await waitFor(
    'danted listening',
    () => {
      const r = ns.tryExec('ss', ['-Hltn', `sport = :${port}`]);
      return r.status === 0 && r.stdout.trim().length > 0;
    },
    10_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- danted output ---\n${p.output()}`);
  });
  return p;
}

/** curl inside `ns`; returns status and body. */
export function curl(
  ns: Netns,
  url: string,
  extra: string[] = [],
): { status: number; body: string; err: string } {
  const r = ns.tryExec('curl', ['-sS', '-m', '20', ...extra, url]);
  return { status: r.status, body: r.stdout, err: r.stderr };
}

export { writeFileSync };

/**
 * A client namespace whose default routes (v4 and v6) go over a veth (`link` + .1/.2 /30, `link6` ::1/::2 /64)
 * to a server namespace holding `serverAddresses` (v4 /32, v6 /128) on its loopback; removed afterwards.
 */
export async function withClientServer(
  name: string,
  net: { link: string; link6: string; serverAddresses: { ipv4: string; ipv6: string } },
  fn: (client: Netns, server: Netns) => Promise<void>,
): Promise<void> {
  await withNetnsEnvironment(name, ['client', 'server'], async (env: NetnsEnvironment) => {
    const { client, server } = env.ns as { client: Netns; server: Netns };
    env.link('client', 'server', {
      addrA: [`${net.link}.1/30`, `${net.link6}::1/64`],
      addrB: [`${net.link}.2/30`, `${net.link6}::2/64`],
    });
    server.ip('addr', 'add', `${net.serverAddresses.ipv4}/32`, 'dev', 'lo');
    server.ip('addr', 'add', `${net.serverAddresses.ipv6}/128`, 'dev', 'lo', 'nodad');
    client.ip('-4', 'route', 'add', 'default', 'via', `${net.link}.2`);
    client.ip('-6', 'route', 'add', 'default', 'via', `${net.link6}::2`);
    await fn(client, server);
  });
}
