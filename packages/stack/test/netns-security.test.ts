// Security and robustness of the stack for real, in namespaces (issue 10): the tunnel's own outbound must
// never re-enter the TUN (a loop), every UDP session owns its outbound port (replies never reach another
// client), the SOCKS5 UDP relay socket takes datagrams only from the relay, and UDP from source port 0 opens
// no session. Topology and servers from env.ts; the client programs are fixtures.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  missingCommandsReason,
  type Netns,
  netnsSkipReason,
  type SpawnedInNetns,
  skipWhen,
  waitFor,
  withNetnsEnvironment,
} from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { buildUdpPacket, parseIp } from '../src/wire.js';
import {
  MARK,
  PROXY4,
  routeIntoTun,
  SERVER4,
  SERVER6,
  type StackRunner,
  setUpTopology,
  startDanted,
  startStack,
} from './env.js';

const run = promisify(execFile);
const skip = netnsSkipReason() ?? missingCommandsReason(['curl', 'ping', 'danted', 'ss', 'python3']);

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const UDP_ECHO = join(FIXTURES, 'udp-echo.mjs');
const UDP_CLIENTS = join(FIXTURES, 'udp-clients.mjs');
/** TUN prefixes with room for unused addresses (env.ts's TUN_CIDRS are a /30 and a /126). */
const WIDE_CIDRS = ['198.18.0.1/15', 'fd00:18::1/64'];
const ECHO_PORT = 7000;

async function inNs(
  ns: Netns,
  cmd: string,
  timeoutMs = 60_000,
): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run('ip', ['netns', 'exec', ns.name, 'sh', '-c', cmd], {
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      out: err.stdout ?? '',
      err: err.stderr ?? '',
    };
  }
}

/**
 * One datagram from a connected UDP socket in `ns` to host:port; prints `ERR <code>` when an ICMP error
 * comes back (a connected socket reports hard ICMP errors), `MSG` on a reply, `NOTHING` after `waitMs`.
 */
async function udpProbe(ns: Netns, host: string, port: number, waitMs = 3000): Promise<string> {
  const script = `const s=require('node:dgram').createSocket(require('node:net').isIPv6('${host}')?'udp6':'udp4');
s.on('error',(e)=>{console.log('ERR '+e.code);process.exit(0)});
s.on('message',()=>{console.log('MSG');process.exit(0)});
s.connect(${port},'${host}',()=>s.send('x'));
setTimeout(()=>{console.log('NOTHING');process.exit(0)},${waitMs});`;
  const r = await run('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], { timeout: 30_000 });
  return r.stdout.trim();
}

const url = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;

async function startEcho(server: Netns, host: string): Promise<SpawnedInNetns> {
  const echo = server.spawn(process.execPath, [UDP_ECHO, host, String(ECHO_PORT)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await waitFor('udp echo listening', () => echo.output().includes('LISTENING'), 10_000);
  return echo;
}

async function echoStats(echo: SpawnedInNetns): Promise<{ ids: number; ports: number; sharedPorts: number }> {
  const before = echo.output().length;
  echo.child.stdin!.write('stats\n');
  const line = await waitFor('echo stats', () => {
    const m = /STATS (\{.*\})\n/.exec(echo.output().slice(before));
    return m?.[1];
  });
  return JSON.parse(line);
}

interface ClientsResult {
  clients: number;
  own: number;
  misdelivered: number;
  missing: number;
}

function spawnClients(ns: Netns, host: string, count: number, firstPort: number): SpawnedInNetns {
  return ns.spawn(process.execPath, [UDP_CLIENTS, host, String(ECHO_PORT), String(count), String(firstPort)]);
}

async function clientsResult(p: SpawnedInNetns): Promise<ClientsResult> {
  const line = await waitFor('udp clients done', () => /RESULT (\{.*\})/.exec(p.output())?.[1], 90_000, 200);
  return JSON.parse(line);
}

interface StackFigures {
  udpTotal: number;
  tcpTotal: number;
  rxPackets: number;
  drops: Record<string, number>;
}
/** The stack's counters from the runner. */
async function countersOf(stack: StackRunner): Promise<StackFigures> {
  return (await stack.counters()).stack as unknown as StackFigures;
}
const figures = (c: StackFigures) =>
  `udpTotal ${c.udpTotal}, tcpTotal ${c.tcpTotal}, rxPackets ${c.rxPackets}, loop ${c.drops.loop}`;

describe('loop protection in namespaces', skipWhen(skip), () => {
  it('a datagram or SYN to an unused address of the TUN prefixes is refused (ICMP / RST, drop `loop`): no session, no loop', {
    timeout: 120_000,
  }, async () => {
    await withNetnsEnvironment('skl', ['client', 'server'], async (env) => {
      const { client } = setUpTopology(env);
      // Pinned like the CLI: the mark's table has no route for 198.18.0.0/15, so the outbound's socket
      // falls through to main, whose connected route is the TUN.
      const stack = await startStack(client, { kind: 'direct', mark: MARK }, { cidrs: WIDE_CIDRS });
      try {
        routeIntoTun(client, stack.tunName);
        const c0 = await countersOf(stack);
        // One datagram (IPv4), then look: the issue's loop made hundreds of sessions from it.
        const one = await udpProbe(client, '198.18.5.5', 9);
        const c1 = await countersOf(stack);
        console.log(`[loop] one datagram to 198.18.5.5:9 → client saw "${one}"; ${figures(c1)}`);
        expect(c1.udpTotal, `no session for it (${figures(c1)})`).toBe(c0.udpTotal);
        expect(one, 'the client gets an ICMP error').toMatch(/^ERR /);
        expect(await udpProbe(client, 'fd00:18::5', 9), 'IPv6 datagram').toMatch(/^ERR /);
        for (const host of ['198.18.5.5', 'fd00:18::5']) {
          const r = await inNs(client, `curl -sS --max-time 5 -o /dev/null ${url(host, 80)}`);
          expect(r.code, `curl to ${host}: ${r.err}`).toBe(7); // refused: a RST answered the SYN
        }
        const c2 = await countersOf(stack);
        expect(c2.udpTotal).toBe(c0.udpTotal);
        expect(c2.tcpTotal).toBe(c0.tcpTotal);
        expect(c2.drops.loop - c0.drops.loop).toBeGreaterThanOrEqual(4);
        // Nothing keeps circulating: two pings later the stack has read just those two requests.
        expect((await inNs(client, `ping -c 2 -i 0.2 -W 2 ${SERVER4}`)).code).toBe(0);
        const c3 = await countersOf(stack);
        console.log(`[loop] after the refusals and two pings: ${figures(c3)}`);
        expect(c3.rxPackets - c2.rxPackets, 'packets read around two pings').toBeLessThanOrEqual(6);
        expect(c3.udpTotal).toBe(c0.udpTotal);
      } finally {
        await stack.stop();
      }
    });
  });

  it('an outbound socket that a route sends back into the TUN is recognised: the client gets ICMP / RST, one session each', {
    timeout: 120_000,
  }, async () => {
    await withNetnsEnvironment('skd', ['client', 'server'], async (env) => {
      const { client } = setUpTopology(env);
      // Unpinned: the outbound's own sockets follow the main table, which routes the servers into the TUN.
      const stack = await startStack(client, { kind: 'direct' });
      try {
        routeIntoTun(client, stack.tunName);
        const c0 = await countersOf(stack);
        const one = await udpProbe(client, SERVER4, 9);
        const c1 = await countersOf(stack);
        console.log(`[loop, by route] one datagram to ${SERVER4}:9 → client saw "${one}"; ${figures(c1)}`);
        expect(c1.udpTotal - c0.udpTotal, `only the client's own session (${figures(c1)})`).toBe(1);
        expect(one, 'the client gets an ICMP error').toMatch(/^ERR /);
        expect(await udpProbe(client, SERVER6, 9), 'IPv6 datagram').toMatch(/^ERR /);
        for (const host of [SERVER4, SERVER6]) {
          const r = await inNs(client, `curl -sS --max-time 5 -o /dev/null ${url(host, 8080)}`);
          // Reset: right after the listener's handshake (7, when curl checks SO_ERROR) or later (52, 56).
          expect([7, 52, 56], `curl to ${host}: ${r.code} ${r.err}`).toContain(r.code);
        }
        const c2 = await countersOf(stack);
        expect(c2.udpTotal - c0.udpTotal).toBe(2);
        expect(c2.tcpTotal - c0.tcpTotal).toBe(2);
        expect(c2.drops.loop - c0.drops.loop).toBeGreaterThanOrEqual(4);
        expect((await inNs(client, `ping -c 2 -i 0.2 -W 2 ${SERVER4}`)).code).toBe(0);
        const c3 = await countersOf(stack);
        expect(c3.rxPackets - c2.rxPackets, 'packets read around two pings').toBeLessThanOrEqual(6);
      } finally {
        await stack.stop();
      }
    });
  });
});

describe('UDP sessions own their outbound ports', skipWhen(skip), () => {
  // 19,500 at once: the fd hard limit here is 20,000 per process, and the stack holds one socket per session.
  const SESSIONS = 19_500;
  it(`${SESSIONS} concurrent sessions through the direct outbound: every reply reaches its own client`, {
    timeout: 180_000,
  }, async () => {
    await withNetnsEnvironment('sku', ['client', 'server'], async (env) => {
      const { client, server } = setUpTopology(env);
      const echo = await startEcho(server, SERVER4);
      const stack = await startStack(
        client,
        { kind: 'direct', mark: MARK },
        { stackOptions: { maxUdpSessions: SESSIONS + 100, udpTimeoutMs: 120_000 } },
      );
      try {
        routeIntoTun(client, stack.tunName);
        // Clients bind ports 10000… below the ephemeral range (32768-60999) the outbound sockets draw from.
        const half = SESSIONS / 2;
        const a = spawnClients(client, SERVER4, half, 10_000);
        const b = spawnClients(client, SERVER4, half, 10_000 + half);
        const results = [await clientsResult(a), await clientsResult(b)];
        const total = results.reduce(
          (t, r) => ({
            own: t.own + r.own,
            misdelivered: t.misdelivered + r.misdelivered,
            missing: t.missing + r.missing,
          }),
          { own: 0, misdelivered: 0, missing: 0 },
        );
        const s = await echoStats(echo);
        const c = await countersOf(stack);
        console.log(
          `[udp ports] ${SESSIONS} sessions: ${JSON.stringify(total)}; server saw ${s.ids} clients from ${s.ports} ports, ${s.sharedPorts} shared; udpTotal ${c.udpTotal}`,
        );
        expect(total.misdelivered, 'replies delivered to another client').toBe(0);
        expect(s.sharedPorts, 'outbound ports carrying more than one session').toBe(0);
        expect(total.missing, 'clients without their reply').toBe(0);
        expect(s.ports).toBe(SESSIONS);
      } finally {
        await stack.stop();
        await echo.stop();
      }
    });
  });

  const SOCKS_SESSIONS = 1000;
  it(`${SOCKS_SESSIONS} concurrent sessions through SOCKS5 UDP ASSOCIATE: every reply reaches its own client`, {
    timeout: 180_000,
  }, async () => {
    await withNetnsEnvironment('skv', ['client', 'server'], async (env) => {
      const { client, server } = setUpTopology(env);
      const echo = await startEcho(server, SERVER4);
      const socks = await startDanted(server);
      const stack = await startStack(client, { kind: 'socks5', host: PROXY4, port: 1080, mark: MARK });
      try {
        routeIntoTun(client, stack.tunName);
        const r = await clientsResult(spawnClients(client, SERVER4, SOCKS_SESSIONS, 10_000));
        console.log(`[udp ports, socks5] ${SOCKS_SESSIONS} sessions: ${JSON.stringify(r)}`);
        expect(r.misdelivered, 'replies delivered to another client').toBe(0);
        expect(r.missing, 'clients without their reply').toBe(0);
      } finally {
        await stack.stop();
        await socks.stop();
        await echo.stop();
      }
    });
  });
});

describe('SOCKS5 UDP relay socket and source port 0', skipWhen(skip), () => {
  it('a frame from a host that is not the relay never reaches the client and is counted', {
    timeout: 90_000,
  }, async () => {
    await withNetnsEnvironment('skf', ['client', 'server', 'forger'], async (env) => {
      const { client, server } = setUpTopology(env);
      env.link('client', 'forger', { addrA: ['10.205.0.1/24'], addrB: ['10.205.0.2/24'] });
      const forger = env.ns.forger!;
      const echo = await startEcho(server, SERVER4);
      const socks = await startDanted(server);
      const stack = await startStack(client, { kind: 'socks5', host: PROXY4, port: 1080, mark: MARK });
      let talker: SpawnedInNetns | undefined;
      try {
        routeIntoTun(client, stack.tunName);
        // One client session that keeps talking and prints everything it receives.
        talker = client.spawn(process.execPath, [
          '-e',
          `const s=require('node:dgram').createSocket('udp4');let n=0;
s.on('message',(m)=>console.log('GOT '+m));
setInterval(()=>s.send('ping'+n++,${ECHO_PORT},'${SERVER4}'),100);`,
        ]);
        const t = talker;
        await waitFor('echo replies through the association', () => /GOT ping\d+\|/.test(t.output()), 20_000);
        // The stack's socket facing the relay: the runner's only UDP socket.
        const pid = stack.proc.child.pid!;
        const ss = client.exec('ss', ['-Huanp']);
        const mine = ss.split('\n').filter((l) => l.includes(`pid=${pid},`));
        expect(mine.length, ss).toBe(1);
        const port = Number(/:(\d+)$/.exec(mine[0]!.split(/\s+/)[3]!)![1]);
        // A SOCKS5 UDP frame (RFC 1928 §7) claiming to come from the echo server, sent from the forger.
        const frame = [0, 0, 0, 1, ...SERVER4.split('.').map(Number), ECHO_PORT >> 8, ECHO_PORT & 0xff];
        const payload = Buffer.concat([Buffer.from(frame), Buffer.from('FORGED')]).toString('hex');
        const before = (await countersOf(stack)).drops;
        forger.exec(process.execPath, [
          '-e',
          `const s=require('node:dgram').createSocket('udp4');s.send(Buffer.from('${payload}','hex'),${port},'10.205.0.1',()=>s.close());`,
        ]);
        await waitFor(
          'the forged frame counted or delivered',
          async () =>
            /FORGED/.test(t.output()) ||
            ((await countersOf(stack)).drops.udpForeignSender ?? 0) > (before.udpForeignSender ?? 0),
          10_000,
          100,
        ).catch(() => undefined);
        const seen = t.output().length;
        await waitFor(
          'two more genuine replies',
          () =>
            (
              t
                .output()
                .slice(seen)
                .match(/GOT ping/g) ?? []
            ).length >= 2,
        );
        const after = (await countersOf(stack)).drops;
        console.log(
          `[socks5 forged] drops.udpForeignSender ${before.udpForeignSender} → ${after.udpForeignSender}`,
        );
        expect(t.output(), 'the client never sees the forged frame').not.toMatch(/FORGED/);
        expect((after.udpForeignSender ?? 0) - (before.udpForeignSender ?? 0)).toBe(1);
      } finally {
        await talker?.stop();
        await stack.stop();
        await socks.stop();
        await echo.stop();
      }
    });
  });

  it('UDP from source port 0 is dropped and counted, no session', { timeout: 60_000 }, async () => {
    await withNetnsEnvironment('skz', ['client', 'server'], async (env) => {
      const { client } = setUpTopology(env);
      const stack = await startStack(client, { kind: 'direct', mark: MARK });
      try {
        const before = await countersOf(stack);
        const packets = [
          buildUdpPacket(parseIp('198.18.0.1')!, 0, parseIp(SERVER4)!, 53, new Uint8Array(8)),
          buildUdpPacket(parseIp('fd00:18::1')!, 0, parseIp(SERVER6)!, 53, new Uint8Array(8)),
        ];
        expect(await stack.inject(packets)).toEqual(packets.map((p) => p.length));
        const r = stack;
        const after = await waitFor(
          'both datagrams read',
          async () => {
            const c = await countersOf(r);
            return c.rxPackets - before.rxPackets >= 2 ? c : undefined;
          },
          5000,
          100,
        );
        expect(after.udpTotal, 'no session').toBe(before.udpTotal);
        expect((after.drops.udpSourcePortZero ?? 0) - (before.drops.udpSourcePortZero ?? 0)).toBe(2);
      } finally {
        await stack.stop();
      }
    });
  });
});

describe('a reset mid-transfer stays a reset', skipWhen(skip), () => {
  // A RST that arrives behind data still queued in the receive buffer is reported by libuv as EOF (its
  // POLLHUP short-cut in uv__stream_io), so a relay that passed "end" on turned the reset into a clean FIN:
  // a truncated transfer that looked complete. The reader here pauses, so the data queues up and the
  // reset lands behind it. (A killed SOCKS5 server's kernel usually sends a FIN, which stays a FIN: see the
  // README.)
  const PEER = join(FIXTURES, 'reset-peer.py');

  it('an upstream RST reaches the client as a reset, and a client RST the server, through Node streams and the splice relay', {
    timeout: 120_000,
  }, async () => {
    await withNetnsEnvironment('skr', ['client', 'server'], async (env) => {
      const { client, server } = setUpTopology(env);
      const sender = server.spawn('python3', [PEER, 'serve', 'send', '8090']);
      const receiver = server.spawn('python3', [PEER, 'serve', 'recv', '8091']);
      await waitFor(
        'reset servers',
        () => sender.output().includes('listening') && receiver.output().includes('listening'),
      );
      const seen: string[] = [];
      try {
        for (const splice of [false, true]) {
          const stack = await startStack(client, { kind: 'direct', mark: MARK }, { splice });
          try {
            routeIntoTun(client, stack.tunName);
            for (const host of [SERVER4, SERVER6]) {
              const down = await run(
                'ip',
                ['netns', 'exec', client.name, 'python3', PEER, 'connect', 'recv', host, '8090'],
                {
                  timeout: 30_000,
                },
              );
              seen.push(`download splice=${splice} ${host}: ${down.stdout.trim()}`);
              const mark = receiver.output().length;
              await run(
                'ip',
                ['netns', 'exec', client.name, 'python3', PEER, 'connect', 'send', host, '8091'],
                {
                  timeout: 30_000,
                },
              );
              const up = await waitFor(
                'the server saw the upload end',
                () => /(END|ERROR) .*\n/.exec(receiver.output().slice(mark))?.[0],
                10_000,
              );
              seen.push(`upload splice=${splice} ${host}: ${up.trim()}`);
            }
          } finally {
            await stack.stop();
            client.ip('route', 'flush', '10.202.0.0/24');
            client.ip('-6', 'route', 'flush', 'fd00:202::/64');
          }
        }
        console.log(`[reset mid-transfer]\n${seen.join('\n')}`);
        for (const line of seen) expect(line).toMatch(/: ERROR (ECONNRESET|EPIPE) \d+$/);
      } finally {
        await sender.stop();
        await receiver.stop();
      }
    });
  });
});
