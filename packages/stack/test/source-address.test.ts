// Pinning.sourceAddress (Windows' loop avoidance, see @ztun/tun-windows README "Loop avoidance"): the outbound's
// own sockets bind to the given source address — TCP to the destination, UDP, and the connection to a SOCKS5
// proxy — and a family without one is refused instead of sent unbound. Shown on Linux loopback, where every
// 127/8 address is local, so the peer sees which source the socket was bound to.
import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint, TcpConnectionInfo, UdpSession } from '../src/handler.js';
import { directOutbound } from '../src/outbound-direct.js';
import { socks5Outbound } from '../src/outbound-socks5.js';
import { PinningUnsupportedError } from '../src/sockets.js';

const info = (destination: Endpoint): TcpConnectionInfo => ({
  family: destination.address.includes(':') ? 6 : 4,
  source: { address: '198.18.0.2', port: 40000 },
  destination,
});

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

async function tcpServer(): Promise<{ port: number; peers: Promise<string> }> {
  let seen!: (a: string) => void;
  const peers = new Promise<string>((r) => {
    seen = r;
  });
  const server = net.createServer((s) => {
    s.on('error', () => {}); // the client may reset it (destroyed with the reply unread)
    seen(s.remoteAddress ?? '');
    s.end(Buffer.from([5, 0xff])); // to a SOCKS5 client: no acceptable method (RFC 1928 §3), so it fails at once
  });
  closers.push(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, peers };
}

describe('Pinning.sourceAddress', () => {
  it('a direct TCP connection leaves from the given source address', async () => {
    const { port, peers } = await tcpServer();
    const out = directOutbound({ sourceAddress: { v4: '127.0.0.2' } });
    const sock = (await out.connectTcp(
      { address: '127.0.0.1', port },
      info({ address: '127.0.0.1', port }),
    )) as net.Socket;
    closers.push(() => sock.destroy());
    expect(sock.localAddress).toBe('127.0.0.2');
    expect(await peers).toBe('127.0.0.2');
  });

  it('a family without a source address is refused, not sent unbound', async () => {
    const out = directOutbound({ sourceAddress: { v4: '127.0.0.2' } });
    await expect(
      out.connectTcp({ address: '::1', port: 9 }, info({ address: '::1', port: 9 })),
    ).rejects.toThrow(PinningUnsupportedError);
    await expect(
      out.connectTcp({ address: '::1', port: 9 }, info({ address: '::1', port: 9 })),
    ).rejects.toThrow(/no IPv6 source address/);
    expect(() => out.openUdp({ family: 6 } as unknown as UdpSession)).toThrow(/no IPv6 source address/);
  });

  it('a direct UDP session sends from the given source address', async () => {
    const server = dgram.createSocket('udp4');
    closers.push(() => server.close());
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const from = new Promise<string>((r) => server.once('message', (_m, rinfo) => r(rinfo.address)));
    const out = directOutbound({ sourceAddress: { v4: '127.0.0.3' } });
    const session = { family: 4, reply() {}, unreachable() {}, close() {} } as unknown as UdpSession;
    const h = out.openUdp(session);
    closers.push(() => h.close());
    h.send(Uint8Array.of(1, 2, 3), {
      address: '127.0.0.1',
      port: (server.address() as net.AddressInfo).port,
    });
    expect(await from).toBe('127.0.0.3');
  });

  it('the connection to a SOCKS5 proxy leaves from the given source address', async () => {
    const { port, peers } = await tcpServer();
    const out = socks5Outbound({
      host: '127.0.0.1',
      port,
      sourceAddress: { v4: '127.0.0.4' },
    });
    const attempt = out.connectTcp(
      { address: '192.0.2.1', port: 80 },
      info({ address: '192.0.2.1', port: 80 }),
    );
    expect(await peers).toBe('127.0.0.4');
    await expect(attempt).rejects.toThrow(); // the "proxy" refused every method
  });
});
