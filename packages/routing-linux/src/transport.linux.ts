import koffi from 'koffi';
import { ERRNO } from './codec/errno.js';
import { loadLinuxLibc } from './libc.linux.js';
import { type NetlinkTransport, SyscallError } from './transport.js';

// socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) through koffi. libc is loaded on first open, so
// importing this package on macOS/Windows never touches it.

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const POLLIN = 0x1;
const MSG_TRUNC = 0x20;
const MSG_DONTWAIT = 0x40;
const SOCKADDR_NL_LEN = 12;
/** Kernel dump batches are at most ~32 KiB; twice that leaves room. */
const RECV_BUFFER = 65536;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  getsockname(fd: number, addr: Uint8Array, len: Uint8Array): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, alen: number): number;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  poll(fds: Uint8Array, nfds: number, timeout: number): number;
  close(fd: number): number;
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc) return libc;
  const lib = loadLinuxLibc();
  libc = {
    socket: lib.func('int socket(int, int, int)'),
    bind: lib.func('int bind(int, const void *, uint32_t)'),
    getsockname: lib.func('int getsockname(int, void *, void *)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    sendto: lib.func('intptr_t sendto(int, const void *, uintptr_t, int, const void *, uint32_t)'),
    recv: lib.func('intptr_t recv(int, void *, uintptr_t, int)'),
    poll: lib.func('int poll(void *, uint64_t, int)'),
    close: lib.func('int close(int)'),
  };
  return libc;
}

const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function int32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, le);
  return b;
}

export class LinuxNetlinkTransport implements NetlinkTransport {
  readonly portId: number;
  private fd: number;
  private readonly c: Libc;
  private readonly rx = new Uint8Array(RECV_BUFFER);
  private readonly pollfd = new Uint8Array(8);
  private readonly kernelAddr = new Uint8Array(SOCKADDR_NL_LEN);

  /** Opens and binds the socket now, in the calling thread's current network namespace. */
  constructor() {
    if (process.platform !== 'linux') {
      throw new SyscallError(
        `rtnetlink needs Linux (this is ${process.platform}); socket`,
        ERRNO.EAFNOSUPPORT,
      );
    }
    this.c = loadLibc();
    const fd = this.c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw new SyscallError('socket(AF_NETLINK)', koffi.errno());
    this.fd = fd;
    try {
      // sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups } — pid 0: the kernel assigns our port id.
      const addr = new Uint8Array(SOCKADDR_NL_LEN);
      const v = new DataView(addr.buffer);
      v.setUint16(0, AF_NETLINK, le);
      if (this.c.bind(fd, addr, SOCKADDR_NL_LEN) !== 0) throw new SyscallError('bind', koffi.errno());
      const len = int32(SOCKADDR_NL_LEN);
      if (this.c.getsockname(fd, addr, len) !== 0) throw new SyscallError('getsockname', koffi.errno());
      this.portId = v.getUint32(4, le);
      new DataView(this.kernelAddr.buffer).setUint16(0, AF_NETLINK, le);
      // Extended acks give the kernel's reason text; capped acks stop it echoing our whole request back.
      // Both are best effort (older kernels lack them).
      this.c.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, int32(1), 4);
      this.c.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, int32(1), 4);
      this.c.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, int32(32768), 4);
      this.c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, int32(1 << 20), 4);
    } catch (err) {
      this.c.close(fd);
      this.fd = -1;
      throw err;
    }
  }

  send(message: Uint8Array): void {
    if (this.fd < 0) throw new SyscallError('sendto', ERRNO.EBADF);
    for (;;) {
      const n = this.c.sendto(this.fd, message, message.length, 0, this.kernelAddr, SOCKADDR_NL_LEN);
      if (n === message.length) return;
      const errno = n < 0 ? koffi.errno() : ERRNO.EMSGSIZE;
      if (errno !== ERRNO.EINTR) throw new SyscallError('sendto', errno);
    }
  }

  receive(timeoutMs: number): Uint8Array | undefined {
    if (this.fd < 0) throw new SyscallError('recv', ERRNO.EBADF);
    const deadline = Date.now() + timeoutMs;
    const pv = new DataView(this.pollfd.buffer);
    for (;;) {
      // Datagrams already queued are read without waiting; otherwise poll up to the deadline.
      const n = this.c.recv(this.fd, this.rx, this.rx.length, MSG_DONTWAIT | MSG_TRUNC);
      if (n >= 0) {
        if (n > this.rx.length)
          throw new SyscallError(`recv (datagram of ${n} bytes truncated)`, ERRNO.EMSGSIZE);
        return this.rx.slice(0, n);
      }
      const errno = koffi.errno();
      if (errno === ERRNO.EINTR) continue;
      if (errno !== ERRNO.EAGAIN) throw new SyscallError('recv', errno);
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      pv.setInt32(0, this.fd, le);
      pv.setInt16(4, POLLIN, le);
      pv.setInt16(6, 0, le);
      const r = this.c.poll(this.pollfd, 1, Math.min(left, 0x7fffffff));
      if (r < 0) {
        const e = koffi.errno();
        if (e !== ERRNO.EINTR) throw new SyscallError('poll', e);
      } else if (r === 0) {
        return undefined;
      }
    }
  }

  close(): void {
    if (this.fd < 0) return;
    this.c.close(this.fd);
    this.fd = -1;
  }
}
