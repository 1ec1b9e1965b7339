import type { Pinning, StackSockets, UdpRelayEngine } from '@ztun/packet';
import { loadLinuxLibc } from '@ztun/routing-linux';
import koffi from 'koffi';
import { loadUdpRelayEngine } from './udp-relay.linux.js';

// Linux's StackSockets for @ztun/stack: sockets that cannot loop back into the TUN. The fd is created with
// socket(2) through koffi, marked (SO_MARK, for a policy rule) and/or bound to a device (SO_BINDTODEVICE),
// then handed to Node unconnected; plus SO_LINGER, SO_REUSEADDR and SO_ERROR on fds Node holds (socket(7)).

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const SO_MARK = 36;
const SO_LINGER = 13;
const SO_REUSEADDR = 2;
const SO_ERROR = 4;

interface Libc {
  socket(domain: number, type: number, proto: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number[]): number;
  close(fd: number): number;
  strerror(errnum: number): string;
}
let libc: Libc | undefined;

function load(): Libc {
  if (!libc) {
    const lib = loadLinuxLibc();
    libc = {
      socket: lib.func('int socket(int domain, int type, int protocol)'),
      setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
      bind: lib.func('int bind(int fd, const void *addr, uint32_t len)'),
      getsockopt: lib.func(
        'int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *len)',
      ),
      close: lib.func('int close(int fd)'),
      strerror: lib.func('const char *strerror(int errnum)'),
    };
  }
  return libc;
}

function lastError(c: Libc): string {
  return c.strerror(koffi.errno());
}

/** A new, unconnected, non-blocking socket fd with SO_MARK / SO_BINDTODEVICE applied; throws a one-line error. */
function createPinnedSocket(family: 4 | 6, kind: 'tcp' | 'udp', pin: Pinning): number {
  if (pin.boundInterfaceIndex !== undefined)
    throw new Error('boundInterfaceIndex is macOS-only; use mark or bindToDevice');
  const c = load();
  const fd = c.socket(
    family === 4 ? AF_INET : AF_INET6,
    (kind === 'tcp' ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
    0,
  );
  if (fd < 0) throw new Error(`socket(): ${lastError(c)}`);
  try {
    if (pin.mark !== undefined) {
      const v = new Uint8Array(4);
      new DataView(v.buffer).setUint32(0, pin.mark >>> 0, true);
      if (c.setsockopt(fd, SOL_SOCKET, SO_MARK, v, 4) !== 0)
        throw new Error(`setsockopt(SO_MARK=${pin.mark}): ${lastError(c)}`);
    }
    if (pin.bindToDevice !== undefined) {
      const name = new TextEncoder().encode(`${pin.bindToDevice}\0`);
      if (c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length) !== 0)
        throw new Error(`setsockopt(SO_BINDTODEVICE=${pin.bindToDevice}): ${lastError(c)}`);
    }
  } catch (err) {
    c.close(fd);
    throw err;
  }
  return fd;
}

/**
 * Binds `fd` (no SO_REUSEADDR set yet) to the wildcard address and port 0 (ip(7), ipv6(7)): the kernel then
 * picks a port that no other socket holds. Throws a one-line error.
 */
function bindEphemeral(fd: number, family: 4 | 6): void {
  const c = load();
  // sockaddr_in (16 bytes) / sockaddr_in6 (28): family in host order, port 0, any address.
  const addr = new Uint8Array(family === 4 ? 16 : 28);
  new DataView(addr.buffer).setUint16(0, family === 4 ? AF_INET : AF_INET6, true);
  if (c.bind(fd, addr, addr.length) !== 0) throw new Error(`bind(port 0): ${lastError(c)}`);
}

/** The socket options @ztun/stack needs, for Linux: pass it as `sockets` to createStack and the outbounds. */
let relayEngine: UdpRelayEngine | null | undefined;

export const linuxSockets: StackSockets = {
  name: 'linux',
  /**
   * The batch UDP path (native/udp_relay.cc), loaded on first use; undefined when the addon does not load,
   * or with ZTUN_UDP_BATCH=0 in the environment (the per-datagram dgram path, for comparison).
   */
  get udpRelay(): UdpRelayEngine | undefined {
    if (relayEngine === undefined)
      relayEngine = process.env.ZTUN_UDP_BATCH === '0' ? null : (loadUdpRelayEngine() ?? null);
    return relayEngine ?? undefined;
  },
  createPinnedSocket,
  closeFd(fd) {
    load().close(fd);
  },
  bindEphemeral,
  // libuv's uv_udp_open sets SO_REUSEADDR on an adopted UDP fd.
  clearReuse: (fd) => load().setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, new Uint8Array(4), 4) === 0,
  setLingerZero(fd) {
    const v = new Uint8Array(8); // struct linger { int l_onoff; int l_linger; }
    v[0] = 1;
    return load().setsockopt(fd, SOL_SOCKET, SO_LINGER, v, 8) === 0;
  },
  takeSocketError(fd) {
    const v = new Uint8Array(4);
    if (load().getsockopt(fd, SOL_SOCKET, SO_ERROR, v, [4]) !== 0) return -1;
    return new DataView(v.buffer).getInt32(0, true);
  },
};
