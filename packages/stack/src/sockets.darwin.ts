import koffi from 'koffi';

// macOS: sockets pinned to an interface with IP_BOUND_IF / IPV6_BOUND_IF (seed 004), so they leave through
// the physical interface even when a TUN route covers the destination.

const AF_INET = 2;
const AF_INET6 = 30;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const IPPROTO_IP = 0;
const IPPROTO_IPV6 = 41;
const IP_BOUND_IF = 25;
const IPV6_BOUND_IF = 125;
const SOL_SOCKET = 0xffff;
const SO_LINGER = 0x0080;
const SO_REUSEADDR = 0x0004;
const SO_REUSEPORT = 0x0200;
const SO_ERROR = 0x1007;

interface Libc {
  socket(domain: number, type: number, proto: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number[]): number;
  close(fd: number): number;
  strerror(errnum: number): string;
  if_nametoindex(name: string): number;
}
let libc: Libc | undefined;

function load(): Libc {
  if (!libc) {
    const lib = koffi.load('libSystem.B.dylib');
    libc = {
      socket: lib.func('int socket(int domain, int type, int protocol)'),
      setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
      bind: lib.func('int bind(int fd, const void *addr, uint32_t len)'),
      getsockopt: lib.func(
        'int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *len)',
      ),
      close: lib.func('int close(int fd)'),
      strerror: lib.func('const char *strerror(int errnum)'),
      if_nametoindex: lib.func('unsigned int if_nametoindex(const char *name)'),
    };
  }
  return libc;
}

export interface DarwinSocketPinning {
  /** Interface index (or name via bindToDevice) the socket must leave through. */
  boundInterfaceIndex?: number;
  bindToDevice?: string;
}

export function createPinnedSocketDarwin(
  family: 4 | 6,
  kind: 'tcp' | 'udp',
  pin: DarwinSocketPinning,
): number {
  const c = load();
  let index = pin.boundInterfaceIndex;
  if (index === undefined && pin.bindToDevice !== undefined) {
    index = c.if_nametoindex(pin.bindToDevice);
    if (index === 0) throw new Error(`no interface named ${pin.bindToDevice}`);
  }
  const fd = c.socket(family === 4 ? AF_INET : AF_INET6, kind === 'tcp' ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (fd < 0) throw new Error(`socket(): ${c.strerror(koffi.errno())}`);
  if (index !== undefined) {
    const v = new Uint8Array(4);
    new DataView(v.buffer).setUint32(0, index, true);
    const ok =
      family === 4
        ? c.setsockopt(fd, IPPROTO_IP, IP_BOUND_IF, v, 4)
        : c.setsockopt(fd, IPPROTO_IPV6, IPV6_BOUND_IF, v, 4);
    if (ok !== 0) {
      const msg = c.strerror(koffi.errno());
      c.close(fd);
      throw new Error(`setsockopt(IP${family === 6 ? 'V6' : ''}_BOUND_IF=${index}): ${msg}`);
    }
  }
  return fd;
}

export function closeFdDarwin(fd: number): void {
  load().close(fd);
}

/** SO_LINGER {on, 0}: close(2) then aborts the connection with a RST. False if the kernel refused. */
export function setLingerZeroDarwin(fd: number): boolean {
  const v = new Uint8Array(8); // struct linger { int l_onoff; int l_linger; }
  v[0] = 1;
  return load().setsockopt(fd, SOL_SOCKET, SO_LINGER, v, 8) === 0;
}

/** Binds `fd` to the wildcard address and port 0: the kernel picks a port no other socket holds. */
export function bindEphemeralDarwin(fd: number, family: 4 | 6): void {
  const c = load();
  // BSD sockaddr_in (16 bytes) / sockaddr_in6 (28): sin_len, sin_family, port 0, any address.
  const addr = new Uint8Array(family === 4 ? 16 : 28);
  addr[0] = addr.length;
  addr[1] = family === 4 ? AF_INET : AF_INET6;
  if (c.bind(fd, addr, addr.length) !== 0) throw new Error(`bind(port 0): ${c.strerror(koffi.errno())}`);
}

/** Clears SO_REUSEADDR and SO_REUSEPORT (libuv's uv_udp_open sets SO_REUSEPORT on macOS). */
export function clearReuseDarwin(fd: number): boolean {
  const c = load();
  const off = new Uint8Array(4);
  return (
    c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, off, 4) === 0 &&
    c.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, off, 4) === 0
  );
}

/** SO_ERROR: the socket's pending error, read and cleared; 0 = none, -1 = getsockopt failed. */
export function takeSocketErrorDarwin(fd: number): number {
  const v = new Uint8Array(4);
  if (load().getsockopt(fd, SOL_SOCKET, SO_ERROR, v, [4]) !== 0) return -1;
  return new DataView(v.buffer).getInt32(0, true);
}
