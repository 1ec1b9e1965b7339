import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Outbound, UdpSession } from '@ztun/stack';
import { describe, expect, it } from 'vitest';
import { countingOutbound } from '../src/counting.js';

describe('countingOutbound', () => {
  it('counts TCP bytes each way on live and closed sockets, and UDP payloads', async () => {
    const server = createServer((s) => {
      s.on('data', () => {});
      s.write(Buffer.alloc(5000, 1));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const replies: number[] = [];
    const inner: Outbound = {
      name: 'fake',
      async connectTcp(): Promise<Duplex> {
        const s = connect(port, '127.0.0.1');
        await once(s, 'connect');
        return s;
      },
      openUdp(session) {
        return {
          send: (p) => session.reply(new Uint8Array(p.length * 2), { address: '192.0.2.1', port: 53 }),
          close: () => {},
        };
      },
    };
    const out = countingOutbound(inner);
    const info = {
      family: 4 as const,
      source: { address: '198.18.0.9', port: 1 },
      destination: { address: '127.0.0.1', port },
    };
    const sock = (await out.connectTcp(info.destination, info)) as Socket;
    sock.write(Buffer.alloc(1234));
    let got = 0;
    sock.on('data', (d: Buffer) => {
      got += d.length;
    });
    while (got < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(out.bytesUp()).toBe(1234);
    expect(out.bytesDown()).toBe(5000);
    expect(out.connections()).toMatchObject([
      {
        protocol: 'tcp',
        source: '198.18.0.9:1',
        destination: `127.0.0.1:${port}`,
        bytesUp: 1234,
        bytesDown: 5000,
      },
    ]);
    sock.destroy();
    await once(sock, 'close');
    expect(out.bytesUp()).toBe(1234);
    expect(out.bytesDown()).toBe(5000);

    const session = {
      family: 4,
      source: { address: '198.18.0.9', port: 5353 },
      reply: (p: Uint8Array) => replies.push(p.length),
      unreachable: () => {},
      drop: () => {},
      close: () => {},
    } as UdpSession;
    const h = out.openUdp(session);
    h.send(new Uint8Array(100), { address: '192.0.2.1', port: 53 });
    expect(replies).toEqual([200]);
    expect(out.bytesUp()).toBe(1334);
    expect(out.bytesDown()).toBe(5200);
    // The closed TCP connection is gone from the list; the UDP session shows its last destination.
    expect(out.connections()).toMatchObject([
      {
        protocol: 'udp',
        source: '198.18.0.9:5353',
        destination: '192.0.2.1:53',
        bytesUp: 100,
        bytesDown: 200,
      },
    ]);
    h.close();
    expect(out.connections()).toEqual([]);
    server.close();
  });

  it('keeps no closure per open TCP connection: one shared close listener, texts made when asked', async () => {
    const server = createServer(() => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const out = countingOutbound({
      name: 'fake',
      async connectTcp(): Promise<Duplex> {
        const s = connect(port, '127.0.0.1');
        await once(s, 'connect');
        return s;
      },
      openUdp: () => ({ send: () => {}, close: () => {} }),
    });
    const info = (p: number) => ({
      family: 4 as const,
      source: { address: '198.18.0.9', port: p },
      destination: { address: '127.0.0.1', port },
    });
    const a = (await out.connectTcp(info(1).destination, info(1))) as Socket;
    const b = (await out.connectTcp(info(2).destination, info(2))) as Socket;
    expect(a.listeners('close').at(-1)).toBe(b.listeners('close').at(-1));
    expect(out.connections().map((c) => c.source)).toEqual(['198.18.0.9:1', '198.18.0.9:2']);
    a.destroy();
    await once(a, 'close');
    expect(out.connections().map((c) => c.source)).toEqual(['198.18.0.9:2']);
    b.destroy();
    await once(b, 'close');
    expect(out.connections()).toEqual([]);
    server.close();
  });
});
