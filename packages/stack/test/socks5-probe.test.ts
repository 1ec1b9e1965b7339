// What a SOCKS5 proxy can do (issue 15 item 1): the UDP ASSOCIATE probe against servers that grant it, refuse
// it (RFC 1928 §6 REP 0x07, as Tor does) or drop the connection (as OpenSSH's `ssh -D` does), and the
// outbound's report of a refused association and of a proxy that is back after being unreachable.
import net from 'node:net';
import { waitFor } from '@ztun/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { UdpSession } from '../src/handler.js';
import { socks5Outbound } from '../src/outbound-socks5.js';
import { checkSocks5Proxy, probeSocks5Udp } from '../src/socks5-check.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

type Answer = 'grant' | 'refuse' | 'drop' | 'no-method';

/** A no-auth SOCKS5 server answering every request (any command) as told; records the commands. */
async function tinySocks(answer: Answer, port = 0) {
  const commands: number[] = [];
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    c.on('error', () => {});
    let greeted = false;
    c.on('data', (d: Buffer) => {
      if (!greeted) {
        greeted = true;
        if (answer === 'no-method') return void c.end(Buffer.from([5, 0xff])); // RFC 1928 §3: no acceptable method
        c.write(Buffer.from([5, 0]));
        return;
      }
      commands.push(d[1]!);
      if (answer === 'drop') c.destroy();
      else if (answer === 'refuse') c.end(Buffer.from([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
      else c.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0x15, 0xb3])); // BND 127.0.0.1:5555
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const stop = () =>
    new Promise<void>((r) => {
      for (const c of conns) c.destroy();
      server.close(() => r());
    });
  closers.push(stop);
  return { port: (server.address() as net.AddressInfo).port, commands, stop };
}

const UDP_ASSOCIATE = 3;

describe('probeSocks5Udp', () => {
  it('a proxy that grants UDP ASSOCIATE: relayed, with the relay address it named', async () => {
    const s = await tinySocks('grant');
    expect(await probeSocks5Udp({ host: '127.0.0.1', port: s.port })).toEqual({
      udp: 'relayed',
      relay: '127.0.0.1:5555',
    });
    expect(s.commands).toEqual([UDP_ASSOCIATE]);
  });

  it('a proxy that answers "command not supported": refused, saying so', async () => {
    const s = await tinySocks('refuse');
    const r = await probeSocks5Udp({ host: '127.0.0.1', port: s.port });
    expect(r).toMatchObject({ udp: 'refused' });
    expect((r as { why: string }).why).toMatch(/CommandNotSupported/);
  });

  it('a proxy that drops the connection at the request (ssh -D): refused', async () => {
    const s = await tinySocks('drop');
    const r = await probeSocks5Udp({ host: '127.0.0.1', port: s.port });
    expect(r).toMatchObject({ udp: 'refused' });
    expect((r as { why: string }).why).toMatch(/^dropped the request/);
  });

  it('a proxy that cannot be reached: unknown', async () => {
    const s = await tinySocks('grant');
    await s.stop();
    const r = await probeSocks5Udp({ host: '127.0.0.1', port: s.port, timeoutMs: 1000 });
    expect(r).toMatchObject({ udp: 'unknown' });
    expect((r as { why: string }).why).toMatch(/not reachable \(ECONNREFUSED\)/);
  });
});

function session(): UdpSession & { closed: boolean } {
  const s = {
    family: 4 as const,
    source: { address: '198.18.0.1', port: 4000 },
    closed: false,
    reply() {},
    unreachable() {},
    drop() {},
    close() {
      s.closed = true;
    },
  };
  return s;
}

describe('checkSocks5Proxy', () => {
  it('a proxy that drops the check CONNECT after the handshake (ssh -D) accepted us: usable, at once', async () => {
    const s = await tinySocks('drop');
    // A timeout far beyond the test's own: only the proxy's FIN can end the check in time.
    expect(await checkSocks5Proxy({ host: '127.0.0.1', port: s.port, timeoutMs: 60_000 })).toBeUndefined();
    expect(s.commands).toEqual([1]);
  });

  it('a proxy that accepts none of our methods: says it requires authentication, though a reply came', async () => {
    const s = await tinySocks('no-method');
    expect(await checkSocks5Proxy({ host: '127.0.0.1', port: s.port })).toBe(
      'requires authentication (give socks5://user:pass@host:port)',
    );
  });
});

describe('socks5Outbound reports', () => {
  it('a refused UDP ASSOCIATE through onUdpAssociateError, once per session', async () => {
    const s = await tinySocks('refuse');
    const errors: Error[] = [];
    const out = socks5Outbound({
      host: '127.0.0.1',
      port: s.port,
      onUdpAssociateError: (e) => errors.push(e),
    });
    const sess = session();
    out.openUdp(sess).send(new Uint8Array([1, 2, 3]), { address: '10.0.0.1', port: 53 });
    await waitFor('session closed', () => sess.closed, 5000);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/CommandNotSupported/);
  });

  it('the first connection, and a proxy back after failing to connect, through onProxyBack', async () => {
    const first = await tinySocks('grant');
    const port = first.port;
    await first.stop();
    let back = 0;
    const out = socks5Outbound({ host: '127.0.0.1', port, onProxyBack: () => back++ });
    const info = {
      family: 4 as const,
      source: { address: '198.18.0.1', port: 1 },
      destination: { address: '10.0.0.1', port: 80 },
    };
    await expect(out.connectTcp(info.destination, info)).rejects.toThrow();
    expect(back).toBe(0);
    await tinySocks('grant', port);
    (await out.connectTcp(info.destination, info)).destroy();
    expect(back).toBe(1);
    (await out.connectTcp(info.destination, info)).destroy();
    expect(back).toBe(1);
    // A proxy that was down when the run started (so never asked) is asked on its first connection.
    let firstBack = 0;
    const fresh = socks5Outbound({ host: '127.0.0.1', port, onProxyBack: () => firstBack++ });
    (await fresh.connectTcp(info.destination, info)).destroy();
    expect(firstBack).toBe(1);
  });
});
