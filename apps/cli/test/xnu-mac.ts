// A "Mac" for the darwin composition on Linux: @ztun/testkit's simulated XNU as the kernel (routing table,
// route sockets, utun), and for the packets a pair of namespaces: `mac` holds the process's sockets, the
// Linux TUN that carries the utun stand-in's traffic into a real TCP/IP stack, and two uplinks standing in
// for en0 and en5; `lan` holds the servers. IP_BOUND_IF maps to SO_BINDTODEVICE of the uplink named by
// the model's interface index — Linux's oif-constrained route lookup is the analogue of a scoped lookup,
// so a socket pinned to the wrong index (0, the utun) really loops or fails.

import dgram from 'node:dgram';
import net from 'node:net';
import type { StackSockets } from '@ztun/packet';
import { routeErrorFromErrno } from '@ztun/routing-darwin';
import {
  enterNetns,
  type NetnsEnvironment,
  SimulatedXnu,
  withNetnsEnvironment,
  type XnuProcess,
  type XnuUtun,
} from '@ztun/testkit';
import { type LinuxTun, linuxSockets, openTun } from '@ztun/tun-linux';
import type { RunConfig } from '../src/config.js';
import { createLogger, type Logger } from '../src/log.js';
import type { DarwinHost } from '../src/platform/host.darwin.js';

export const SERVER = '203.0.113.10';
export const SERVER6 = '2001:db8:10::10';
export const TCP_PORT = 8080;
export const UDP_PORT = 5353;

export interface Mac {
  readonly env: NetnsEnvironment;
  readonly xnu: SimulatedXnu;
  readonly en0: number;
  readonly en5: number;
  /** Interface index → the pins asked for by every socket the product created, in order. */
  readonly pins: (number | undefined)[];
  readonly sockets: StackSockets;
  readonly lines: string[];
  readonly log: Logger;
  /** A root process of the model with its DarwinHost; its utun's traffic is bridged into the Linux TUN. */
  process(pid: number, o?: { root?: boolean }): { proc: XnuProcess; host: DarwinHost };
  /** Frames from the device whose 4-byte AF header was wrong (must stay 0). */
  badFrames(): number;
}

/** Builds the topology, runs `fn` with this thread inside `mac`, removes everything afterwards. */
export async function withMac<T>(fn: (mac: Mac) => Promise<T>): Promise<T> {
  return withNetnsEnvironment('dw', ['mac', 'lan'], async (env) => {
    env.link('mac', 'lan', {
      addrA: ['192.168.64.2/24', 'fd00:64::2/64'],
      addrB: ['192.168.64.1/24', 'fd00:64::1/64'],
    });
    const { ifA: v1 } = env.link('mac', 'lan', { addrA: ['10.77.0.2/24'], addrB: ['10.77.0.1/24'] });
    const v0 = 'v0mac';
    const lan = env.ns.lan!;
    lan.ip('addr', 'add', `${SERVER}/32`, 'dev', 'lo');
    lan.ip('addr', 'add', `${SERVER6}/128`, 'dev', 'lo');
    const macNs = env.ns.mac!;
    // Both uplinks have a default; only a socket bound to one of them (SO_BINDTODEVICE) takes it.
    macNs.ip('route', 'add', 'default', 'via', '192.168.64.1', 'dev', v0, 'metric', '100');
    macNs.ip('route', 'add', 'default', 'via', '10.77.0.1', 'dev', v1, 'metric', '200');
    macNs.ip('-6', 'route', 'add', 'default', 'via', 'fd00:64::1', 'dev', v0, 'metric', '100');
    const servers = await startServers(lan.name);
    const leave = enterNetns(macNs);
    let ltun: LinuxTun | undefined;
    const utuns: XnuUtun[] = [];
    try {
      ltun = await openTun({
        name: 'ltun0',
        mtu: 1500,
        addresses: ['198.18.0.1/15', 'fd00:7a74::1/64'],
        offload: false,
      });
      // What the model's split routes say (0/1 + 128/1 through the utun), for the Linux side of the packets.
      macNs.ip('route', 'add', '0.0.0.0/1', 'dev', 'ltun0');
      macNs.ip('route', 'add', '128.0.0.0/1', 'dev', 'ltun0');
      macNs.ip('-6', 'route', 'add', '::/1', 'dev', 'ltun0');
      macNs.ip('-6', 'route', 'add', '8000::/1', 'dev', 'ltun0');
      const tun = ltun;
      tun.onBatch((b) => {
        for (let i = 0; i < b.count; i++) {
          const p = b.data.subarray(b.offsets[i]!, b.offsets[i]! + b.lengths[i]!);
          for (const u of utuns) u.kernel.inject(p);
        }
      });
      const xnu = new SimulatedXnu({
        syscallError: (errno, source, op) => routeErrorFromErrno(errno, source, op),
      });
      for (let i = 0; i < 4; i++) xnu.addInterface(`utun${i}`); // macOS's own (iCloud Private Relay, …)
      const en0 = xnu.addInterface('en0', { cidr: '192.168.64.2/24' });
      xnu.addAddress(en0, 'fd00:64::2/64');
      const en5 = xnu.addInterface('en5', { cidr: '10.77.0.2/24' });
      xnu.setDefault(4, '192.168.64.1', 'en0', { alsoScoped: false });
      const devOf = new Map<number, string>([
        [en0, v0],
        [en5, v1],
      ]);
      const pins: (number | undefined)[] = [];
      const sockets: StackSockets = {
        ...linuxSockets,
        name: 'xnu-model',
        createPinnedSocket(family, kind, pin) {
          pins.push(pin.boundInterfaceIndex);
          if (pin.mark !== undefined) throw new Error('SO_MARK does not exist on macOS');
          const index = pin.boundInterfaceIndex;
          const utun = utuns.find((u) => u.index === index);
          const dev = index === undefined ? undefined : utun ? 'ltun0' : devOf.get(index);
          if (index !== undefined && dev === undefined)
            throw new Error(`setsockopt(IP_BOUND_IF=${index}): ENXIO`);
          return linuxSockets.createPinnedSocket(family, kind, dev ? { bindToDevice: dev } : {});
        },
      };
      const lines: string[] = [];
      const log = createLogger('debug', (l) => lines.push(l));
      const mac: Mac = {
        env,
        xnu,
        en0,
        en5,
        pins,
        sockets,
        lines,
        log,
        process(pid, o = {}) {
          const proc = xnu.process(pid, o.root ?? true);
          const host: DarwinHost = {
            isRoot: () => proc.root,
            routes: async () => proc,
            utunSyscalls: () =>
              proc.utunSyscalls((utun) => {
                utuns.push(utun);
                utun.kernel.onPacket((p) => tun.write(p));
              }),
            sockets: async () => sockets,
            lock: async () => proc.lock(),
          };
          return { proc, host };
        },
        badFrames: () => utuns.reduce((n, u) => n + u.kernel.badFrames, 0),
      };
      return await fn(mac);
    } finally {
      await ltun?.close();
      leave();
      await servers.close();
    }
  });
}

/** An echo TCP server and an echo UDP server on SERVER in `lan` (sockets made there, then back). */
async function startServers(ns: string): Promise<{ close(): Promise<void> }> {
  const leave = enterNetns(ns);
  try {
    const tcp = net.createServer((s) => s.pipe(s));
    const udp = dgram.createSocket('udp4');
    udp.on('message', (m, r) => udp.send(m, r.port, r.address));
    await new Promise<void>((r) => tcp.listen(TCP_PORT, '0.0.0.0', r)); // SERVER, and 192.168.64.1 for the SOCKS5 server
    await new Promise<void>((r) => udp.bind(UDP_PORT, SERVER, r));
    const tcp6 = net.createServer((c) => c.pipe(c));
    await new Promise<void>((r) => tcp6.listen(TCP_PORT, SERVER6, r));
    return {
      close: async () => {
        await new Promise((r) => tcp.close(r));
        await new Promise((r) => tcp6.close(r));
        await new Promise<void>((r) => udp.close(() => r()));
      },
    };
  } finally {
    leave();
  }
}

/** TCP to the server and back through the tunnel (the thread is in `mac`, so the route is 128/1 → ltun0). */
export async function tcpEcho(payload: string, host = SERVER): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port: TCP_PORT });
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      got += d;
      if (got.length >= payload.length) {
        s.end();
        resolve(got);
      }
    });
    s.on('error', reject);
    s.on('connect', () => s.write(payload));
  });
}

export async function udpEcho(payload: string): Promise<string> {
  const s = dgram.createSocket('udp4');
  try {
    return await new Promise<string>((resolve, reject) => {
      s.on('message', (m) => resolve(m.toString()));
      s.on('error', reject);
      s.send(payload, UDP_PORT, SERVER);
    });
  } finally {
    s.close();
  }
}

export function darwinConfig(over: Partial<RunConfig> = {}): RunConfig {
  return {
    name: 'ztun0',
    addresses: [{ family: 4, address: '198.18.0.1', prefixLength: 15 }],
    mtu: 1500,
    txQueueLen: 500,
    proxy: { kind: 'direct' },
    routes: [],
    autoRoute: true,
    excludes: [],
    icmp: 'reply',
    udpTimeoutMs: 60_000,
    splice: false,
    offload: false,
    logLevel: 'debug',
    table: 0x7a74,
    fwmark: 0x7a74,
    killSwitch: false,
    dns: 'auto',
    fakeIpRanges: [],
    dnsHijack: false,
    ipv6: true,
    ...over,
  } as RunConfig;
}

/**
 * A SOCKS5 server (RFC 1928: no auth, CONNECT) on 127.0.0.1 in `mac`, the way `ssh -D` runs on a Mac. It
 * records each requested destination and carries it to the echo server's uplink address 192.168.64.1
 * (a connected route, so its own upstream never enters the tunnel).
 */
export async function startLoopbackSocks(): Promise<{
  port: number;
  asked: string[];
  close(): Promise<void>;
}> {
  const asked: string[] = [];
  const server = net.createServer((c) => {
    c.once('data', () => {
      c.write(Buffer.from([5, 0]));
      c.once('data', (req) => {
        const ip = [...req.subarray(4, 8)].join('.');
        asked.push(`${ip}:${req.readUInt16BE(8)}`);
        const up = net.connect({ host: '192.168.64.1', port: TCP_PORT }, () => {
          c.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
          c.pipe(up).pipe(c);
        });
        up.on('error', () => c.destroy());
      });
    });
    c.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    asked,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
