// RTM_DELLINK over a private rtnetlink socket. @ztun/routing-linux has no deleteLink (yet); only the
// threadpool baseline engine needs it: deleting the link is the one way to wake its blocked read(2) at close.
// The socket is opened at device creation so it lives in the device's network namespace.
import koffi from 'koffi';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const RTM_DELLINK = 17;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const NLMSG_ERROR = 2;

interface Sys {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrlen: number): number;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  close(fd: number): number;
}

let sys: Sys | undefined;
function getSys(): Sys {
  if (!sys) {
    const lib = koffi.load('libc.so.6');
    sys = {
      socket: lib.func('int socket(int, int, int)'),
      sendto: lib.func('long sendto(int, const uint8_t *, size_t, int, const uint8_t *, uint32_t)'),
      recv: lib.func('long recv(int, _Out_ uint8_t *, size_t, int)'),
      setsockopt: lib.func('int setsockopt(int, int, int, const uint8_t *, uint32_t)'),
      close: lib.func('int close(int)'),
    } as unknown as Sys;
  }
  return sys;
}

/** A netlink socket that can delete one link; open it inside the link's namespace. */
export class LinkDeleter {
  private constructor(private fd: number) {}

  /** Opens the socket; returns -errno as a thrown { operation, errno }. */
  static open(): LinkDeleter {
    const s = getSys();
    const fd = s.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw Object.assign(new Error('netlink socket failed'), { errno: koffi.errno() });
    const timeout = new Uint8Array(16); // struct timeval { 2 s, 0 }: never wait forever for the ack
    new DataView(timeout.buffer).setBigInt64(0, 2n, true);
    s.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, timeout.length);
    return new LinkDeleter(fd);
  }

  /** Deletes link `index`; returns 0 or the errno the kernel answered (ENODEV when already gone). */
  deleteLink(index: number): number {
    if (this.fd < 0) return 9; // EBADF
    const s = getSys();
    const msg = new Uint8Array(32); // nlmsghdr + ifinfomsg
    const v = new DataView(msg.buffer);
    v.setUint32(0, msg.length, true);
    v.setUint16(4, RTM_DELLINK, true);
    v.setUint16(6, NLM_F_REQUEST | NLM_F_ACK, true);
    v.setUint32(8, 1, true);
    v.setInt32(20, index, true);
    const kernel = new Uint8Array(12);
    kernel[0] = AF_NETLINK;
    if (s.sendto(this.fd, msg, msg.length, 0, kernel, kernel.length) < 0) return koffi.errno();
    const reply = new Uint8Array(1024);
    const n = s.recv(this.fd, reply, reply.length, 0);
    if (n < 0) return koffi.errno();
    const r = new DataView(reply.buffer, 0, n);
    return n >= 20 && r.getUint16(4, true) === NLMSG_ERROR ? -r.getInt32(16, true) : 0;
  }

  close(): void {
    if (this.fd >= 0) getSys().close(this.fd);
    this.fd = -1;
  }
}
