// The kernel side of utun creation in the simulated XNU, behind @ztun/tun-darwin's UtunSyscalls seam
// (matched structurally): kern_control (socket(PF_SYSTEM) / CTLIOCGINFO / connect with sockaddr_ctl /
// getsockopt UTUN_OPT_IFNAME; xnu bsd/kern/kern_control.c, bsd/net/if_utun.c) and the interface ioctls
// (SIOCSIFMTU, SIOCAIFADDR, SIOCGIFFLAGS/SIOCSIFFLAGS, SIOCAIFADDR_IN6; bsd/sys/sockio.h, netinet6/in6_var.h).
// Every struct is decoded here from xnu's layouts, independently of the product's encoders, and anything
// malformed gets xnu's errno — so the bytes ztun sends are checked, not just its call order.

import { formatAddr, prefixLengthOf } from './table.js';
import type { UtunFdLike, UtunKernelSide } from './utun.js';

const E = {
  ENOENT: 2,
  ENXIO: 6,
  EBADF: 9,
  EPERM: 1,
  EBUSY: 16,
  EINVAL: 22,
  ENOTTY: 25,
  EMSGSIZE: 40,
  EAFNOSUPPORT: 47,
};
const CTLIOCGINFO = 0xc0644e03;
const SIOCSIFMTU = 0x80206934;
const SIOCAIFADDR = 0x8040691a;
const SIOCGIFFLAGS = 0xc0206911;
const SIOCSIFFLAGS = 0x80206910;
const SIOCAIFADDR_IN6 = 0x8080691a;
const UTUN_CONTROL_NAME = 'com.apple.net.utun_control';
const CTL_ID = 0x2a17;

export interface UtunKernelHooks {
  /** The running kernel's interfaces (SimulatedXnu): create, find, address, detach. */
  create(name: string): number;
  indexOf(name: string): number | undefined;
  setMtu(index: number, mtu: number): void;
  setFlags(index: number, flags: number): void;
  flags(index: number): number;
  addAddress(index: number, cidr: string): void;
  detach(index: number): void;
  root: boolean;
  /** The prepared datagram pair for the next data plane. */
  takePair(): { fd: UtunFdLike; kernel: UtunKernelSide; onClose(fn: () => void): void };
  opened(utun: { name: string; index: number; fd: UtunFdLike; kernel: UtunKernelSide }): void;
}

type Fd = { kind: 'ctl'; index?: number; name?: string; handed?: boolean } | { kind: 'inet' | 'inet6' };

const cstr = (b: Uint8Array, at: number, max: number) => {
  const s = b.subarray(at, at + max);
  const end = s.indexOf(0);
  return Buffer.from(s.subarray(0, end < 0 ? max : end)).toString('latin1');
};
const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);

/** A sockaddr_in at `at` (len 16, AF_INET 2) → its 4 address bytes, or undefined when malformed. */
function sin(b: Uint8Array, at: number): Uint8Array | undefined {
  return b[at] === 16 && b[at + 1] === 2 ? b.slice(at + 4, at + 8) : undefined;
}
/** A sockaddr_in6 at `at` (len 28, AF_INET6 30) → its 16 address bytes. */
function sin6(b: Uint8Array, at: number): Uint8Array | undefined {
  return b[at] === 28 && b[at + 1] === 30 ? b.slice(at + 8, at + 24) : undefined;
}

export function utunSyscalls(k: UtunKernelHooks) {
  const fds = new Map<number, Fd>();
  let next = 100;
  const iface = (arg: Uint8Array) => k.indexOf(cstr(arg, 0, 16));
  return {
    socket(domain: number, type: number, protocol: number): number {
      if (type !== 2) return -E.EINVAL; // SOCK_DGRAM only (utun: kern_control.c:455-460)
      const kind =
        domain === 32 && protocol === 2 ? 'ctl' : domain === 2 ? 'inet' : domain === 30 ? 'inet6' : undefined;
      if (!kind) return -E.EAFNOSUPPORT;
      fds.set(next, { kind });
      return next++;
    },
    ioctl(fd: number, request: number, arg: Uint8Array): number {
      const f = fds.get(fd);
      if (!f) return -E.EBADF;
      if (f.kind === 'ctl') {
        if (request !== CTLIOCGINFO || arg.length !== 100) return -E.EINVAL;
        if (cstr(arg, 4, 96) !== UTUN_CONTROL_NAME) return -E.ENOENT;
        new DataView(arg.buffer, arg.byteOffset).setUint32(0, CTL_ID, true);
        return 0;
      }
      const index = iface(arg);
      if (index === undefined) return -E.ENXIO;
      if (f.kind === 'inet6') {
        if (request !== SIOCAIFADDR_IN6) return -E.ENOTTY;
        const addr = arg.length === 128 ? sin6(arg, 16) : undefined;
        const mask = arg.length === 128 ? sin6(arg, 72) : undefined;
        if (!addr || !mask) return -E.EINVAL;
        k.addAddress(index, `${formatAddr(addr)}/${prefixLengthOf(mask)}`);
        return 0;
      }
      const view = new DataView(arg.buffer, arg.byteOffset, arg.length);
      switch (request) {
        case SIOCSIFMTU:
          if (arg.length !== 32) return -E.EINVAL;
          k.setMtu(index, view.getInt32(16, true));
          return 0;
        case SIOCGIFFLAGS:
          if (arg.length !== 32) return -E.EINVAL;
          view.setInt16(16, k.flags(index), true);
          return 0;
        case SIOCSIFFLAGS:
          if (arg.length !== 32) return -E.EINVAL;
          k.setFlags(index, view.getUint16(16, true));
          return 0;
        case SIOCAIFADDR: {
          const addr = arg.length === 64 ? sin(arg, 16) : undefined;
          const mask = arg.length === 64 ? arg.slice(52, 56) : undefined; // ifra_mask: sa_len may be short
          if (!addr || !mask || sin(arg, 32) === undefined) return -E.EINVAL;
          k.addAddress(index, `${addr.join('.')}/${prefixLengthOf(mask)}`);
          return 0;
        }
        default:
          return -E.ENOTTY;
      }
    },
    connect(fd: number, address: Uint8Array): number {
      const f = fds.get(fd);
      if (f?.kind !== 'ctl') return -E.EBADF;
      // kern_control.c:442-452: sc_len must be sizeof(sockaddr_ctl); AF_SYSTEM, AF_SYS_CONTROL; known id.
      if (
        address.length !== 32 ||
        address[0] !== 32 ||
        address[1] !== 32 ||
        (address[2]! | (address[3]! << 8)) !== 2
      )
        return -E.EINVAL;
      if (u32(address, 4) !== CTL_ID) return -E.ENOENT;
      if (!k.root) return -E.EPERM; // CTL_FLAG_PRIVILEGED
      const scUnit = u32(address, 8);
      let unit = scUnit - 1;
      if (scUnit === 0) for (unit = 0; k.indexOf(`utun${unit}`) !== undefined; ) unit++;
      else if (k.indexOf(`utun${unit}`) !== undefined) return -E.EBUSY;
      f.name = `utun${unit}`;
      f.index = k.create(f.name);
      return 0;
    },
    getsockopt(fd: number, level: number, name: number, value: Uint8Array): number {
      const f = fds.get(fd);
      if (f?.kind !== 'ctl' || level !== 2 || name !== 2) return -E.EINVAL;
      if (!f.name) return -E.EINVAL; // before connect (if_utun.c:2414-2424)
      if (value.length < f.name.length + 1) return -E.EMSGSIZE;
      value.set(Buffer.from(`${f.name}\0`, 'latin1'));
      return f.name.length + 1;
    },
    nonBlocking: (fd: number) => (fds.has(fd) ? 0 : -E.EBADF),
    ifNameToIndex: (name: string) => k.indexOf(name) ?? 0,
    close(fd: number): void {
      const f = fds.get(fd);
      fds.delete(fd);
      // Closing an unhanded utun socket removes its interface (and the routes through it).
      if (f?.kind === 'ctl' && f.index !== undefined && !f.handed) k.detach(f.index);
    },
    dataPlane(fd: number): UtunFdLike {
      const f = fds.get(fd);
      if (f?.kind !== 'ctl' || f.index === undefined)
        throw new Error('simulated xnu: dataPlane of an unconnected fd');
      const pair = k.takePair();
      f.handed = true;
      const index = f.index;
      pair.onClose(() => {
        fds.delete(fd);
        k.detach(index);
      });
      k.opened({ name: f.name!, index, fd: pair.fd, kernel: pair.kernel });
      return pair.fd;
    },
  };
}
