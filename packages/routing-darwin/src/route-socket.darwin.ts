/**
 * The macOS edge of @ztun/routing-darwin: AF_ROUTE raw sockets, sysctl(NET_RT_DUMP), if_nametoindex
 * and setsockopt(IP_BOUND_IF) through koffi. Loaded only on first use. NOT yet run on a real Mac — see
 * the README; everything it sends and parses is covered by the vector tests.
 */

import type { RouteSocket, RouteSystem } from './client.js';
import {
  AF_ROUTE,
  AF_UNSPEC,
  CTL_NET,
  DarwinErrno,
  NET_RT_DUMP,
  PF_ROUTE,
  SO_RCVBUF,
  SOCK_RAW,
  SOL_SOCKET,
} from './constants.js';
import { RouteInputError, RouteSyscallError, routeErrorFromErrno } from './errors.js';
import { loadKoffi } from './ffi-types.js';
import type { IpFamily } from './ip.js';
import { boundInterfaceSocketOption } from './socket-options.js';

const POLLIN = 0x1; // xnu bsd/sys/poll.h
const MSG_DONTWAIT = 0x80; // golang/sys zerrors_darwin
const RECEIVE_BUFFER_BYTES = 1 << 20; // netbird: 1 MiB so bursts of foreign messages do not overflow

type Koffi = Awaited<ReturnType<typeof loadKoffi>>;
type KoffiErrno = Pick<Koffi, 'errno'>;
// biome-ignore lint/suspicious/noExplicitAny: koffi functions are untyped at this boundary.
export type NativeFn = ((...args: any[]) => any) & { async: (...args: any[]) => void };

/** The libc calls this module makes (exported for the Linux socketpair test of the transport). */
export interface Libc {
  koffi: KoffiErrno;
  socket: NativeFn;
  close: NativeFn;
  write: NativeFn;
  recv: NativeFn;
  poll: NativeFn;
  setsockopt: NativeFn;
  sysctl: NativeFn;
  if_nametoindex: NativeFn;
}

let libc: Libc | undefined;

async function loadLibc(): Promise<Libc> {
  if (process.platform !== 'darwin') {
    throw new Error(
      `@ztun/routing-darwin: the route-socket transport runs only on macOS (this is ${process.platform})`,
    );
  }
  if (libc) return libc;
  const koffi = await loadKoffi();
  const lib = koffi.load('/usr/lib/libSystem.B.dylib');
  const fn = (decl: string) => lib.func(decl) as unknown as NativeFn;
  libc = {
    koffi,
    socket: fn('int socket(int domain, int type, int protocol)'),
    close: fn('int close(int fd)'),
    write: fn('long write(int fd, const void *buf, size_t count)'),
    recv: fn('long recv(int fd, void *buf, size_t len, int flags)'),
    poll: fn('int poll(void *fds, unsigned int nfds, int timeout)'),
    setsockopt: fn('int setsockopt(int fd, int level, int name, const void *value, unsigned int len)'),
    sysctl: fn(
      'int sysctl(void *name, unsigned int namelen, void *oldp, void *oldlenp, void *newp, size_t newlen)',
    ),
    if_nametoindex: fn('unsigned int if_nametoindex(const char *name)'),
  };
  return libc;
}

function pollReadable(c: Libc, fd: number, timeoutMs: number): Promise<number> {
  const pfd = new Uint8Array(8); // struct pollfd { int fd; short events; short revents; }
  const view = new DataView(pfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, POLLIN, true);
  return new Promise((resolve, reject) => {
    // On koffi's worker thread, so the event loop keeps running while we wait.
    c.poll.async(pfd, 1, Math.max(0, Math.ceil(timeoutMs)), (err: Error | null, ready: number) => {
      if (err) reject(err);
      else resolve(ready);
    });
  });
}

export class DarwinRouteSocket implements RouteSocket {
  private closed = false;
  constructor(
    private readonly c: Libc,
    private readonly fd: number,
  ) {}

  async write(message: Uint8Array): Promise<void> {
    const written = Number(this.c.write(this.fd, message, message.length));
    if (written < 0) throw new RouteSyscallError(this.c.koffi.errno(), 'write', 'write(route socket)');
    if (written !== message.length) {
      throw new RouteSyscallError(DarwinErrno.EIO, 'write', `short write (${written}/${message.length})`);
    }
  }

  async read(buffer: Uint8Array, timeoutMs: number): Promise<number> {
    const ready = await pollReadable(this.c, this.fd, timeoutMs);
    if (ready <= 0) return 0;
    const n = Number(this.c.recv(this.fd, buffer, buffer.length, MSG_DONTWAIT));
    if (n >= 0) return n;
    const errno = this.c.koffi.errno();
    if (errno === DarwinErrno.EAGAIN || errno === DarwinErrno.EINTR) return 0;
    throw new RouteSyscallError(errno, 'read', 'recv(route socket)');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.c.close(this.fd); // after write and read, never before (seed 000 bug 3)
  }
}

/** The RouteSystem of this Mac, plus the interface helpers the CLI needs. */
export interface DarwinRouteSystem extends RouteSystem {
  /** if_nametoindex(3); throws RouteInputError for an unknown interface. */
  interfaceIndex(name: string): number;
  /** setsockopt(fd, IP_BOUND_IF / IPV6_BOUND_IF, index) on a socket of that family (seed 004). */
  bindSocketToInterface(fd: number, socketFamily: IpFamily, interfaceIndex: number): void;
}

export async function createDarwinRouteSystem(): Promise<DarwinRouteSystem> {
  const c = await loadLibc();
  return {
    pid: process.pid,
    async openRouteSocket() {
      const fd = Number(c.socket(PF_ROUTE, SOCK_RAW, AF_UNSPEC));
      if (fd < 0)
        throw routeErrorFromErrno(c.koffi.errno(), 'socket', `socket(AF_ROUTE=${AF_ROUTE}, SOCK_RAW)`);
      const size = new Uint8Array(4);
      new DataView(size.buffer).setInt32(0, RECEIVE_BUFFER_BYTES, true);
      c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4); // best effort, as netbird
      return new DarwinRouteSocket(c, fd);
    },
    async dumpRoutes(family: number) {
      const mib = new Int32Array([CTL_NET, PF_ROUTE, 0, family, NET_RT_DUMP, 0]);
      const lengthBox = new BigUint64Array(1);
      // The table can grow between the sizing call and the copy: ENOMEM then, so retry a few times.
      for (let attempt = 0; attempt < 5; attempt++) {
        lengthBox[0] = 0n;
        if (c.sysctl(mib, mib.length, null, lengthBox, null, 0) !== 0) {
          throw routeErrorFromErrno(c.koffi.errno(), 'sysctl', 'sysctl(NET_RT_DUMP) size');
        }
        const buffer = new Uint8Array(Number(lengthBox[0]) + 4096);
        lengthBox[0] = BigInt(buffer.length);
        if (c.sysctl(mib, mib.length, buffer, lengthBox, null, 0) === 0) {
          return buffer.subarray(0, Number(lengthBox[0]));
        }
        const errno = c.koffi.errno();
        if (errno !== DarwinErrno.ENOMEM) throw routeErrorFromErrno(errno, 'sysctl', 'sysctl(NET_RT_DUMP)');
      }
      throw routeErrorFromErrno(DarwinErrno.ENOMEM, 'sysctl', 'sysctl(NET_RT_DUMP): table kept growing');
    },
    interfaceIndex(name: string) {
      const index = Number(c.if_nametoindex(name));
      if (index === 0) throw new RouteInputError(`no such interface: ${name}`);
      return index;
    },
    bindSocketToInterface(fd: number, socketFamily: IpFamily, interfaceIndex: number) {
      const { level, option, value } = boundInterfaceSocketOption(socketFamily, interfaceIndex);
      if (c.setsockopt(fd, level, option, value, value.length) !== 0) {
        throw routeErrorFromErrno(c.koffi.errno(), 'setsockopt', `setsockopt(BOUND_IF ${interfaceIndex})`);
      }
    },
  };
}
