// The handler and an OS relay (issue 17 item 2): a pair the relay takes carries no listener, closure or timer
// of the handler's (an idle relayed connection holds only what the relay needs), and a pair the relay gives
// back through `pipe` gets the handler's own piping — bytes both ways, ends passed on.
import { once } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Outbound, TcpConnection } from '../src/handler.js';
import { handlerFromOutbound } from '../src/handler-from-outbound.js';

async function pair(server: net.Server): Promise<[net.Socket, net.Socket]> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const { port } = server.address() as net.AddressInfo;
  const a = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(a, 'connect');
  const [b] = await accepted;
  return [a, b];
}

const EVENTS = ['close', 'error', 'end', 'data', 'readable', 'finish', 'timeout'] as const;
const listenerCounts = (s: net.Socket) => EVENTS.map((e) => s.listenerCount(e));
const info = {
  family: 4 as const,
  source: { address: '127.0.0.1', port: 1 },
  destination: { address: '127.0.0.1', port: 2 },
};

async function rig(server: net.Server) {
  const [client, conn] = await pair(server);
  const [upstream, far] = await pair(server);
  for (const s of [client, conn, upstream, far]) s.on('error', () => {});
  const outbound: Outbound = {
    name: 'test',
    connectTcp: async () => upstream,
    openUdp: () => ({ send() {}, close() {} }),
  };
  return { client, conn, upstream, far, outbound };
}

describe('handlerFromOutbound with a relay', () => {
  it('adds nothing to a pair the relay takes (no listener, timer or closure beyond one shared error listener)', async () => {
    const server = net.createServer({ allowHalfOpen: true }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const errorListeners: unknown[] = [];
      for (let i = 0; i < 2; i++) {
        const { client, conn, upstream, far, outbound } = await rig(server);
        const connBefore = listenerCounts(conn);
        const upstreamBefore = listenerCounts(upstream);
        let taken: [TcpConnection, Duplex] | undefined;
        const handler = handlerFromOutbound(outbound, {
          relay(c, u) {
            taken = [c, u];
            return true;
          },
        });
        handler.tcp(conn as unknown as TcpConnection, info);
        while (!taken) await new Promise((r) => setImmediate(r));
        expect(taken[0]).toBe(conn);
        expect(taken[1]).toBe(upstream);
        // Only the error listener the handler adds before connecting (so a failing client is no crash).
        expect(listenerCounts(conn)).toEqual(connBefore.map((n, k) => (EVENTS[k] === 'error' ? n + 1 : n)));
        expect(listenerCounts(upstream)).toEqual(upstreamBefore);
        errorListeners.push(conn.listeners('error').at(-1));
        for (const s of [client, conn, upstream, far]) s.destroy();
      }
      // …and that listener is one function for every connection, not a closure each.
      expect(errorListeners[0]).toBe(errorListeners[1]);
    } finally {
      server.close();
    }
  });

  it('pipes a pair the relay gives back through `pipe`, with ends passed on', async () => {
    const server = net.createServer({ allowHalfOpen: true }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { client, upstream, far, conn, outbound } = await rig(server);
      const handler = handlerFromOutbound(outbound, {
        relay(c, u, pipe) {
          setImmediate(() => pipe(c, u)); // e.g. a splice relay out of pipes, a moment later
          return true;
        },
      });
      handler.tcp(conn as unknown as TcpConnection, info);
      const atFar = once(far, 'data');
      client.write('up');
      expect(String((await atFar)[0])).toBe('up');
      const atClient = once(client, 'data');
      far.write('down');
      expect(String((await atClient)[0])).toBe('down');
      const farEnded = once(far, 'end');
      client.end();
      await farEnded; // the client's FIN reached the far side through the handler's piping
      const clientEnded = once(client, 'end');
      far.end();
      await clientEnded;
      for (const s of [client, conn, upstream, far]) s.destroy();
    } finally {
      server.close();
    }
  });
});
