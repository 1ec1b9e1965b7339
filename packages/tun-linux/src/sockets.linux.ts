import type { Pinning, StackSockets, UdpRelayEngine } from '@ztun/packet';
import { loadLinuxLibc } from '@ztun/routing-linux';
import koffi from 'koffi';
import { SocketOptionError } from './errors.js';
import { nativeAddon } from './load-addon.linux.js';
import { loadUdpRelayEngine } from './udp-relay.linux.js';

// Linux's StackSockets for @ztun/stack: sockets that cannot loop back into the TUN. The fd is created with
// socket(2), marked (SO_MARK, for a policy rule) and/or bound to a device (SO_BINDTODEVICE), then handed to
// Node unconnected; plus SO_LINGER, SO_REUSEADDR and SO_ERROR on fds Node holds (socket(7)).
//
// Per TCP connection (issue 17 item 6) the pinned socket and the SO_ERROR/SO_LINGER reads are one call each
// into this package's addon (native/socket_ops.cc). Without the addon (not built: its TunError names the fix)
// the same calls go through koffi, as do the UDP-only bind and SO_REUSEADDR.

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

/** native/socket_ops.cc. */
export interface NativeSocketOps {
  /** fd ≥ 0, or -(stage << 16 | errno): stage 1 socket(2), 2 SO_MARK, 3 SO_BINDTODEVICE. */
  createPinned(family: 4 | 6, datagram: boolean, mark: number, device: string | undefined): number;
  /** SO_ERROR (≥ 0), or -errno. */
  takeError(fd: number): number;
  /** 0, or -errno. */
  lingerZero(fd: number): number;
  strerror(errno: number): string;
}

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

let ops: NativeSocketOps | null | undefined;

/** The addon's socket calls, or null when the addon does not load (or predates them): koffi then. */
export function nativeSocketOps(): NativeSocketOps | null {
  if (ops === undefined) {
    try {
      ops = (nativeAddon().exports as { socketOps?: NativeSocketOps }).socketOps ?? null;
    } catch {
      ops = null;
    }
  }
  return ops;
}

/** Test seam: forces the koffi path (null) or the addon's (undefined: load it again). */
export function useNativeSocketOps(value: NativeSocketOps | null | undefined): void {
  ops = value;
}

function fail(operation: string, errno: number, text: string): never {
  throw new SocketOptionError(operation, errno, text);
}

function optionName(stage: number, pin: Pinning): string {
  if (stage === 2) return `setsockopt(SO_MARK=${pin.mark})`;
  if (stage === 3) return `setsockopt(SO_BINDTODEVICE=${pin.bindToDevice})`;
  return 'socket()';
}

/** A new, unconnected, non-blocking socket fd with SO_MARK / SO_BINDTODEVICE applied; throws SocketOptionError. */
function createPinnedSocket(family: 4 | 6, kind: 'tcp' | 'udp', pin: Pinning): number {
  if (pin.boundInterfaceIndex !== undefined)
    throw new Error('boundInterfaceIndex is macOS-only; use mark or bindToDevice');
  const n = nativeSocketOps();
  if (n) {
    const r = n.createPinned(
      family,
      kind === 'udp',
      pin.mark === undefined ? -1 : pin.mark >>> 0,
      pin.bindToDevice,
    );
    if (r >= 0) return r;
    const errno = -r & 0xffff;
    return fail(optionName(-r >>> 16, pin), errno, n.strerror(errno));
  }
  return createPinnedSocketKoffi(family, kind, pin);
}

function createPinnedSocketKoffi(family: 4 | 6, kind: 'tcp' | 'udp', pin: Pinning): number {
  const c = load();
  const fd = c.socket(
    family === 4 ? AF_INET : AF_INET6,
    (kind === 'tcp' ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
    0,
  );
  const failed = (stage: number): never => {
    const errno = koffi.errno();
    if (fd >= 0) c.close(fd);
    return fail(optionName(stage, pin), errno, c.strerror(errno));
  };
  if (fd < 0) failed(1);
  if (pin.mark !== undefined) {
    const v = new Uint8Array(4);
    new DataView(v.buffer).setUint32(0, pin.mark >>> 0, true);
    if (c.setsockopt(fd, SOL_SOCKET, SO_MARK, v, 4) !== 0) failed(2);
  }
  if (pin.bindToDevice !== undefined) {
    const name = new TextEncoder().encode(`${pin.bindToDevice}\0`);
    if (c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length) !== 0) failed(3);
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
  if (c.bind(fd, addr, addr.length) !== 0) {
    const errno = koffi.errno();
    fail('bind(port 0)', errno, c.strerror(errno));
  }
}

let relayEngine: UdpRelayEngine | null | undefined;

/** The socket options @ztun/stack needs, for Linux: pass it as `sockets` to createStack and the outbounds. */
export const linuxSockets: StackSockets = {
  name: 'linux',
  /**
   * The batch UDP path (native/udp_relay.cc), loaded on first use; undefined when the addon does not load,
   * or with ZTUN_UDP_BATCH=0 in the environment (the per-datagram dgram path, for comparison);
   * ZTUN_UDP_GSO=0 keeps the batch path but sends each datagram as its own message (no UDP GSO groups).
   */
  get udpRelay(): UdpRelayEngine | undefined {
    if (relayEngine === undefined)
      relayEngine =
        process.env.ZTUN_UDP_BATCH === '0'
          ? null
          : (loadUdpRelayEngine({ gso: process.env.ZTUN_UDP_GSO !== '0' }) ?? null);
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
    const n = nativeSocketOps();
    if (n) return n.lingerZero(fd) === 0;
    const v = new Uint8Array(8); // struct linger { int l_onoff; int l_linger; }
    v[0] = 1;
    return load().setsockopt(fd, SOL_SOCKET, SO_LINGER, v, 8) === 0;
  },
  takeSocketError(fd) {
    const n = nativeSocketOps();
    if (n) {
      const r = n.takeError(fd);
      return r < 0 ? -1 : r;
    }
    const v = new Uint8Array(4);
    if (load().getsockopt(fd, SOL_SOCKET, SO_ERROR, v, [4]) !== 0) return -1;
    return new DataView(v.buffer).getInt32(0, true);
  },
};
