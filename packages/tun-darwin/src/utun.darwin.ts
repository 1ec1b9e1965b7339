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
  AF_INET,
  AF_INET6,
  CTLIOCGINFO,
  EAGAIN,
  EINTR,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  FD_CLOEXEC,
  IFF_RUNNING,
  IFF_UP,
  IFNAMSIZ,
  O_NONBLOCK,
  PF_SYSTEM,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  SIOCAIFADDR,
  SIOCAIFADDR_IN6,
  SIOCGIFFLAGS,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
  SIZEOF_SOCKADDR_CTL,
  SOCK_DGRAM,
  SYSPROTO_CONTROL,
  UTUN_CONTROL_NAME,
  UTUN_DEFAULT_MTU,
  UTUN_OPT_IFNAME,
} from './constants.js';
import { UtunDevice, type UtunDeviceOptions, type UtunFd } from './device.js';
import { UtunError, UtunInputError } from './errors.js';
import { loadUtunFfiTypes } from './ffi-types.js';
import {
  decodeIfreqFlags,
  encodeCtlInfo,
  encodeIfaliasreq,
  encodeIfreqFlags,
  encodeIfreqMtu,
  encodeIn6Aliasreq,
  encodeSockaddrCtl,
  type InterfaceAddress,
  interfaceAddressFamily,
} from './structs.js';

type Koffi = Awaited<ReturnType<typeof loadKoffi>>;
type KoffiErrno = Pick<Koffi, 'errno' | 'decode'>;
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

export interface OpenUtunOptions extends UtunDeviceOptions {
  /** utunN to create; default: the kernel picks the first free unit (sc_unit 0). */
  unit?: number;
  /** `utunN` (the only names macOS gives utun devices) — the same as `unit: N`. */
  name?: string;
  /** MTU. Default 1500 (utun's own default). */
  mtu?: number;
  /** Addresses: `198.18.0.1/15`, `fd00:18::1/64`, or `{cidr, peer}` for a point-to-point peer. */
  addresses?: (string | InterfaceAddress)[];
  /** Set IFF_UP | IFF_RUNNING. Default true. */
  up?: boolean;
}

function withSocket<T>(c: Libc, family: number, use: (fd: number) => T): T {
  const fd = check(
    c,
    c.socket(family, SOCK_DGRAM, 0),
    `socket(${family === AF_INET ? 'AF_INET' : 'AF_INET6'})`,
  );
  try {
    return use(fd);
  } finally {
    c.close(fd);
  }
}

/** sc_unit for the options: 0 (first free) unless `unit` or a `utunN` name asks for N (sc_unit N + 1). */
export function utunUnitFor(options: Pick<OpenUtunOptions, 'unit' | 'name'>): number {
  let unit = options.unit;
  if (options.name !== undefined) {
    const match = /^utun(0|[1-9][0-9]{0,5})$/.exec(options.name);
    if (!match)
      throw new UtunInputError(`macOS names utun devices utunN; got ${JSON.stringify(options.name)}`);
    const fromName = Number(match[1]);
    if (unit !== undefined && unit !== fromName)
      throw new UtunInputError(`name ${options.name} and unit ${unit} disagree`);
    unit = fromName;
  }
  if (unit === undefined) return 0;
  if (!Number.isInteger(unit) || unit < 0 || unit > 0xfffffffe)
    throw new UtunInputError(`bad utun unit: ${unit}`);
  return unit + 1;
}

/** Creates and configures a utun device. Closing it (device.close()) removes the interface. */
export async function openUtun(options: OpenUtunOptions = {}): Promise<UtunDevice> {
  const mtu = options.mtu ?? UTUN_DEFAULT_MTU;
  const addresses = (options.addresses ?? []).map((a) => (typeof a === 'string' ? { cidr: a } : a));
  const families = addresses.map((a) => interfaceAddressFamily(a)); // validates before touching the system
  const minMtu = families.includes('inet6') ? 1280 : 68;
  if (!Number.isInteger(mtu) || mtu < minMtu || mtu > 65535) {
    throw new UtunInputError(
      `bad MTU ${mtu}: ${minMtu}-65535${minMtu === 1280 ? ' (IPv6 needs ≥ 1280)' : ''}`,
    );
  }
  const unit = utunUnitFor(options);
  const c = await loadLibc();
  const types = await loadUtunFfiTypes();

  const fd = check(
    c,
    c.socket(PF_SYSTEM, SOCK_DGRAM, SYSPROTO_CONTROL),
    'socket(PF_SYSTEM, SOCK_DGRAM, SYSPROTO_CONTROL)',
  );
  let wake: Int32Array | undefined;
  try {
    const info = Buffer.from(encodeCtlInfo(UTUN_CONTROL_NAME));
    check(c, c.ioctl(fd, CTLIOCGINFO, 'void *', info), 'ioctl(CTLIOCGINFO)', UTUN_CONTROL_NAME);
    const ctlId = (c.koffi.decode(info, types.ctl_info) as { ctl_id: number }).ctl_id;
    check(
      c,
      c.connect(fd, encodeSockaddrCtl(ctlId, unit), SIZEOF_SOCKADDR_CTL),
      'connect(utun)',
      `sc_unit ${unit}`,
    );
    const nameBuf = new Uint8Array(IFNAMSIZ);
    const nameLen = new Uint32Array([IFNAMSIZ]);
    check(
      c,
      c.getsockopt(fd, SYSPROTO_CONTROL, UTUN_OPT_IFNAME, nameBuf, nameLen),
      'getsockopt(UTUN_OPT_IFNAME)',
    );
    const end = nameBuf.indexOf(0);
    const name = Buffer.from(nameBuf.subarray(0, end < 0 ? nameLen[0] : end)).toString('latin1');
    setNonBlockingCloexec(c, fd);
    const index = Number(c.if_nametoindex(name));
    if (index === 0) throw new UtunError(`if_nametoindex(${name})`, c.koffi.errno());

    withSocket(c, AF_INET, (s) => {
      check(
        c,
        c.ioctl(s, SIOCSIFMTU, 'void *', encodeIfreqMtu(name, mtu)),
        'ioctl(SIOCSIFMTU)',
        `${name} ${mtu}`,
      );
      addresses.forEach((address, i) => {
        if (families[i] !== 'inet') return;
        check(
          c,
          c.ioctl(s, SIOCAIFADDR, 'void *', encodeIfaliasreq(name, address)),
          'ioctl(SIOCAIFADDR)',
          address.cidr,
        );
      });
      if (options.up ?? true) {
        const req = encodeIfreqFlags(name, 0);
        check(c, c.ioctl(s, SIOCGIFFLAGS, 'void *', req), 'ioctl(SIOCGIFFLAGS)', name);
        const flags = decodeIfreqFlags(req) | IFF_UP | IFF_RUNNING;
        check(
          c,
          c.ioctl(s, SIOCSIFFLAGS, 'void *', encodeIfreqFlags(name, flags)),
          'ioctl(SIOCSIFFLAGS)',
          name,
        );
      }
    });
    if (families.includes('inet6')) {
      withSocket(c, AF_INET6, (s) => {
        addresses.forEach((address, i) => {
          if (families[i] !== 'inet6') return;
          const req = encodeIn6Aliasreq(name, address);
          check(c, c.ioctl(s, SIOCAIFADDR_IN6, 'void *', req), 'ioctl(SIOCAIFADDR_IN6)', address.cidr);
        });
      });
    }
    wake = new Int32Array(2);
    check(c, c.pipe(wake), 'pipe');
    setNonBlockingCloexec(c, wake[0]!);
    setNonBlockingCloexec(c, wake[1]!);
    return new UtunDevice(new KoffiUtunFd(c, fd, wake[0]!, wake[1]!), { name, index, mtu }, options);
  } catch (error) {
    c.close(fd); // removes the half-configured interface
    if (wake && wake[0]! > 0) {
      c.close(wake[0]!);
      c.close(wake[1]!);
    }
    throw error;
  }
}
