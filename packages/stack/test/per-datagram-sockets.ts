import type { StackSockets } from '@ztun/packet';

/** `s` without its batch UDP relay: the stack then relays UDP with Node's dgram, one call per datagram. */
export function perDatagramSockets(s: StackSockets): StackSockets {
  return {
    name: 'per-datagram',
    createPinnedSocket: (f, k, p) => s.createPinnedSocket(f, k, p),
    closeFd: (fd) => s.closeFd(fd),
    bindEphemeral: (fd, f) => s.bindEphemeral(fd, f),
    clearReuse: (fd) => s.clearReuse(fd),
    setLingerZero: (fd) => s.setLingerZero(fd),
    takeSocketError: (fd) => s.takeSocketError(fd),
  };
}
