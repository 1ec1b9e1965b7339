// Outbounds on loopback: socks5Outbound with username/password against a minimal RFC 1928/1929 server
// written here (danted covers no-auth in the namespace tests), direct outbound failures, UDP idle timeout.
import dns from 'node:dns';
import { lookup } from 'node:dns/promises';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { StackSockets } from '@ztun/packet';
import { skipUnless } from '@ztun/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Handler, UdpSession } from '../src/handler.js';
import { directOutbound } from '../src/outbound-direct.js';
import { socks5Outbound } from '../src/outbound-socks5.js';
import { PinningUnsupportedError, portableSockets } from '../src/sockets.js';
import { checkSocks5Proxy } from '../src/socks5-check.js';
import { createStack, type Stack } from '../src/stack.js';
import { buildUdpPacket, parseIp } from '../src/wire.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** Listens on loopback; the server (and every connection it accepted) is closed after the test. */
function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  const conns = new Set<net.Socket>();
  server.on('connection', (c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
  });
  closers.push(() => {
    for (const c of conns) c.destroy();
  });
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port)),
  );
}

/** SOCKS5 server: username/password (RFC 1929) only, CONNECT only. Records what it saw. */
async function miniSocks(user: string, pass: string, host = '127.0.0.1') {
  const seen: string[] = [];
  const server = net.createServer((c) => {
    c.on('error', () => {});
    let buf = Buffer.alloc(0);
    let stage = 0;
    c.on('data', function onData(d: Buffer) {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2 && buf.length >= 2 + buf[1]!) {
        const methods = [...buf.subarray(2, 2 + buf[1]!)];
        buf = buf.subarray(2 + buf[1]!);
        seen.push(`methods ${methods.join(',')}`);
        c.write(Buffer.from([5, methods.includes(2) ? 2 : 0xff]));
        stage = 1;
      }
      if (stage === 1 && buf.length >= 2) {
        const ul = buf[1]!;
        if (buf.length < 3 + ul || buf.length < 3 + ul + buf[2 + ul]!) return;
        const u = buf.subarray(2, 2 + ul).toString();
        const pl = buf[2 + ul]!;
        const p = buf.subarray(3 + ul, 3 + ul + pl).toString();
        buf = buf.subarray(3 + ul + pl);
        seen.push(`auth ${u}:${p}`);
        const ok = u === user && p === pass;
        c.write(Buffer.from([1, ok ? 0 : 1]));
        if (!ok) return void c.end();
        stage = 2;
      }
      if (stage === 2 && buf.length >= 10 && buf[3] === 1) {
        const host = [...buf.subarray(4, 8)].join('.');
        const port = buf.readUInt16BE(8);
        buf = buf.subarray(10);
        seen.push(`connect ${host}:${port}`);
        c.off('data', onData);
        const up = net.connect({ host, port }, () => {
          c.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
          if (buf.length) up.write(buf);
          c.pipe(up);
          up.pipe(c);
        });
        up.on('error', () => c.destroy());
      }
    });
  });
  closers.push(() => new Promise((r) => server.close(r)));
  const port = await listen(server, host);
  return { port, seen };
}

async function echoServer() {
  const server = net.createServer((c) => {
    c.on('error', () => {});
    c.pipe(c);
  });
  closers.push(() => new Promise((r) => server.close(r)));
  const port = await listen(server);
  return port;
}

const info = (port: number) => ({
  family: 4 as const,
  source: { address: '127.0.0.1', port: 1 },
  destination: { address: '127.0.0.1', port },
});

/** Counts every call of node:dns's lookup (callback and promise forms, ESM bindings included) during `fn`. */
async function countLookups(fn: () => Promise<void>): Promise<string[]> {
  const asked: string[] = [];
  const cb = dns.lookup;
  const pr = dns.promises.lookup;
  (dns as { lookup: unknown }).lookup = (host: string, ...rest: unknown[]) => {
    asked.push(host);
    return (cb as (...a: unknown[]) => unknown)(host, ...rest);
  };
  (dns.promises as { lookup: unknown }).lookup = (host: string, ...rest: unknown[]) => {
    asked.push(host);
    return (pr as (...a: unknown[]) => unknown)(host, ...rest);
  };
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    (dns as { lookup: unknown }).lookup = cb;
    (dns.promises as { lookup: unknown }).lookup = pr;
    syncBuiltinESMExports();
  }
  return asked;
}

describe('connection setup does no DNS work for addresses (issue 17 item 6)', () => {
  it('a direct or SOCKS5 connect to an IP literal never calls dns.lookup', async () => {
    const echo = await echoServer();
    const socks = await miniSocks('u', 'p');
    const asked = await countLookups(async () => {
      // The wrapper sees lookups: a name does go through it.
      await lookup('localhost');
      for (const ob of [
        directOutbound(),
        socks5Outbound({ host: '127.0.0.1', port: socks.port, username: 'u', password: 'p' }),
      ]) {
        const conn = await ob.connectTcp({ address: '127.0.0.1', port: echo }, info(echo));
        conn.destroy();
      }
    });
    expect(asked).toEqual(['localhost']);
  });
});

describe('outbounds', () => {
  it('socks5Outbound authenticates with username/password and relays bytes', async () => {
    const echo = await echoServer();
    const socks = await miniSocks('alice', 's3cret');
    const ob = socks5Outbound({ host: '127.0.0.1', port: socks.port, username: 'alice', password: 's3cret' });
    const conn = await ob.connectTcp({ address: '127.0.0.1', port: echo }, info(echo));
    closers.push(() => conn.destroy());
    const got = new Promise<string>((resolve) => conn.once('data', (d: Buffer) => resolve(d.toString())));
    conn.write('hello through socks');
    expect(await got).toBe('hello through socks');
    expect(socks.seen).toEqual(['methods 0,2', 'auth alice:s3cret', `connect 127.0.0.1:${echo}`]);
  });

  it('a SOCKS5 connection is garbage once closed: the socks client does not hold it for its timeout', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const echo = await echoServer();
    const socks = await miniSocks('alice', 's3cret');
    // 60 s: socks 2.8 keeps every client (its socket, a 4 KiB receive buffer) until its handshake timer fires.
    const ob = socks5Outbound({
      host: '127.0.0.1',
      port: socks.port,
      username: 'alice',
      password: 's3cret',
      timeoutMs: 60_000,
    });
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < 20; i++) {
      const conn = (await ob.connectTcp({ address: '127.0.0.1', port: echo }, info(echo))) as net.Socket;
      const got = new Promise((resolve) => conn.once('data', resolve));
      conn.write('x');
      await got;
      await new Promise((resolve) => {
        conn.once('close', resolve);
        conn.destroy();
      });
      refs.push(new WeakRef(conn));
    }
    // Let the client's own setImmediate run, then collect until nothing is left (or it plainly leaks).
    let alive = refs.length;
    for (let round = 0; round < 20 && alive > 0; round++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      gc();
      alive = refs.filter((r) => r.deref() !== undefined).length;
    }
    expect(alive).toBe(0);
  });

  it('socks5Outbound resolves a proxy given by name', async () => {
    const echo = await echoServer();
    // Listen where the OS resolver puts "localhost" (127.0.0.1 or ::1), loopback only.
    const socks = await miniSocks('bob', 'pw', (await lookup('localhost')).address);
    const ob = socks5Outbound({ host: 'localhost', port: socks.port, username: 'bob', password: 'pw' });
    const conn = await ob.connectTcp({ address: '127.0.0.1', port: echo }, info(echo));
    closers.push(() => conn.destroy());
    const got = new Promise<string>((resolve) => conn.once('data', (d: Buffer) => resolve(d.toString())));
    conn.write('by name');
    expect(await got).toBe('by name');
  });

  it('socks5Outbound rejects on wrong credentials and when the proxy is down', async () => {
    const socks = await miniSocks('alice', 's3cret');
    const bad = socks5Outbound({ host: '127.0.0.1', port: socks.port, username: 'alice', password: 'nope' });
    await expect(bad.connectTcp({ address: '127.0.0.1', port: 9 }, info(9))).rejects.toThrow();
    const probe = net.createServer();
    const deadPort = await listen(probe);
    await new Promise((r) => probe.close(r));
    const down = socks5Outbound({ host: '127.0.0.1', port: deadPort });
    await expect(down.connectTcp({ address: '127.0.0.1', port: 9 }, info(9))).rejects.toThrow(/ECONNREFUSED/);
  });

  it('directOutbound connects, and rejects refused destinations and non-IP addresses', async () => {
    const echo = await echoServer();
    const ob = directOutbound();
    const conn = await ob.connectTcp({ address: '127.0.0.1', port: echo }, info(echo));
    conn.destroy();
    const probe = net.createServer();
    const deadPort = await listen(probe);
    await new Promise((r) => probe.close(r));
    await expect(ob.connectTcp({ address: '127.0.0.1', port: deadPort }, info(deadPort))).rejects.toThrow(
      /ECONNREFUSED/,
    );
    await expect(ob.connectTcp({ address: 'example.com', port: 80 }, info(80))).rejects.toThrow(/not an IP/);
  });

  it(
    'directOutbound rejects (never throws) when pinning fails',
    skipUnless(process.platform === 'linux', `SO_BINDTODEVICE is Linux-only (this is ${process.platform})`),
    async () => {
      // The Linux implementation is loaded only here, so the rest of this file runs on any OS.
      const { linuxSockets } = await import('@ztun/tun-linux');
      const ob = directOutbound({ bindToDevice: 'ztnosuchdev0', sockets: linuxSockets });
      const p = ob.connectTcp({ address: '127.0.0.1', port: 9 }, info(9));
      await expect(p).rejects.toThrow(/SO_BINDTODEVICE=ztnosuchdev0.*No such device/);
    },
  );

  it('without OS sockets, pinning is refused with a typed error: TCP rejects, UDP throws', async () => {
    const ob = directOutbound({ mark: 0x100, bindToDevice: 'lo' });
    const p = ob.connectTcp({ address: '127.0.0.1', port: 9 }, info(9));
    await expect(p).rejects.toBeInstanceOf(PinningUnsupportedError);
    await expect(p).rejects.toThrow(/socket pinning \(mark=256, bindToDevice=lo\) needs an OS socket/);
    const session = { family: 4 } as unknown as UdpSession;
    expect(() => ob.openUdp(session)).toThrow(PinningUnsupportedError);
  });

  it('every pinned socket is asked of the given sockets: direct TCP and UDP, socks5 TCP, the proxy check', async () => {
    const asked: string[] = [];
    const sockets: StackSockets = {
      ...portableSockets,
      name: 'refusing',
      createPinnedSocket(family, kind, pin) {
        asked.push(`${kind}${family} mark=${pin.mark}`);
        throw new Error('refused by the test sockets');
      },
    };
    const direct = directOutbound({ mark: 7, sockets });
    await expect(direct.connectTcp({ address: '127.0.0.1', port: 9 }, info(9))).rejects.toThrow(
      /test sockets/,
    );
    expect(() => direct.openUdp({ family: 6 } as unknown as UdpSession)).toThrow(/test sockets/);
    const socks = socks5Outbound({ host: '127.0.0.1', port: 9, mark: 7, sockets });
    await expect(socks.connectTcp({ address: '10.0.0.1', port: 80 }, info(80))).rejects.toThrow(
      /test sockets/,
    );
    const why = await checkSocks5Proxy({ host: '127.0.0.1', port: 9, mark: 7, sockets });
    expect(why).toBe('is not reachable (refused by the test sockets)');
    expect(asked).toEqual(['tcp4 mark=7', 'udp6 mark=7', 'tcp4 mark=7', 'tcp4 mark=7']);
  });

  it('without OS sockets and without pinning, directOutbound connects with plain Node sockets', async () => {
    const server = net.createServer((c) => c.end('hi'));
    const port = await listen(server);
    const sock = await directOutbound().connectTcp({ address: '127.0.0.1', port }, info(port));
    closers.push(() => sock.destroy());
    const chunks: Buffer[] = [];
    for await (const chunk of sock) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hi');
  });
});

describe('UDP session lifetime', () => {
  it('closes a UDP session idle for longer than udpTimeoutMs at the next sweep, not before', async () => {
    const written: Uint8Array[] = [];
    let receiver:
      | ((b: { count: number; data: Uint8Array; offsets: Uint32Array; lengths: Uint32Array }) => void)
      | undefined;
    const device = {
      name: 'fake',
      index: 1,
      mtu: 1500,
      counters: { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, rxDropped: 0, txDropped: 0 },
      onBatch: (r: typeof receiver) => {
        receiver = r;
      },
      pause() {},
      resume() {},
      writeBatch() {},
      write: (p: Uint8Array) => void written.push(p),
      onError() {},
      close: async () => {},
    };
    const sessions: UdpSession[] = [];
    let closed = 0;
    const handler: Handler = {
      tcp: (c) => c.destroy(),
      udp: (s) => {
        sessions.push(s);
        return { send() {}, close: () => void closed++ };
      },
    };
    // The stack's clock (performance.now) and its once-a-second sweeper run on fake time, so the test says
    // when time passes instead of sleeping against a busy machine.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const stack: Stack = createStack({ device, handler, addresses: ['127.0.0.1/8'], udpTimeoutMs: 1500 });
    try {
      await stack.start();
      const p = buildUdpPacket(parseIp('127.0.0.1')!, 999, parseIp('10.0.0.1')!, 53, new Uint8Array(4));
      receiver!({ count: 1, data: p, offsets: Uint32Array.of(0), lengths: Uint32Array.of(p.length) });
      expect(stack.counters.udpOpen).toBe(1);
      vi.advanceTimersByTime(1000); // first sweep: idle 1000 ms, not yet 1500
      expect(closed).toBe(0);
      expect(stack.counters.udpOpen).toBe(1);
      vi.advanceTimersByTime(1000); // second sweep: idle 2000 ms
      expect(closed).toBe(1);
      expect(stack.counters.udpOpen).toBe(0);
      expect(sessions.length).toBe(1);
    } finally {
      await stack.close();
      vi.useRealTimers();
    }
  });
});
