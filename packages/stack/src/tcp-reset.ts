import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { StackSockets } from '@ztun/packet';
import { portableSockets } from './sockets.js';

function fdOf(sock: Duplex): number | undefined {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Aborts a TCP socket with a RST, in any state. Node's `resetAndDestroy()` fails with EINVAL while the socket's
 * FIN is queued (end() was called and libuv's shutdown request has not run yet: libuv will not mix the two),
 * and then never closes the handle: the fd leaks and Node spins at 100 % CPU at exit waiting for it. In that
 * state this sets SO_LINGER {on, 0} through `sockets` and destroys the socket; close(2) then sends the RST.
 * Where the fd is not reachable or `sockets` cannot set SO_LINGER, the socket is destroyed plainly (FIN).
 */
export function resetTcpSocket(sock: Socket, sockets: StackSockets = portableSockets): void {
  if (sock.destroyed) return;
  if (sock.writableEnded && !sock.writableFinished) {
    const fd = fdOf(sock);
    if (fd !== undefined) {
      try {
        sockets.setLingerZero(fd);
      } catch {
        // libc not loadable (unusual runtime): a plain close, the peer sees a FIN.
      }
    }
    sock.destroy();
    return;
  }
  Socket.prototype.resetAndDestroy.call(sock);
}

/**
 * After a TCP socket's 'end': true when the peer reset it rather than closing it. libuv reports a RST that
 * arrives behind data still in the receive queue as EOF (uv__stream_io takes POLLHUP after a partial read
 * for the end of the stream and never reads the error), so a relay that passed that "end" on would turn the
 * reset into a FIN: a truncated transfer that looks complete. The kernel still holds the reset as the
 * socket's pending error (ECONNRESET, or EPIPE when it came after the peer's FIN), which a FIN never sets.
 * False for anything that is not a socket with a reachable fd, or when `sockets` cannot read SO_ERROR.
 */
export function endedByReset(sock: Duplex, sockets: StackSockets = portableSockets): boolean {
  const fd = fdOf(sock);
  if (fd === undefined) return false;
  try {
    return sockets.takeSocketError(fd) > 0;
  } catch {
    return false; // libc not loadable: no way to tell, treat the end as a FIN
  }
}
