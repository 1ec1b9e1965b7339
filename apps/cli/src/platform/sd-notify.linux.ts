import { errnoName, loadLinuxLibc } from '@ztun/routing-linux';
import koffi from 'koffi';
import { AF_UNIX, notifyAddress } from './sd-notify-address.js';

// sd_notify(3) without libsystemd: one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET
// (https://www.freedesktop.org/software/systemd/man/sd_notify.html, "NOTIFY_SOCKET"). Node has no AF_UNIX
// datagram sockets, so socket(2)/sendto(2) go through koffi and the C library routing-linux loads.
// A path starting with '@' is in the abstract namespace (unix(7)): its first byte becomes NUL.

const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
/** No SIGPIPE if the receiver went away (send(2)). */
const MSG_NOSIGNAL = 0x4000;

interface Fns {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrlen: number): number;
  close(fd: number): number;
}
let fns: Fns | undefined;

function libc(): Fns {
  if (!fns) {
    const lib = loadLinuxLibc();
    const socket = lib.func('int socket(int domain, int type, int protocol)');
    const sendto = lib.func(
      'intptr_t sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t addrlen)',
    );
    const close = lib.func('int close(int fd)');
    fns = {
      socket: (d, t, p) => socket(d, t, p) as number,
      sendto: (fd, b, l, f, a, al) => Number(sendto(fd, b, l, f, a, al)),
      close: (fd) => close(fd) as number,
    };
  }
  return fns;
}

/**
 * Sends `message` (e.g. "READY=1\nSTATUS=…") to $NOTIFY_SOCKET. Returns undefined when sent or when no
 * socket is set, else why it could not be sent.
 */
export function sdNotify(message: string, socketPath = process.env.NOTIFY_SOCKET): string | undefined {
  if (!socketPath) return undefined;
  const where = notifyAddress(socketPath);
  if (typeof where === 'string') return where;
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return `socket(AF_UNIX, SOCK_DGRAM) failed: ${errnoName(koffi.errno())}`;
  try {
    const data = Buffer.from(message, 'utf8');
    const sent = c.sendto(fd, data, data.length, MSG_NOSIGNAL, where.addr, where.length);
    if (sent === data.length) return undefined;
    return `sendto ${socketPath} failed: ${sent < 0 ? errnoName(koffi.errno()) : 'short write'}`;
  } finally {
    c.close(fd);
  }
}
