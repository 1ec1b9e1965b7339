import type { Pinning, StackSockets } from '@ztun/packet';
import { loadKoffi } from '@ztun/routing-darwin';

// macOS's StackSockets for @ztun/stack: sockets pinned to an interface with IP_BOUND_IF / IPV6_BOUND_IF
// (xnu bsd/netinet/in.h, bsd/netinet6/in6.h), so they leave through the physical interface even when a TUN
// route covers the destination; plus SO_LINGER, SO_REUSEADDR/SO_REUSEPORT and SO_ERROR (xnu bsd/sys/socket.h).

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

export interface DarwinLibc {
  socket(domain: number, type: number, proto: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number[]): number;
  close(fd: number): number;
  strerror(errnum: number): string;
  if_nametoindex(name: string): number;
  errno(): number;
}

/** The StackSockets over a loaded libSystem (exported for tests, which pass a fake). */
export function socketsOver(c: DarwinLibc): StackSockets {
  const lastError = () => c.strerror(c.errno());
  return {
    name: 'darwin',
    createPinnedSocket(family: 4 | 6, kind: 'tcp' | 'udp', pin: Pinning): number {
      if (pin.mark !== undefined)
        throw new Error('mark (SO_MARK) is Linux-only; use bindToDevice or boundInterfaceIndex');
      let index = pin.boundInterfaceIndex;
      if (index === undefined && pin.bindToDevice !== undefined) {
        index = c.if_nametoindex(pin.bindToDevice);
        if (index === 0) throw new Error(`no interface named ${pin.bindToDevice}`);
      }
      const fd = c.socket(family === 4 ? AF_INET : AF_INET6, kind === 'tcp' ? SOCK_STREAM : SOCK_DGRAM, 0);
      if (fd < 0) throw new Error(`socket(): ${lastError()}`);
      if (index !== undefined) {
        const v = new Uint8Array(4);
        new DataView(v.buffer).setUint32(0, index, true);
        const ok =
          family === 4
            ? c.setsockopt(fd, IPPROTO_IP, IP_BOUND_IF, v, 4)
            : c.setsockopt(fd, IPPROTO_IPV6, IPV6_BOUND_IF, v, 4);
        if (ok !== 0) {
          const msg = lastError();
          c.close(fd);
          throw new Error(`setsockopt(IP${family === 6 ? 'V6' : ''}_BOUND_IF=${index}): ${msg}`);
        }
      }
      return fd;
    },
    closeFd(fd) {
      c.close(fd);
    },
    bindEphemeral(fd, family) {
      // BSD sockaddr_in (16 bytes) / sockaddr_in6 (28): sin_len, sin_family, port 0, any address.
      const addr = new Uint8Array(family === 4 ? 16 : 28);
      addr[0] = addr.length;
      addr[1] = family === 4 ? AF_INET : AF_INET6;
      if (c.bind(fd, addr, addr.length) !== 0) throw new Error(`bind(port 0): ${lastError()}`);
    },
    // libuv's uv_udp_open sets SO_REUSEPORT (and SO_REUSEADDR) on an adopted UDP fd on macOS.
    clearReuse(fd) {
      const off = new Uint8Array(4);
      return (
        c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, off, 4) === 0 &&
        c.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, off, 4) === 0
      );
    },
    setLingerZero(fd) {
      const v = new Uint8Array(8); // struct linger { int l_onoff; int l_linger; }
      v[0] = 1;
      return c.setsockopt(fd, SOL_SOCKET, SO_LINGER, v, 8) === 0;
    },
    takeSocketError(fd) {
      const v = new Uint8Array(4);
      if (c.getsockopt(fd, SOL_SOCKET, SO_ERROR, v, [4]) !== 0) return -1;
      return new DataView(v.buffer).getInt32(0, true);
    },
  };
}

let loaded: Promise<StackSockets> | undefined;

/**
 * The socket options @ztun/stack needs, for macOS: pass the result as `sockets` to createStack and the
 * outbounds. Async because koffi and libSystem load on first call (importing this package loads neither);
 * rejects off macOS.
 */
export function loadDarwinSockets(): Promise<StackSockets> {
  loaded ??= (async () => {
    const koffi = await loadKoffi();
    let lib: ReturnType<typeof koffi.load>;
    try {
      lib = koffi.load('libSystem.B.dylib');
    } catch (err) {
      throw new Error(
        `darwin sockets: cannot load libSystem.B.dylib (macOS only): ${(err as Error).message}`,
      );
    }
    return socketsOver({
      socket: lib.func('int socket(int domain, int type, int protocol)'),
      setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
      bind: lib.func('int bind(int fd, const void *addr, uint32_t len)'),
      getsockopt: lib.func(
        'int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *len)',
      ),
      close: lib.func('int close(int fd)'),
      strerror: lib.func('const char *strerror(int errnum)'),
      if_nametoindex: lib.func('unsigned int if_nametoindex(const char *name)'),
      errno: () => koffi.errno(),
    });
  })();
  loaded.catch(() => {
    loaded = undefined; // a later call may try again
  });
  return loaded;
}
