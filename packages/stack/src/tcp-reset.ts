import { Socket } from 'node:net';
import { setLingerZeroFd } from './pinned.js';

/**
 * Aborts a TCP socket with a RST, in any state. Node's `resetAndDestroy()` fails with EINVAL while the socket's
 * FIN is queued (end() was called and libuv's shutdown request has not run yet: libuv will not mix the two),
 * and then never closes the handle: the fd leaks and Node spins at 100 % CPU at exit waiting for it. In that
 * state this sets SO_LINGER {on, 0} itself and destroys the socket; close(2) then sends the RST. Where the fd
 * is not reachable (Windows), the socket is destroyed plainly (FIN).
 */
export function resetTcpSocket(sock: Socket): void {
  if (sock.destroyed) return;
  if (sock.writableEnded && !sock.writableFinished) {
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd === 'number' && fd >= 0) setLingerZeroFd(fd);
    sock.destroy();
    return;
  }
  Socket.prototype.resetAndDestroy.call(sock);
}
