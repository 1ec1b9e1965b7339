/**
 * The macOS edge: create a utun through the kernel-control socket, configure it through AF_INET /
 * AF_INET6 datagram sockets, and poll it. koffi calls into libSystem; loaded only on first use.
 * NOT yet run on a real Mac — see the README. Every struct it passes is byte-tested on any OS.
 *
 * ioctl(2) and fcntl(2) are variadic in C; they are declared variadic here so koffi passes the extra
 * argument the way the ABI wants (Apple arm64 puts variadic arguments on the stack).
 */
import { loadKoffi } from '@ztun/routing-darwin';
import {
  EAGAIN,
  EINTR,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  FD_CLOEXEC,
  O_NONBLOCK,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
} from './constants.js';
import type { UtunDevice, UtunFd } from './device.js';
import { UtunError } from './errors.js';
import { checkUtunOptions, type OpenUtunOptions, openUtunWith, type UtunSyscalls } from './open-utun.js';

type Koffi = Awaited<ReturnType<typeof loadKoffi>>;
type KoffiErrno = Pick<Koffi, 'errno' | 'decode'>;

export type { OpenUtunOptions };
// biome-ignore lint/suspicious/noExplicitAny: koffi functions are untyped at this boundary.
export type NativeFn = ((...args: any[]) => any) & { async: (...args: any[]) => void };

/** The libc calls this module makes (exported for the Linux test of the poll engine). */
export interface Libc {
  koffi: KoffiErrno;
  socket: NativeFn;
  close: NativeFn;
  connect: NativeFn;
  getsockopt: NativeFn;
  ioctl: NativeFn;
  fcntl: NativeFn;
  read: NativeFn;
  write: NativeFn;
  poll: NativeFn;
  pipe: NativeFn;
  if_nametoindex: NativeFn;
}

let libc: Libc | undefined;

async function loadLibc(): Promise<Libc> {
  if (process.platform !== 'darwin') {
    throw new Error(`@ztun/tun-darwin: utun devices exist only on macOS (this is ${process.platform})`);
  }
  if (libc) return libc;
  const koffi = await loadKoffi();
  const lib = koffi.load('/usr/lib/libSystem.B.dylib');
  const fn = (decl: string) => lib.func(decl) as unknown as NativeFn;
  libc = {
    koffi,
    socket: fn('int socket(int domain, int type, int protocol)'),
    close: fn('int close(int fd)'),
    connect: fn('int connect(int fd, const void *addr, unsigned int len)'),
    getsockopt: fn('int getsockopt(int fd, int level, int name, void *value, void *len)'),
    ioctl: fn('int ioctl(int fd, unsigned long request, ...)'),
    fcntl: fn('int fcntl(int fd, int cmd, ...)'),
    read: fn('long read(int fd, void *buf, size_t count)'),
    write: fn('long write(int fd, const void *buf, size_t count)'),
    poll: fn('int poll(void *fds, unsigned int nfds, int timeout)'),
    pipe: fn('int pipe(void *fds)'),
    if_nametoindex: fn('unsigned int if_nametoindex(const char *name)'),
  };
  return libc;
}

function check(c: Libc, result: number, operation: string, detail?: string): number {
  if (result < 0) throw new UtunError(operation, c.koffi.errno(), detail);
  return result;
}

function setNonBlockingCloexec(c: Libc, fd: number): void {
  const flags = check(c, c.fcntl(fd, F_GETFL), 'fcntl(F_GETFL)');
  check(c, c.fcntl(fd, F_SETFL, 'int', flags | O_NONBLOCK), 'fcntl(F_SETFL, O_NONBLOCK)');
  check(c, c.fcntl(fd, F_SETFD, 'int', FD_CLOEXEC), 'fcntl(F_SETFD, FD_CLOEXEC)');
}

/** UtunFd over koffi: poll(2) on koffi's worker thread (with a wake pipe), reads/writes on the JS thread. */
export class KoffiUtunFd implements UtunFd {
  private handler: (readable: boolean, writable: boolean) => void = () => {};
  private wantRead = false;
  private wantWrite = false;
  private polling = false;
  private closed = false;
  private closeDone: (() => void) | undefined;
  private readonly pollfds = new Uint8Array(16); // two struct pollfd
  private readonly pollView = new DataView(this.pollfds.buffer);
  private readonly wakeByte = new Uint8Array(1);
  private readonly drain = new Uint8Array(64);
  private viewsOf: Uint8Array | undefined;
  private readonly views = new Map<number, Uint8Array>();

  constructor(
    private readonly c: Libc,
    private readonly fd: number,
    private readonly wakeRead: number,
    private readonly wakeWrite: number,
  ) {}

  bind(onReady: (readable: boolean, writable: boolean) => void): void {
    this.handler = onReady;
  }

  /** A cached view of buffer at offset (the device reads/writes fixed slots, so this allocates once). */
  private at(buffer: Uint8Array, offset: number): Uint8Array {
    if (offset === 0) return buffer;
    if (this.viewsOf !== buffer) {
      this.viewsOf = buffer;
      this.views.clear();
    }
    let view = this.views.get(offset);
    if (!view) {
      view = buffer.subarray(offset);
      this.views.set(offset, view);
    }
    return view;
  }

  read(buffer: Uint8Array, offset: number, length: number): number {
    const n = Number(this.c.read(this.fd, this.at(buffer, offset), length));
    return n >= 0 ? n : -this.c.koffi.errno();
  }

  write(buffer: Uint8Array, offset: number, length: number): number {
    const n = Number(this.c.write(this.fd, this.at(buffer, offset), length));
    return n >= 0 ? n : -this.c.koffi.errno();
  }

  setInterest(readable: boolean, writable: boolean): void {
    if (readable === this.wantRead && writable === this.wantWrite) return;
    this.wantRead = readable;
    this.wantWrite = writable;
    if (this.polling) this.wake();
    else this.arm();
  }

  private wake(): void {
    this.c.write(this.wakeWrite, this.wakeByte, 1);
  }

  private arm(): void {
    if (this.closed || this.polling || (!this.wantRead && !this.wantWrite)) return;
    const v = this.pollView;
    v.setInt32(0, this.fd, true);
    v.setInt16(4, (this.wantRead ? POLLIN : 0) | (this.wantWrite ? POLLOUT : 0), true);
    v.setInt16(6, 0, true);
    v.setInt32(8, this.wakeRead, true);
    v.setInt16(12, POLLIN, true);
    v.setInt16(14, 0, true);
    this.polling = true;
    this.c.poll.async(this.pollfds, 2, -1, (err: Error | null, ready: number) => {
      this.polling = false;
      if (this.closed) {
        this.closeDone?.();
        return;
      }
      const wakeEvents = v.getInt16(14, true);
      if (wakeEvents !== 0) while (Number(this.c.read(this.wakeRead, this.drain, this.drain.length)) > 0);
      if (err || ready < 0) {
        const errno = err ? 5 : this.c.koffi.errno();
        if (errno !== EINTR && errno !== EAGAIN) {
          this.handler(true, false); // let the device's read surface the error
          return;
        }
      } else {
        const events = v.getInt16(6, true);
        const readable = (events & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) !== 0;
        const writable = (events & POLLOUT) !== 0;
        if (readable || writable) this.handler(readable, writable);
      }
      this.arm();
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const finish = () => {
      this.c.close(this.fd); // closing the kernel-control socket removes the utun interface
      this.c.close(this.wakeRead);
      this.c.close(this.wakeWrite);
    };
    if (!this.polling) {
      finish();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.closeDone = () => {
        finish();
        resolve();
      };
      this.wake();
    });
  }
}

/** UtunSyscalls over libSystem (errno read right after each failing call). */
export function koffiUtunSyscalls(c: Libc): UtunSyscalls {
  const r = (result: number) => (result < 0 ? -c.koffi.errno() : result);
  return {
    socket: (domain, type, protocol) => r(c.socket(domain, type, protocol)),
    ioctl: (fd, request, arg) => r(c.ioctl(fd, request, 'void *', arg)),
    connect: (fd, address) => r(c.connect(fd, address, address.length)),
    getsockopt(fd, level, name, value) {
      const len = new Uint32Array([value.length]);
      const result = r(c.getsockopt(fd, level, name, value, len));
      return result < 0 ? result : len[0]!;
    },
    nonBlocking(fd) {
      try {
        setNonBlockingCloexec(c, fd);
        return 0;
      } catch (err) {
        return -((err as UtunError).errno ?? 5);
      }
    },
    ifNameToIndex: (name) => Number(c.if_nametoindex(name)),
    close: (fd) => void c.close(fd),
    dataPlane(fd) {
      const wake = new Int32Array(2);
      check(c, c.pipe(wake), 'pipe');
      try {
        setNonBlockingCloexec(c, wake[0]!);
        setNonBlockingCloexec(c, wake[1]!);
      } catch (err) {
        c.close(wake[0]!);
        c.close(wake[1]!);
        throw err;
      }
      return new KoffiUtunFd(c, fd, wake[0]!, wake[1]!);
    },
  };
}

/** Creates and configures a utun device (macOS). Closing it (device.close()) removes the interface. */
export async function openUtun(options: OpenUtunOptions = {}): Promise<UtunDevice> {
  checkUtunOptions(options); // bad options are refused on every OS, before libSystem is looked for
  const c = await loadLibc();
  return openUtunWith(koffiUtunSyscalls(c), options);
}

/** The UtunSyscalls of this Mac (libSystem through koffi); rejects off macOS. */
export async function loadUtunSyscalls(): Promise<UtunSyscalls> {
  return koffiUtunSyscalls(await loadLibc());
}
