import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Outbound, TcpConnection } from '../src/handler.js';
import { handlerFromOutbound } from '../src/handler-from-outbound.js';

/** A connected loopback pair: [the side we keep, the peer]. */
async function pair(server: net.Server): Promise<[net.Socket, net.Socket]> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const { port } = server.address() as net.AddressInfo;
  const a = net.connect(port, '127.0.0.1');
  await once(a, 'connect');
  const [b] = await accepted;
  return [a, b];
}

describe('handlerFromOutbound', () => {
  it('releases a half-open upstream that keeps sending once the client connection is gone', async () => {
    const server = net.createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      // The "client" side as the stack would hand it over, and the far server the outbound reaches.
      const [conn, client] = await pair(server);
      const [upstream, farServer] = await pair(server);
      const outbound: Outbound = {
        name: 'test',
        connectTcp: async () => upstream,
        openUdp: () => ({ send() {}, close() {} }),
      };
      const handler = handlerFromOutbound(outbound);
      handler.tcp(conn as unknown as TcpConnection, {
        family: 4,
        source: { address: '127.0.0.1', port: 1 },
        destination: { address: '127.0.0.1', port: 2 },
      });
      client.on('error', () => {});
      farServer.on('error', () => {});
      // A download the client has stopped reading: the far server streams, the client sent its FIN (so the
      // upstream's write side has ended) and reads nothing, so pipe() backpressure pauses the upstream.
      client.pause();
      const streaming = setInterval(() => farServer.write(Buffer.alloc(64 * 1024)), 2);
      client.end();
      await once(farServer, 'end');
      expect(upstream.writableEnded).toBe(true);
      const deadline = Date.now() + 5000;
      while (upstream.readableFlowing !== false && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      expect(upstream.readableFlowing).toBe(false);
      // Then the client connection disappears (e.g. the stack closes): the upstream must not live on.
      conn.destroy();
      client.destroy();
      const closed = await Promise.race([
        once(upstream, 'close').then(() => true),
        new Promise((r) => setTimeout(() => r(false), 2000)),
      ]);
      clearInterval(streaming);
      farServer.destroy();
      expect(closed).toBe(true);
    } finally {
      server.close();
    }
  });

  it('resets a half-closed pair once nothing moved for halfClosedTimeoutMs, and not before the first end', async () => {
    const server = net.createServer({ allowHalfOpen: true }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      // conn: the accepted side, half-open like the stack's listener sockets.
      const [client, conn] = await pair(server);
      const [upstream, farServer] = await pair(server);
      for (const s of [client, farServer, conn, upstream]) s.on('error', () => {});
      const outbound: Outbound = {
        name: 'test',
        connectTcp: async () => upstream,
        openUdp: () => ({ send() {}, close() {} }),
      };
      handlerFromOutbound(outbound, { halfClosedTimeoutMs: 300 }).tcp(conn as unknown as TcpConnection, {
        family: 4,
        source: { address: '127.0.0.1', port: 1 },
        destination: { address: '127.0.0.1', port: 2 },
      });
      // Open both ways and idle: no timer yet (an hour-long idle connection is the stack's to judge).
      client.write('hi');
      await once(farServer, 'data');
      expect(conn.timeout).toBeUndefined();
      // The client half-closes; the far server never answers nor ends (it vanished, its FIN lost).
      client.end();
      await once(farServer, 'end');
      await Promise.all([once(upstream, 'close'), once(conn, 'close')]);
      expect(upstream.destroyed && conn.destroyed).toBe(true);
      client.destroy();
      farServer.destroy();
    } finally {
      server.close();
    }
  });
});
