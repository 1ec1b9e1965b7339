// The outbounds' own TCP sockets (own-sockets.ts) as compact entries (issue 17 item 2): addresses in one
// pooled slice, entries on one local port chained, one shared 'close' listener — and still an exact 4-tuple
// match that forgets each socket when it closes.
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { OwnSockets } from '../src/own-sockets.js';

/** The 4-tuple as a packet would carry it: source address at 0, destination address at 4. */
const packet = (src: string, dst: string) =>
  Uint8Array.from([...src.split('.'), ...dst.split('.')].map(Number));

async function connectFrom(localAddress: string, localPort: number, port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress, localPort });
  await once(s, 'connect');
  return s;
}

describe('OwnSockets TCP', () => {
  it('matches two sockets sharing a local port by their exact 4-tuple, and forgets each as it closes', async () => {
    const server = net.createServer((s) => s.on('error', () => {})).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const own = new OwnSockets();
    const a = await connectFrom('127.0.0.1', 0, port);
    const localPort = a.localPort!;
    const b = await connectFrom('127.0.0.2', localPort, port); // same port, another local address
    const remote = Uint8Array.of(127, 0, 0, 1);
    own.trackTcp(a, 4, remote, port);
    own.trackTcp(b, 4, remote, port);
    const isOwn = (src: string, sport = localPort, dport = port) =>
      own.isOwnTcp(4, packet(src, '127.0.0.1'), 0, sport, 4, dport);
    expect(isOwn('127.0.0.1')).toBe(true);
    expect(isOwn('127.0.0.2')).toBe(true);
    expect(isOwn('127.0.0.3')).toBe(false);
    expect(isOwn('127.0.0.1', localPort, port + 1)).toBe(false);
    expect(a.listeners('close').at(-1)).toBe(b.listeners('close').at(-1)); // shared, not a closure each
    b.destroy(); // the later entry (the chain's head) first
    await once(b, 'close');
    expect(isOwn('127.0.0.2')).toBe(false);
    expect(isOwn('127.0.0.1')).toBe(true);
    a.destroy();
    await once(a, 'close');
    expect(isOwn('127.0.0.1')).toBe(false);
    server.close();
  });
});
