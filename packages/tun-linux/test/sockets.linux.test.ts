// linuxSockets, the StackSockets @ztun/stack is given on Linux: real sockets on loopback. SO_MARK needs
// CAP_NET_ADMIN (socket(7)), so that case runs only as root; the rest needs no privilege.
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { skipUnless } from '@ztun/testkit';
import { describe, expect, it } from 'vitest';
import { linuxSockets } from '../src/sockets.linux.js';

const isRoot = process.getuid?.() === 0;

function fdOf(sock: net.Socket): number {
  return (sock as unknown as { _handle: { fd: number } })._handle.fd;
}

describe('linuxSockets', () => {
  it('makes a TCP socket bound to a device that Node adopts and connects', async () => {
    const server = net.createServer((c) => c.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const fd = linuxSockets.createPinnedSocket(4, 'tcp', { bindToDevice: 'lo' });
      const sock = new net.Socket({ fd, readable: true, writable: true });
      sock.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      const chunks: Buffer[] = [];
      for await (const c of sock) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('ok');
    } finally {
      server.close();
    }
  });

  it('fails with one line naming the option and the errno text; refuses the macOS-only field', () => {
    expect(() => linuxSockets.createPinnedSocket(4, 'tcp', { bindToDevice: 'ztnosuchdev0' })).toThrow(
      /^setsockopt\(SO_BINDTODEVICE=ztnosuchdev0\): No such device$/,
    );
    expect(() => linuxSockets.createPinnedSocket(6, 'udp', { boundInterfaceIndex: 1 })).toThrow(
      /boundInterfaceIndex is macOS-only/,
    );
  });

  it('sets SO_MARK', skipUnless(isRoot, 'SO_MARK needs CAP_NET_ADMIN (run as root)'), () => {
    const fd = linuxSockets.createPinnedSocket(6, 'udp', { mark: 0x100 });
    linuxSockets.closeFd(fd);
  });

  it('binds a UDP fd to a port of its own, and clears the SO_REUSEADDR libuv sets on adoption', async () => {
    const fd = linuxSockets.createPinnedSocket(4, 'udp', { bindToDevice: 'lo' });
    linuxSockets.bindEphemeral(fd, 4);
    const sock = dgram.createSocket('udp4');
    const listening = once(sock, 'listening');
    sock.bind({ fd });
    try {
      await listening;
      const port = sock.address().port;
      expect(port).toBeGreaterThan(0);
      expect(linuxSockets.clearReuse(fd)).toBe(true);
      // Without SO_REUSEADDR on either side, a second socket cannot take the port.
      const other = dgram.createSocket('udp4');
      other.bind(port, '0.0.0.0');
      const [err] = (await once(other, 'error')) as [NodeJS.ErrnoException];
      expect(err.code).toBe('EADDRINUSE');
      other.close();
    } finally {
      sock.close();
    }
  });

  it('reads a pending reset as SO_ERROR, and SO_LINGER 0 makes close(2) send a RST', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const accepted = once(server, 'connection') as Promise<[net.Socket]>;
      const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      await once(client, 'connect');
      const [peer] = await accepted;
      expect(linuxSockets.takeSocketError(fdOf(client))).toBe(0);
      // The peer aborts: SO_LINGER {on, 0}, then close(2) sends a RST instead of a FIN.
      expect(linuxSockets.setLingerZero(fdOf(peer))).toBe(true);
      client.on('error', () => {});
      const clientError = new Promise<string | undefined>((resolve) => {
        client.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
        client.once('end', () => resolve('end'));
      });
      peer.destroy();
      expect(await clientError).toBe('ECONNRESET');
    } finally {
      server.close();
    }
  });
});
